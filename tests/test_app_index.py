"""The app-kept list index on the real FerretDB: paging both ways in every declared sort,
exact lookup, prefix search, concurrent writers, and bucket splits."""

from __future__ import annotations

import random
import threading

import pytest

from alko_desk.storage import app_index
from alko_desk.storage.app_index import (
    BucketListIndex,
    IndexEntry,
    ListSpec,
    NativeListIndex,
    Where,
)

SPEC = ListSpec("things", ("name", "price"), searchable=True, exact=("code",))


def _entry(n: int, name: str, price: int, *, tag: str = "row") -> IndexEntry:
    return IndexEntry(
        id=f"id{n:05d}",
        keys={"name": name, "price": f"{price:08d}"},
        payload=[name, price, tag],
        words=tuple(name.split()),
        exact={"code": [f"C{n}"]},
    )


@pytest.fixture(params=["buckets", "native"])
def list_index(request, store):
    """Both implementations, on the test database: the app-kept buckets (FerretDB's) and the
    native-index one (MongoDB's), whose queries FerretDB answers too, slowly but correctly."""
    kind = BucketListIndex if request.param == "buckets" else NativeListIndex

    def make(store, spec):
        index = kind(store, spec)
        index.ensure()
        return index

    return make


@pytest.fixture
def small_buckets(monkeypatch):
    # Small buckets, so a few hundred entries exercise many buckets and splits.
    monkeypatch.setattr(app_index, "BUCKET_TARGET", 8)
    monkeypatch.setattr(app_index, "BUCKET_MAX", 16)


def _expected(entries: list[IndexEntry], sort: str) -> list[str]:
    return [e.id for e in sorted(entries, key=lambda e: (e.keys[sort], e.id))]


def test_pages_in_every_sort_both_ways_match_a_full_sort(store, small_buckets, list_index):
    rng = random.Random(3)
    entries = [
        _entry(n, f"{rng.choice('abcdefgh')}{rng.randrange(1000):03d} x", rng.randrange(500))
        for n in range(300)
    ]
    index = list_index(store, SPEC)
    index.put_many(entries[:200])  # a bulk build, then a merge into existing buckets
    index.put_many(entries[200:])
    assert index.count() == 300
    for sort in SPEC.sorts:
        expected = _expected(entries, sort)
        for start in (0, 7, 150, 290):
            assert [i for i, _ in index.page(sort, start, 25)] == expected[start : start + 25]
            desc = list(reversed(expected))
            assert [i for i, _ in index.page(sort, start, 25, descending=True)] == desc[
                start : start + 25
            ]
    assert index.page("name", 300, 10) == [] and index.page("name", 0, 10, descending=True)


def test_a_records_position_is_its_row_in_every_sort_both_ways(store, small_buckets, list_index):
    rng = random.Random(5)
    entries = [_entry(n, f"{rng.choice('abc')}{n % 7} y", rng.randrange(50)) for n in range(60)]
    index = list_index(store, SPEC)
    index.put_many(entries)
    for sort in SPEC.sorts:
        expected = _expected(entries, sort)
        for row in (0, 13, 59):
            assert index.position(expected[row], sort) == row
            assert index.position(expected[row], sort, descending=True) == 59 - row
    assert index.position("id99999", "name") == -1


def test_changing_a_key_moves_the_record_and_removing_it_leaves_no_trace(
    store, small_buckets, list_index
):
    entries = [_entry(n, f"name{n:03d}", n) for n in range(100)]
    index = list_index(store, SPEC)
    index.put_many(entries)
    moved = _entry(50, "aaa first", 999, tag="edited")
    index.put(moved)
    assert index.page("name", 0, 1) == [("id00050", ["aaa first", 999, "edited"])]
    assert index.page("price", 0, 1, descending=True)[0][0] == "id00050"
    assert index.count() == 100
    assert [i for i, _ in index.search(["name05"])] == [f"id{n:05d}" for n in range(51, 60)]
    index.remove("id00050")
    assert index.count() == 99
    assert index.search(["aaa"]) == [] and index.lookup("code", "C50") == []
    assert "id00050" not in [i for i, _ in index.page("name", 0, 200)]


def test_exact_lookup_and_prefix_search_in_any_word_order(store, list_index):
    index = list_index(store, SPEC)
    index.put_many(
        [
            _entry(1, "zeljko kovacevic", 10),
            _entry(2, "zeljka kovac", 20),
            _entry(3, "ivan petrov", 30),
        ]
    )
    assert [i for i, _ in index.search(["kov", "zelj"])] == ["id00002", "id00001"]  # name order
    assert [i for i, _ in index.search(["zeljko", "kov"])] == ["id00001"]
    assert index.search(["petrova"]) == []
    assert index.lookup("code", "C3") == [("id00003", ["ivan petrov", 30, "row"])]
    assert index.lookup("code", "C") == []  # exact, not a prefix
    assert index.get("id00003") == ["ivan petrov", 30, "row"] and index.get("nope") is None


def test_writing_the_same_entries_again_changes_nothing(store, list_index):
    index = list_index(store, SPEC)
    entries = [_entry(n, f"n{n}", n) for n in range(20)]
    index.put_many(entries)
    docs = sorted(d["_id"] for d in store.collection("ix_things").find({}))
    index.put_many(entries)  # a retried write
    assert sorted(d["_id"] for d in store.collection("ix_things").find({})) == docs
    assert index.count() == 20


def test_two_desks_writing_at_once_lose_nothing(store, small_buckets, list_index):
    desks = [list_index(store, SPEC), list_index(store, SPEC)]
    errors = []

    def write(desk, first):
        try:
            for n in range(first, first + 25):
                desk.put(_entry(n, f"w{n:03d}", n))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(d, i * 100)) for i, d in enumerate(desks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reader = list_index(store, SPEC)
    ids = [i for i, _ in reader.page("name", 0, 100)]
    assert len(ids) == 50 and reader.count() == 50
    assert ids == sorted(ids, key=lambda i: f"w{int(i[2:]):03d}")


def test_a_reader_never_writes(store, list_index):
    index = list_index(store, SPEC)
    index.put_many([_entry(n, f"n{n}", n) for n in range(10)])
    before = sorted(
        (d["_id"], bytes(d.get("e", b"")) or d.get("n"))
        for d in store.collection("ix_things").find({})
    )
    fresh = list_index(store, SPEC)
    fresh.page("name", 0, 5, descending=True)
    fresh.search(["n1"])
    fresh.count()
    after = sorted(
        (d["_id"], bytes(d.get("e", b"")) or d.get("n"))
        for d in store.collection("ix_things").find({})
    )
    assert after == before


def test_a_sort_whose_keys_start_with_a_value_pages_as_a_filter(store, list_index):
    spec = ListSpec("cars", ("status_price",))
    index = list_index(store, spec)
    cars = [("sold", 9), ("available", 30), ("available", 10), ("reserved", 5), ("available", 20)]
    index.put_many(
        IndexEntry(f"car{n}", {"status_price": f"{status}\x1e{price:06d}"}, [status, price])
        for n, (status, price) in enumerate(cars)
    )
    available = "available\x1e"
    assert index.count("status_price", available) == 3 and index.count() == 5
    assert [p[1] for _, p in index.page("status_price", 0, 10, within=available)] == [10, 20, 30]
    assert [p[1] for _, p in index.page("status_price", 1, 1, within=available)] == [20]
    desc = index.page("status_price", 0, 2, descending=True, within=available)
    assert [p[1] for _, p in desc] == [30, 20]
    assert index.page("status_price", 0, 5, within="scrapped\x1e") == []
    assert index.count("status_price", "reserved\x1e") == 1


def test_a_bulk_load_merges_into_the_index_in_one_commit(store, small_buckets, list_index):
    rng = random.Random(11)
    entries = [
        _entry(n, f"{rng.choice('abcdefgh')}{rng.randrange(1000):03d} x", rng.randrange(500))
        for n in range(300)
    ]
    index = list_index(store, SPEC)
    index.put_many(entries[:100])
    edited = [_entry(n, f"zz{n:03d} edited", 900 + n, tag="edited") for n in range(0, 100, 10)]
    final = {e.id: e for e in entries} | {e.id: e for e in edited}
    index.bulk_load(edited + entries[100:])  # new records and replaced ones, unsorted
    assert index.count() == 300
    for sort in SPEC.sorts:
        expected = _expected(list(final.values()), sort)
        assert [i for i, _ in index.page(sort, 0, 300)] == expected
        assert [i for i, _ in index.page(sort, 0, 300, descending=True)] == expected[::-1]
    assert [i for i, _ in index.search(["zz01"])] == ["id00010"]
    assert index.lookup("code", "C10") == [("id00010", ["zz010 edited", 910, "edited"])]
    old_word = entries[10].words[0]
    assert "id00010" not in [i for i, _ in index.search([old_word])]
    if isinstance(index, BucketListIndex):  # every bucket stored is one the newest root uses
        root = index._root()
        used = {b[0] for buckets in root.trees.values() for b in buckets}
        stored = {d["_id"] for d in store.collection("ix_things").find({}) if d["_id"][:2] == "b:"}
        assert stored == used and root.number == 2  # the put_many, then the bulk load


def test_a_small_bulk_load_changes_only_the_buckets_it_touches(store, small_buckets, list_index):
    index = list_index(store, SPEC)
    index.bulk_load(_entry(n, f"name{n:03d}", n) for n in range(200))
    assert [i for i, _ in index.page("price", 0, 3, descending=True)] == [
        "id00199",
        "id00198",
        "id00197",
    ]
    if not isinstance(index, BucketListIndex):
        return
    before = {d["_id"] for d in store.collection("ix_things").find({}) if d["_id"][:2] == "b:"}
    index.bulk_load([_entry(500, "name500", 500)])  # tiny beside the index: put_many's path
    after = {d["_id"] for d in store.collection("ix_things").find({}) if d["_id"][:2] == "b:"}
    assert len(after - before) < 10 and len(before & after) > len(before) // 2
    assert index.count() == 201 and index.page("name", 200, 1)[0][0] == "id00500"


# ---- declared filters: equality sub-trees and ranged sorts ------------------------------

FILTERED = ListSpec(
    "stock", ("name", "price", "day"), equal=("colour", "size"), ranges=("price", "day")
)
COLOURS = ("red", "blue", "green")


def _stock_entry(n: int, colour: str, size: str, price: int, day: int, tag: str = "") -> IndexEntry:
    return IndexEntry(
        id=f"s{n:04d}",
        keys={"name": f"n{(n * 37) % 1000:03d}", "price": f"{price:06d}", "day": f"{day:03d}"},
        payload=[colour, size, price, day, tag],
        equal={"colour": colour, "size": size},
    )


def _stock(n_entries: int = 240) -> list[IndexEntry]:
    rng = random.Random(11)
    return [
        _stock_entry(
            n,
            rng.choice(COLOURS) if n % 9 else "red",  # red the common one, blue/green rarer
            rng.choice(("S", "L")),
            rng.randrange(200),
            n % 60,
        )
        for n in range(n_entries)
    ]


def _matching(entries, where: Where) -> list[IndexEntry]:
    def ok(e: IndexEntry) -> bool:
        if any(e.equal[f] != v for f, v in where.equal.items()):
            return False
        for sort, (lo, hi) in where.ranges.items():
            if (lo and e.keys[sort] < lo) or (hi and e.keys[sort] >= hi):
                return False
        return where.keep is None or where.keep(e.payload)

    return [e for e in entries if ok(e)]


WHERES = [
    Where({"colour": "blue"}),
    Where({"colour": "red", "size": "L"}),
    Where(ranges={"price": ("000050", "000120")}),
    Where({"size": "S"}, {"price": ("", "000080")}),
    Where({"colour": "green"}, {"price": ("000030", ""), "day": ("010", "040")}),
    Where({"colour": "red", "size": "S"}, {"day": ("020", "021")}),
    Where({"colour": "red"}, keep=lambda p: p[2] % 3 == 0),
    Where({"colour": "purple"}),  # no such value: an empty list, not an error
]


def test_filters_page_in_every_sort_both_ways_across_bucket_boundaries(
    store, small_buckets, list_index
):
    entries = _stock()
    index = list_index(store, FILTERED)
    index.put_many(entries[:150])  # a bulk build, then a merge
    index.put_many(entries[150:])
    native = isinstance(index, NativeListIndex)  # slow on FerretDB: fewer pages there
    for where in WHERES:
        matching = _matching(entries, where)
        assert index.count(where=where) == len(matching), where
        for sort in FILTERED.sorts:
            expected = _expected(matching, sort)
            for desc in (False, True):
                order = list(reversed(expected)) if desc else expected
                starts = (5,) if native else (0, 5, 13, len(order) - 3)
                for start in starts:  # pages that straddle buckets
                    got = index.page(sort, max(0, start), 7, desc, where=where)
                    assert [i for i, _ in got] == order[max(0, start) : max(0, start) + 7], (
                        where,
                        sort,
                        desc,
                        start,
                    )


def test_ranges_at_every_bucket_edge_match_a_full_scan(store, small_buckets, list_index):
    # prices 0..99 in order: with 8-entry buckets every tenth price or so is a bucket's
    # first key, so bounds land on, just before and just after each edge
    entries = [_stock_entry(n, COLOURS[n % 3], "S", n, n % 7) for n in range(100)]
    index = list_index(store, FILTERED)
    index.put_many(entries)
    # the native index answers through FerretDB's full scans: fewer cases there
    native = isinstance(index, NativeListIndex)
    for lo in range(0, 101, 25 if native else 3):
        for hi in (lo, lo + 8, 200) if native else (lo, lo + 1, lo + 8, lo + 17, 200):
            where = Where(ranges={"price": (f"{lo:06d}", f"{hi:06d}")})
            expected = [e.id for e in entries if lo <= int(e.keys["price"]) < hi]
            assert index.count(where=where) == len(expected), (lo, hi)
            assert [i for i, _ in index.page("price", 0, 200, where=where)] == expected
            got = index.page("price", 0, 200, descending=True, where=where)
            assert [i for i, _ in got] == expected[::-1]
            # the same range read while walking another sort (bounds from bucket summaries)
            by_day = Where({"colour": "red"}, {"price": (f"{lo:06d}", f"{hi:06d}")})
            wanted = _expected(_matching(entries, by_day), "day")
            assert [i for i, _ in index.page("day", 0, 200, where=by_day)] == wanted
            assert index.count(where=by_day) == len(wanted)


def test_an_edit_moves_a_record_between_filter_values(store, small_buckets, list_index):
    entries = _stock(80)
    index = list_index(store, FILTERED)
    index.put_many(entries)
    blue, red = Where({"colour": "blue"}), Where({"colour": "red"})
    red_before, blue_before = index.count(where=red), index.count(where=blue)
    moved = next(e for e in entries if e.equal["colour"] == "red")
    index.put(_stock_entry(int(moved.id[1:]), "blue", "L", 199, 59, tag="edited"))
    assert index.count(where=red) == red_before - 1
    assert index.count(where=blue) == blue_before + 1
    assert moved.id not in [i for i, _ in index.page("price", 0, 500, where=red)]
    top = index.page("price", 0, 1, descending=True, where=blue)
    assert top == [(moved.id, ["blue", "L", 199, 59, "edited"])]
    pricey = Where({"colour": "blue", "size": "L"}, {"price": ("000199", "")})
    assert [i for i, _ in index.page("name", 0, 10, where=pricey)] == [moved.id]
    index.remove(moved.id)
    assert index.count(where=blue) == blue_before
    assert index.page("name", 0, 10, where=pricey) == []


def test_a_filter_that_is_not_declared_is_refused(store, list_index):
    index = list_index(store, FILTERED)
    index.put(_stock_entry(1, "red", "S", 5, 5))
    with pytest.raises(ValueError, match="no filter on weight"):
        index.page("name", 0, 10, where=Where({"weight": "heavy"}))
    with pytest.raises(ValueError, match="no filter on name"):
        index.count(where=Where(ranges={"name": ("a", "b")}))


def test_filtered_reads_never_write(store, small_buckets, list_index):
    index = list_index(store, FILTERED)
    index.put_many(_stock(60))

    def snapshot():
        docs = store.collection("ix_stock").find({})
        return sorted((d["_id"], repr(sorted(d.items()))) for d in docs)

    before = snapshot()
    fresh = list_index(store, FILTERED)
    for where in WHERES:
        fresh.count(where=where)
        fresh.page("day", 3, 5, True, where=where)
    assert snapshot() == before


def test_a_filtered_first_page_reads_a_few_buckets_not_the_list(store, small_buckets):
    """Cost near a page: a rare value's first page in any sort, with a range on another
    sort, reads the root, the sub-tree's buckets it needs and no others."""
    index = BucketListIndex(store, FILTERED)
    entries = _stock(400)
    index.put_many(entries)
    index.clear_cache()
    reads: list[str] = []
    original = index._coll.find_one

    def counting(query, *args, **kwargs):
        reads.append(query["_id"])
        return original(query, *args, **kwargs)

    index._coll.find_one = counting
    where = Where({"colour": "green", "size": "L"}, {"price": ("000100", "")})
    rows = index.page("name", 0, 5, where=where)
    total = index.count(where=where)
    assert len(rows) == 5 and total == len(_matching(entries, where))
    buckets = [r for r in reads if r.startswith("b:")]
    all_buckets = sum(len(b) for b in index._root().trees.values())
    assert len(buckets) <= 12 < all_buckets // 4, (len(buckets), all_buckets)


def test_buckets_written_with_inline_payloads_are_read_and_rewritten(
    store, small_buckets, monkeypatch
):
    """Indexes written before payloads had their own blob (clients, invoices) stay readable,
    and their buckets take the new shape as writes touch them."""

    def old_shape(piece):  # the former writer: payloads inline, as objects
        return {"e": app_index._pack([[e[0], e[1], app_index._load(e[2]), *e[3:]] for e in piece])}

    monkeypatch.setattr(app_index, "_pack_bucket", old_shape)
    entries = [_entry(n, f"name{n:03d}", n) for n in range(40)]
    BucketListIndex(store, SPEC).put_many(entries)
    monkeypatch.undo()
    index = BucketListIndex(store, SPEC)
    assert [i for i, _ in index.page("price", 0, 40)] == [e.id for e in entries]
    assert index.lookup("code", "C7") == [("id00007", ["name007", 7, "row"])]
    index.put(_entry(7, "name007", 7, tag="edited"))
    assert index.get("id00007") == ["name007", 7, "edited"]
    assert index.search(["name00"])[:2] == [("id00000", ["name000", 0, "row"])] + [
        ("id00001", ["name001", 1, "row"])
    ]
    shapes = {"p" in d for d in store.collection("ix_things").find({}) if d["_id"][:2] == "b:"}
    assert shapes == {True, False}  # the touched buckets were re-packed, the others kept


def test_a_bulk_load_into_a_filtered_list_keeps_its_sub_trees_and_summaries(
    store, small_buckets, list_index
):
    entries = _stock()
    index = list_index(store, FILTERED)
    index.put_many(entries[:40])
    edited = [_stock_entry(n, "green", "L", 199, 59, tag="edited") for n in range(0, 40, 8)]
    index.bulk_load(edited + entries[40:])
    final = list({e.id: e for e in [*entries, *edited]}.values())
    for where in WHERES[:6]:
        matching = _matching(final, where)
        assert index.count(where=where) == len(matching), where
        for sort in FILTERED.sorts:
            got = index.page(sort, 3, 9, where=where)
            assert [i for i, _ in got] == _expected(matching, sort)[3:12], (where, sort)


def test_a_warm_page_costs_one_id_read_and_still_sees_another_desks_write(store, monkeypatch):
    # Scrolling reads the root for every page: while nothing changed, one `_id` read (is the
    # next root number claimed?) answers it; a write by another desk is seen at once.
    reader, writer = BucketListIndex(store, SPEC), BucketListIndex(store, SPEC)
    writer.put_many([_entry(n, f"name{n:03d}", n) for n in range(50)])
    assert len(reader.page("name", 0, 10)) == 10  # cold: head, root, bucket
    reads: list[dict] = []
    find_one = reader._coll.find_one
    monkeypatch.setattr(
        reader._coll, "find_one", lambda f, *a, **k: reads.append(f) or find_one(f, *a, **k)
    )
    reader.page("name", 10, 10)
    assert len(reads) == 1 and reads[0]["_id"].startswith("root:")  # the next number: unclaimed
    writer.put(_entry(99, "aaa first", 1))
    assert reader.page("name", 0, 1)[0][0] == "id00099"
    assert reader.count() == 51


def test_a_filtered_read_decodes_only_the_trees_it_walks(store, small_buckets):
    """The root keeps each tree apart: a filtered page and its count decode the trees they
    walk (a sub-tree and a ranged sort), not the summaries of every tree of the list."""
    index = BucketListIndex(store, FILTERED)
    entries = _stock(300)
    index.put_many(entries)
    index.clear_cache()
    where = Where({"colour": "blue", "size": "L"}, {"day": ("010", "030")})
    assert [i for i, _ in index.page("price", 0, 6, True, where=where)] == (
        _expected(_matching(entries, where), "price")[::-1][:6]
    )
    assert index.count(where=where) == len(_matching(entries, where))
    root = index._root()
    trees = len(root.names())  # 3 sorts x (the sort, 3 colours, 2 sizes) + by id
    assert root.decoded <= 4 < trees == 19, (root.decoded, trees)


def test_roots_of_the_former_shape_are_read_and_the_next_write_takes_the_new_one(
    store, small_buckets
):
    """An index committed before roots kept their trees apart (every tree in one blob)
    pages and counts as before; its next commit stores the new shape."""
    entries = _stock(120)
    BucketListIndex(store, FILTERED).put_many(entries)
    coll = store.collection("ix_stock")
    number = int(coll.find_one({"_id": "head"})["n"])
    trees = BucketListIndex(store, FILTERED)._root().trees
    coll.replace_one({"_id": f"root:{number}"}, {"t": app_index._pack(trees)})
    index = BucketListIndex(store, FILTERED)
    where = WHERES[4]
    assert index.count(where=where) == len(_matching(entries, where))
    got = index.page("day", 0, 50, where=where)
    assert [i for i, _ in got] == _expected(_matching(entries, where), "day")
    edited = _stock_entry(7, "green", "L", 199, 59, tag="edited")
    index.put(edited)
    stored = coll.find_one({"_id": f"root:{number + 1}"})
    assert "h" in stored and "t" not in stored
    final = [edited if e.id == edited.id else e for e in entries]
    fresh = BucketListIndex(store, FILTERED)
    assert fresh._root().trees == index._root().trees
    for where in WHERES[:6]:
        assert fresh.count(where=where) == len(_matching(final, where)), where
        got = fresh.page("name", 0, 200, where=where)
        assert [i for i, _ in got] == _expected(_matching(final, where), "name"), where
    fresh.remove_many(e.id for e in final)  # a root with no tree left reads as empty
    assert BucketListIndex(store, FILTERED).count(where=WHERES[0]) == 0


def test_an_older_state_of_a_record_never_replaces_a_newer_one(store, list_index):
    """A desk that lost the commit race plans again with what it read before: the listed row
    stays the newer one (its revision decides), and an unversioned put still replaces."""
    from dataclasses import replace

    index = list_index(store, SPEC)
    first = replace(_entry(1, "ana babić", 100, tag="reserved"), version=3)
    index.put(first)
    index.put(replace(_entry(1, "ana babić", 90, tag="in stock"), version=2))  # the older state
    assert index.get(first.id) == first.payload
    assert [i for i, _ in index.page("price", 0, 5)] == [first.id]
    assert index.page("price", 0, 5)[0][1] == first.payload
    newer = replace(_entry(1, "ana babić", 80, tag="sold"), version=4)
    index.put(newer)
    index.put(replace(newer, version=4))  # the same state again changes nothing
    assert index.get(first.id) == newer.payload and index.count() == 1
    index.bulk_load([replace(_entry(2, "zora anić", 70), version=1)])
    index.put(replace(_entry(1, "ana babić", 60, tag="delivered"), version=None))
    assert index.get(first.id) == ["ana babić", 60, "delivered"]
    index.remove(first.id)
    index.put(replace(_entry(1, "ana babić", 50), version=1))  # removed, then listed anew
    assert index.get(first.id) == ["ana babić", 50, "row"] and index.count() == 2
