"""One secondary index for every big list: exact lookup, prefix search and paging in any
declared sort, both directions, at a cost proportional to the page.

An entity declares a `ListSpec`: its sorts, whether its words are prefix-searchable, its
exact-lookup fields. For each record it hands the index an `IndexEntry` (its sort keys,
words, exact values and the row payload the list shows), and gets back `(id, payload)`
pairs in the order asked for.

**On MongoDB** (`NativeListIndex`) every entry is one document of `ix_<name>` with a native
index per declared sort and field; pages are `find().sort().skip().limit()`.

**On FerretDB** (`BucketListIndex`), whose every filter, sort, count or skip other than an
`_id` lookup reads the whole collection, the application keeps the order itself, in a
two-level structure reached only by `_id`:

- *trees*: one per sort (`s:name`), one for words (`w`), one per exact field (`x:email`),
  and one by record id (`id`) that remembers where each record's entries are;
- *buckets*: documents of a few hundred entries `[key, id, payload, default sort key]`
  of one tree, sorted by key, packed into one compressed blob (FerretDB spends ~30 µs per
  returned document, so a page costs one or two documents, not a hundred);
- a *root* document listing every tree's buckets with their first key and count: each
  tree's list packed apart, with every tree's size beside them, so that a read decodes
  only the trees it walks (a filtered list has hundreds of sub-trees).

*Filters* (`ListSpec.equal`, `ListSpec.ranges`, asked through a `Where`): each equality
field's value gets a sub-tree per sort (`q:<sort>\x1f<field>\x1f<value>`), so a filtered
page is a page of the rarest asked value's sub-tree; the other conditions are checked per
entry, on the equality values and ranged keys every entry of a filtered list carries. The
root keeps, for each bucket of such a list, how many entries hold each equality value and
the least and greatest key of each ranged sort: buckets that cannot match are skipped
unread, and most counts come from the root alone. A page stops reading once it is filled.

Buckets keep their payloads apart from their keys (two blobs), so that writes re-pack
them without parsing and reads parse only the rows they return.

Buckets and roots are immutable: a write builds the buckets it changes under new ids and
then claims the next root number by inserting `root:<n+1>` (a unique `_id`, so the insert
is the compare-and-set: a desk that lost the race deletes its buckets and tries again).
One root commit changes every tree of an entity at once, so sorts, words and counts never
disagree, and readers never see half a write. Readers cache buckets by id (an id is never
reused) and roots by number; reads never write. Superseded buckets are deleted after the
commit (a reader that meets a deleted bucket reads the new root); a superseded root becomes
a small stub, so that its number can never be claimed again.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Generic, TypeVar

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, DeleteOne, ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from alko_desk.storage.mongo import Store, repository, upsert_one

SEP = "\x1f"  # between a key and the record id: sorts below every key character we produce
TOP = "\U0010ffff"
BUCKET_TARGET = 400  # entries per bucket when built or split
BUCKET_MAX = 800  # a bucket this big is split in two on the next write
CACHE_BYTES = 32 * 1024 * 1024  # packed buckets kept per index (100,000 clients: ~all)
DECODED_BUCKETS = 8  # decoded ones: a page and its neighbours
BULK_RATIO = 64  # bulk_load rebuilds the trees unless the index is this many times bigger
IO_THREADS = 4  # `_id` reads of one commit sent in parallel

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _io_pool() -> ThreadPoolExecutor:
    """A few threads shared by every index, for the `_id` round trips of one commit."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="list-index-io")
        return _POOL


@dataclass(frozen=True)
class ListSpec:
    """What an entity declares about its list."""

    name: str  # "clients": its index lives in `ix_clients`
    sorts: tuple[str, ...]  # sort names; the first is the default order (also of search results)
    searchable: bool = False  # prefix search over `IndexEntry.words`
    exact: tuple[str, ...] = ()  # exact-lookup fields
    # equality filters on fields of few values (a status, a make): each (value, sort) gets
    # its own sub-tree, so a filtered page in any sort is a page of that sub-tree
    equal: tuple[str, ...] = ()
    # sorts whose keys a filter may bound (price from..to, arrival date): a range on the
    # requested sort is a slice; on another sort, buckets are skipped by their min/max keys
    ranges: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        return bool(self.equal or self.ranges)

    @property
    def default_sort(self) -> str:
        return self.sorts[0]


@dataclass(frozen=True)
class IndexEntry:
    """What the index holds for one record."""

    id: str
    keys: Mapping[str, str]  # sort name -> key; keys compare as Python strings (see text.sort_key)
    payload: Any  # JSON-serialisable row data, returned as stored
    words: tuple[str, ...] = ()  # folded name words, for prefix search
    exact: Mapping[str, Sequence[str]] = field(default_factory=dict)  # field -> values
    equal: Mapping[str, str] = field(default_factory=dict)  # equality field -> its value
    # The record's revision, where it has one: a put older than the entry listed is dropped
    # (a desk that lost the commit race re-plans on the winner's root with what it read).
    version: int | None = None


VERSION_KEY = "~v"  # in a by-id entry's keys, beside the trees


@dataclass(frozen=True)
class Where:
    """A filter over declared fields: every condition must hold.

    `ranges` bound a declared sort's key: lo <= key < hi ("" leaves that side open; keys
    of one sort have one shape, so a bound compares as a key does). `keep` is a last check
    over the stored payload for what no index serves (a "contains" text): it costs a scan
    of whatever the other conditions leave, so use it for narrow lists or rare queries.
    """

    equal: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    keep: Callable[[Any], bool] | None = None

    @property
    def empty(self) -> bool:
        return not self.equal and not self.ranges and self.keep is None

    def signature(self) -> tuple:
        return tuple(sorted(self.equal.items())), tuple(sorted(self.ranges.items()))


EVERYTHING = Where()
Hit = tuple[str, Any]  # (record id, payload)


def _pack(value: Any) -> Binary:
    return Binary(zlib.compress(json.dumps(value, ensure_ascii=False).encode(), 1))


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class _Json(str):
    """A payload as stored: JSON text, parsed only for the rows a read returns."""


def _load(payload: Any) -> Any:
    return json.loads(payload) if isinstance(payload, _Json) else payload


def _pack_bucket(entries: list[list]) -> dict[str, Binary]:
    """A bucket in two blobs: `e` the entries without their payloads (what ordering,
    filtering and counting read), `p` the payloads' JSON, one a line. A write re-packs a
    bucket without parsing its payloads; a read parses only the rows it returns."""
    heads = [[e[0], e[1], *e[3:]] for e in entries]
    lines = [
        p if isinstance(p, _Json) else json.dumps(p, ensure_ascii=False)
        for p in (e[2] for e in entries)
    ]
    return {"e": _pack(heads), "p": Binary(zlib.compress("\n".join(lines).encode(), 1))}


def _blobs(doc: dict) -> tuple[bytes, bytes | None]:
    """A stored bucket's head blob and its payload blob (None in buckets of the former shape)."""
    return bytes(doc["e"]), bytes(doc["p"]) if "p" in doc else None


def _unpack_bucket(head: bytes, payloads: bytes | None) -> list[list]:
    if payloads is None:  # a bucket written before the split: payloads inline
        return _unpack(head)
    lines = zlib.decompress(payloads).decode().split("\n")
    return [[h[0], h[1], _Json(p), *h[2:]] for h, p in zip(_unpack(head), lines, strict=True)]


def _after(prefix: str) -> str:
    """The least string above every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _full(key: str, record_id: str) -> str:
    return f"{key}{SEP}{record_id}"


_first = itemgetter(0)  # a bucket entry's full key


# ----------------------------------------------------------------------------------------
# FerretDB: the app-kept bucket index
# ----------------------------------------------------------------------------------------


class _Root:
    """One committed version: for each tree, its buckets as (bucket id, first key, count).

    Trees are decoded on first use: a root stores each tree's bucket list as its own blob
    (with every tree's entry count beside them), so that a read decodes the few trees it
    walks, not the summaries of every sub-tree (162 KB for 20,000 vehicles)."""

    def __init__(
        self,
        number: int,
        trees: dict[str, list[list]],
        packed: Mapping[str, bytes] | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self.number = number
        self._trees = dict(trees)  # decoded
        self._packed = dict(packed or {})  # as stored; a tree may be in both
        self._sizes: dict[str, int] = dict(counts or {})
        self._firsts: dict[str, list[str]] = {}
        self.decoded = 0  # trees decoded from their blobs (tests check reads stay narrow)

    @classmethod
    def from_doc(cls, number: int, doc: dict) -> _Root:
        if "t" in doc:  # the former shape: every tree in one blob
            return cls(number, _unpack(doc["t"]))
        names, counts, ends = _unpack(doc["h"])
        blobs = bytes(doc["b"])
        starts = [0, *ends][: len(ends)]
        packed = {n: blobs[a:b] for n, a, b in zip(names, starts, ends, strict=True)}
        return cls(number, {}, packed, dict(zip(names, counts, strict=True)))

    def names(self) -> set[str]:
        return set(self._trees) | set(self._packed)

    @property
    def trees(self) -> dict[str, list[list]]:
        """Every tree, decoded (a commit's plan; tests)."""
        return {name: self.buckets(name) for name in sorted(self.names())}

    def buckets(self, tree: str) -> list[list]:
        buckets = self._trees.get(tree)
        if buckets is None:
            blob = self._packed.get(tree)
            if blob is None:
                return []
            buckets = _unpack(blob)
            self.decoded += 1
            self._trees[tree] = buckets  # racing readers decode the same value: harmless
        return buckets

    def packed(self, tree: str) -> bytes:
        """A tree's blob as stored (re-packed only when this root holds it decoded)."""
        blob = self._packed.get(tree)
        return blob if blob is not None else bytes(_pack(self.buckets(tree)))

    def locate(self, tree: str, key: str) -> int:
        """The bucket a key belongs in (the last one whose first key is <= key)."""
        firsts = self._firsts.get(tree)
        if firsts is None:
            firsts = self._firsts[tree] = [b[1] for b in self.buckets(tree)]
        return max(0, bisect.bisect_right(firsts, key) - 1)

    def count(self, tree: str) -> int:
        size = self._sizes.get(tree)
        if size is None:
            size = self._sizes[tree] = sum(b[2] for b in self.buckets(tree))
        return size


_GONE = _Root(-1, {})


def _size(blob: tuple[bytes, bytes | None]) -> int:
    return len(blob[0]) + len(blob[1] or b"")


class _Missing(Exception):
    """A bucket of the root being read was deleted by a newer commit."""


@repository
class BucketListIndex:
    def __init__(self, store: Store, spec: ListSpec) -> None:
        self.spec = spec
        self._coll = store.collection(f"ix_{spec.name}")
        self._lock = threading.Lock()
        # bucket id -> packed entries and payloads
        self._cache: OrderedDict[str, tuple[bytes, bytes | None]] = OrderedDict()
        self._cache_bytes = 0
        self._decoded: OrderedDict[str, list] = OrderedDict()
        self._roots: dict[int, _Root] = {}
        self._counts: OrderedDict[tuple, int] = OrderedDict()  # (root, filter) -> matches

    # -- reading ---------------------------------------------------------------------------
    def count(self, sort: str = "", within: str = "", where: Where = EVERYTHING) -> int:
        """All records, or those whose `sort` key starts with `within` (a declared filter),
        or those matching `where`."""
        if not where.empty:
            _check(self.spec, where)
            return self._read(lambda root: self._where_count(root, where))
        tree = self._sort_tree(sort or self.spec.default_sort)
        if not within:
            return self._read(lambda root: root.count(tree))
        return self._read(lambda root: len(range(*self._bounds(root, tree, within))))

    def page(
        self,
        sort: str,
        start: int,
        count: int,
        descending: bool = False,
        within: str = "",
        where: Where = EVERYTHING,
    ) -> list[Hit]:
        """Rows start..start+count in `sort` order (from the end when `descending`); with
        `within`, only records whose key starts with it (keys like "status\x1eprice" make
        a sort that is also a filter); with `where`, only the records matching it."""
        if not where.empty:
            _check(self.spec, where)
            return self._read(
                lambda root: self._where_page(root, sort, max(0, start), count, descending, where)
            )
        tree = self._sort_tree(sort)
        return self._read(lambda root: self._page(root, tree, start, count, descending, within))

    # -- filtered reads: the narrowest tree, buckets skipped by their summaries ----------------
    def _narrowest(self, root: _Root, sort: str, where: Where) -> tuple[str, str]:
        """The tree to walk in `sort` order: the sub-tree of the rarest asked value, or the
        sort's own tree; and the equality field that tree serves ("" for none)."""
        best, served = self._sort_tree(sort), ""
        size = root.count(best)
        for name, value in sorted(where.equal.items()):
            tree = self._eq_tree(sort, name, value)
            if root.count(tree) < size:
                best, served, size = tree, name, root.count(tree)
        return best, served

    def _where_page(
        self, root: _Root, sort: str, start: int, count: int, desc: bool, where: Where
    ) -> list[Hit]:
        if count <= 0:
            return []
        tree, served = self._narrowest(root, sort, where)
        lo, hi = where.ranges.get(sort, ("", ""))
        rest = _Residual(self.spec, where, served, sort)
        if rest.empty:  # a slice of one tree: positions, then the page's buckets only
            first = self._position(root, tree, lo) if lo else 0
            end = self._position(root, tree, hi) if hi else root.count(tree)
            return self._page_between(root, tree, start, count, desc, first, end)
        out: list[Hit] = []
        skip = start
        buckets = root.buckets(tree)
        first_i, last_i = self._bucket_span(root, tree, lo, hi)
        order = range(last_i, first_i - 1, -1) if desc else range(first_i, last_i + 1)
        for i in order:
            known = rest.bucket_count(buckets[i])
            if known == 0:
                continue
            if known is not None and skip >= known and _inside(buckets, i, lo, hi):
                skip -= known  # a whole bucket of rows before the page: not even decoded
                continue
            entries = self._bucket(buckets[i][0])
            for entry in reversed(entries) if desc else entries:
                key = entry[0]
                if (lo and key < lo) or (hi and key >= hi):
                    continue
                if not rest.matches(entry):
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append((entry[1], _load(entry[2])))
                if len(out) >= count:
                    return out
        return out

    def _where_count(self, root: _Root, where: Where) -> int:
        signature = (root.number, where.signature())
        if where.keep is None:
            with self._lock:
                cached = self._counts.get(signature)
            if cached is not None:
                return cached
        # count in the sort (a ranged one, else the default) whose slice is the smallest
        best: tuple[int, str, str, str, str] | None = None
        for sort in [*sorted(where.ranges), self.spec.default_sort]:
            tree, served = self._narrowest(root, sort, where)
            lo, hi = where.ranges.get(sort, ("", ""))
            first = self._position(root, tree, lo) if lo else 0
            end = self._position(root, tree, hi) if hi else root.count(tree)
            if best is None or end - first < best[0]:
                best = (max(0, end - first), sort, tree, served, lo + SEP + hi)
        assert best is not None
        size, sort, tree, served, bounds = best
        lo, hi = bounds.split(SEP)
        rest = _Residual(self.spec, where, served, sort)
        total = size if rest.empty else self._count_matching(root, tree, lo, hi, rest)
        if where.keep is None:
            with self._lock:
                self._counts[signature] = total
                while len(self._counts) > 256:
                    self._counts.popitem(last=False)
        return total

    def _count_matching(self, root: _Root, tree: str, lo: str, hi: str, rest: _Residual) -> int:
        buckets = root.buckets(tree)
        first_i, last_i = self._bucket_span(root, tree, lo, hi)
        total = 0
        unknown = []  # the buckets only reading tells about
        for i in range(first_i, last_i + 1):
            known = rest.bucket_count(buckets[i])
            if known == 0:
                continue
            if known is not None and _inside(buckets, i, lo, hi):
                total += known
                continue
            unknown.append(i)
        self._fetch(buckets[i][0] for i in unknown)
        read = self._bucket if rest.keep is not None else self._heads  # payloads: for `keep`
        for i in unknown:
            for entry in read(buckets[i][0]):
                key = entry[0]
                if (lo and key < lo) or (hi and key >= hi):
                    continue
                total += rest.matches(entry)
        return total

    @staticmethod
    def _bucket_span(root: _Root, tree: str, lo: str, hi: str) -> tuple[int, int]:
        """The first and last bucket that may hold keys in [lo, hi)."""
        n = len(root.buckets(tree))
        if not n:
            return 0, -1
        return (root.locate(tree, lo) if lo else 0), (root.locate(tree, hi) if hi else n - 1)

    def search(self, words: Sequence[str], limit: int = 500) -> list[Hit]:
        """Records having a word that starts with each of `words`, in the default order.

        Reads the entries of the longest word's prefix (at most `limit` matches are kept).
        """
        if not self.spec.searchable or not words:
            return []
        longest = max(words, key=len)
        others = [w for w in words if w is not longest]

        def run(root: _Root) -> list[Hit]:
            found: dict[str, list] = {}
            for entry in self._range(root, "w", longest, longest + TOP):
                if entry[1] in found:
                    continue
                if all(any(x.startswith(o) for x in entry[4]) for o in others):
                    found[entry[1]] = entry
                    if len(found) >= limit:
                        break
            ordered = sorted(found.values(), key=lambda e: e[3])
            return [(e[1], _load(e[2])) for e in ordered]

        return self._read(run)

    def lookup(self, field_name: str, value: str) -> list[Hit]:
        tree = f"x:{field_name}"
        lo = value + SEP
        return self._read(
            lambda root: [(e[1], _load(e[2])) for e in self._range(root, tree, lo, lo + TOP)]
        )

    def get(self, record_id: str) -> Any | None:
        """The payload of one record, or None."""

        def run(root: _Root):
            entry = self._find_id(root, record_id)
            if entry is None:
                return None
            default = _load(entry[2]).get(self._sort_tree(self.spec.default_sort))
            if not default:
                return None
            hits = self._range(
                root, self._sort_tree(self.spec.default_sort), default[0], default[0]
            )
            return next((_load(e[2]) for e in hits), None)

        return self._read(run)

    def position(self, record_id: str, sort: str = "", descending: bool = False) -> int:
        """Where a record stands in the whole list in `sort` order (from the end when
        `descending`): the start of the page that shows it. -1 when it is not listed.
        Two bucket reads: its by-id entry (its keys), then the sort tree at its key."""
        tree = self._sort_tree(sort or self.spec.default_sort)

        def run(root: _Root) -> int:
            entry = self._find_id(root, record_id)
            keys = _load(entry[2]).get(tree) if entry is not None else None
            if not keys:
                return -1
            at = self._position(root, tree, keys[0])
            return root.count(tree) - 1 - at if descending else at

        return self._read(run)

    def _page(
        self, root: _Root, tree: str, start: int, count: int, desc: bool, within: str
    ) -> list[Hit]:
        first, end = self._bounds(root, tree, within)
        return self._page_between(root, tree, start, count, desc, first, end)

    def _page_between(
        self, root: _Root, tree: str, start: int, count: int, desc: bool, first: int, end: int
    ) -> list[Hit]:
        """Rows start..start+count of the entries at positions first..end (exclusive)."""
        buckets = root.buckets(tree)
        start = max(0, start)
        if desc:  # position `start` from the end
            hi = end - start  # exclusive
            lo = max(first, hi - count)
            if hi <= lo:
                return []
            out = self._slice(buckets, lo, hi)
            out.reverse()
            return out
        return self._slice(buckets, first + start, min(end, first + start + count))

    def _bounds(self, root: _Root, tree: str, within: str) -> tuple[int, int]:
        """Positions of the first key starting with `within` and of the first one after."""
        if not within:
            return 0, root.count(tree)
        return self._position(root, tree, within), self._position(root, tree, _after(within))

    def _position(self, root: _Root, tree: str, key: str) -> int:
        """How many entries have a key below `key` (one bucket read)."""
        buckets = root.buckets(tree)
        if not buckets:
            return 0
        i = root.locate(tree, key)
        entries = self._bucket(buckets[i][0])
        return sum(b[2] for b in buckets[:i]) + bisect.bisect_left(entries, [key])

    def _slice(self, buckets: list[list], lo: int, hi: int) -> list[Hit]:
        out: list[Hit] = []
        offset = 0
        for bucket_id, _, n, *_ in buckets:
            if offset + n <= lo:
                offset += n
                continue
            if offset >= hi:
                break
            entries = self._bucket(bucket_id)
            out.extend((e[1], _load(e[2])) for e in entries[max(0, lo - offset) : hi - offset])
            offset += n
        return out

    def _range(self, root: _Root, tree: str, lo: str, hi: str) -> Iterator[list]:
        """Entries with lo <= key <= hi, in key order."""
        buckets = root.buckets(tree)
        for i in range(root.locate(tree, lo), len(buckets)):
            if buckets[i][1] > hi:
                return
            for entry in self._bucket(buckets[i][0]):
                if entry[0] < lo:
                    continue
                if entry[0] > hi:
                    return
                yield entry

    def _find_id(self, root: _Root, record_id: str) -> list | None:
        buckets = root.buckets("id")
        if not buckets:
            return None
        entries = self._bucket(buckets[root.locate("id", record_id)][0])
        i = bisect.bisect_left(entries, [record_id])
        if i < len(entries) and entries[i][0] == record_id:
            return entries[i]
        return None

    def _read(self, run):
        for _ in range(10):
            try:
                return run(self._root())
            except _Missing:
                continue
        raise RuntimeError(f"the {self.spec.name} list is changing too fast to read")

    # -- documents ---------------------------------------------------------------------------
    def _head_id(self) -> str:
        return "head"

    def _root(self) -> _Root:
        """The newest committed root: from the head hint forward while a newer one exists.

        A superseded root is replaced by a stub, never deleted, so that its number can never
        be claimed again by a desk that planned on an older root. The newest root this desk
        has read is still the newest when the next number is unclaimed: one `_id` read then,
        not two (each page of a scrolled list reads the root twice, for its count and rows).
        """
        with self._lock:
            known = max(self._roots, default=0)
        if known:  # the newest this desk knows: one probe for a newer one (roots come in turn)
            current = self._load_root(known)
            if current not in (None, _GONE) and self._load_root(known + 1) is None:
                return current
        for _ in range(10):
            head = self._coll.find_one({"_id": self._head_id()})
            number = int(head["n"]) if head else 0
            current = self._load_root(number) if number else _Root(0, {})
            while True:
                nxt = self._load_root(number + 1)
                if nxt is None:
                    break
                number += 1
                current = nxt
            if current is not None and current is not _GONE:
                return current
        raise _Missing("root")

    def _load_root(self, number: int) -> _Root | None:
        """The root, `_GONE` for a superseded one, None for a number not yet claimed."""
        with self._lock:
            cached = self._roots.get(number)
        if cached:
            return cached
        doc = self._coll.find_one({"_id": f"root:{number}"})
        if doc is None:
            return None
        if "t" not in doc and "h" not in doc:
            return _GONE
        root = _Root.from_doc(number, doc)
        self._remember_root(root)
        return root

    def _bucket(self, bucket_id: str) -> list:
        """A bucket's entries. Packed blobs are cached (bytes: nothing for Python's cyclic
        garbage collector to walk); only the last few buckets are kept decoded."""
        with self._lock:
            entries = self._decoded.get(bucket_id)
            if entries is not None:
                self._decoded.move_to_end(bucket_id)
                return entries
            blob = self._cache.get(bucket_id)
            if blob is not None:
                self._cache.move_to_end(bucket_id)
        if blob is None:
            doc = self._coll.find_one({"_id": bucket_id})
            if doc is None:
                raise _Missing(bucket_id)
            blob = _blobs(doc)
            self._remember(bucket_id, blob)
        entries = _unpack_bucket(*blob)
        with self._lock:
            self._decoded[bucket_id] = entries
            while len(self._decoded) > DECODED_BUCKETS:
                self._decoded.popitem(last=False)
        return entries

    def _heads(self, bucket_id: str) -> list:
        """A bucket's entries without their payloads (None in their place): what counting
        reads, without inflating the payload blob."""
        with self._lock:
            entries = self._decoded.get(bucket_id)
            blob = self._cache.get(bucket_id) if entries is None else None
        if entries is not None:
            return entries
        if blob is None or blob[1] is None:  # not cached, or the former shape: read in full
            return self._bucket(bucket_id)
        return [[h[0], h[1], None, *h[2:]] for h in _unpack(blob[0])]

    def _remember(self, bucket_id: str, blob: tuple[bytes, bytes | None]) -> None:
        with self._lock:
            if bucket_id in self._cache:
                return
            self._cache[bucket_id] = blob
            self._cache_bytes += _size(blob)
            while self._cache_bytes > CACHE_BYTES and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= _size(old)

    def _remember_root(self, root: _Root) -> None:
        with self._lock:
            self._roots = {k: v for k, v in self._roots.items() if k >= root.number - 2}
            self._roots[root.number] = root

    def clear_cache(self) -> None:
        """Forgets cached roots and buckets (benchmarks measure cold reads with this)."""
        with self._lock:
            self._cache.clear()
            self._decoded.clear()
            self._cache_bytes = 0
            self._roots.clear()
            self._counts.clear()

    # -- writing -----------------------------------------------------------------------------
    def put(self, entry: IndexEntry) -> None:
        self.put_many([entry])

    def put_many(self, entries: Iterable[IndexEntry]) -> None:
        """Adds or replaces the records' entries; idempotent (a retried write changes nothing)."""
        entries = {e.id: e for e in entries}
        if entries:
            self._commit(lambda root, w: self._apply(root, w, entries, ()))

    def remove(self, record_id: str) -> None:
        self.remove_many([record_id])

    def remove_many(self, record_ids: Iterable[str]) -> None:
        """Removes the records' entries in one commit (ids not listed are ignored)."""
        removals = tuple(dict.fromkeys(record_ids))
        if removals:
            self._commit(lambda root, w: self._apply(root, w, {}, removals))

    def bulk_load(self, entries: Iterable[IndexEntry]) -> None:
        """Adds or replaces many records at once (seeding, imports, rebuilds): like `put_many`,
        but every tree is written afresh in one sorted pass, merging the entries already
        there with the new ones, in one commit. Its cost follows the size of the whole
        index, once, where `put_many` of a big batch of random keys rewrites most buckets
        batch after batch; a load small beside the index goes through `put_many`."""
        entries = {e.id: e for e in entries}
        if not entries:
            return
        if len(entries) * BULK_RATIO < self._read(lambda root: root.count("id")):
            self.put_many(entries.values())
            return
        self._commit(lambda root, w: self._load(root, w, entries))

    def _load(self, root: _Root, writer: _Writer, puts: dict[str, IndexEntry]) -> bool:
        """Plans a bulk load: each tree's new entries sorted once and merged with its old
        ones (less those of the records replaced), whatever trees the spec declares."""
        added: dict[str, list[list]] = {}
        for record_id, entry in puts.items():
            new_entries = self._entries_of(entry)
            for tree, es in new_entries.items():
                added.setdefault(tree, []).extend(es)
            keys: dict[str, Any] = {tree: [e[0] for e in es] for tree, es in new_entries.items()}
            if entry.version is not None:
                keys[VERSION_KEY] = entry.version
            added.setdefault("id", []).append([record_id, record_id, keys])
        for tree in sorted(root.names() | set(added)):
            fresh = added.pop(tree, [])
            fresh.sort(key=_first)
            kept = (e for e in self._tree_entries(root, tree) if e[1] not in puts)
            writer.rebuild(tree, heapq.merge(kept, fresh, key=_first))
        return True

    def _tree_entries(self, root: _Root, tree: str) -> Iterator[list]:
        """Every entry of a tree in key order, read bucket by bucket past the caches."""
        for bucket_id, *_ in root.buckets(tree):
            doc = self._coll.find_one({"_id": bucket_id})
            if doc is None:
                raise _Missing(bucket_id)
            yield from _unpack_bucket(*_blobs(doc))

    def _apply(
        self, root: _Root, writer: _Writer, puts: dict[str, IndexEntry], removals: Sequence[str]
    ) -> bool:
        """Plans the tree changes of one commit; False when there is nothing to change."""
        adds: dict[str, list[list]] = {}
        drops: dict[str, set[str]] = {}
        by_id_adds: list[list] = []
        by_id_drops: set[str] = set()
        # in id order, so that neighbours share the by-id bucket last decoded
        for record_id in sorted({*puts, *removals}):
            old = self._find_id(root, record_id)
            put = puts.get(record_id)
            new_entries = self._entries_of(put) if put is not None else {}
            old_keys = dict(_load(old[2])) if old else {}
            old_version = old_keys.pop(VERSION_KEY, None)
            version = put.version if put is not None else None
            if None not in (version, old_version) and version < old_version:
                continue  # an older state of the record than the one listed
            new_keys = {tree: [e[0] for e in es] for tree, es in new_entries.items()}
            unchanged = old is not None and old_keys == new_keys and old_version == version
            if unchanged and put is not None and self._same_payload(root, old_keys, put):
                continue
            for tree, keys in old_keys.items():
                drops.setdefault(tree, set()).update(keys)
            for tree, es in new_entries.items():
                adds.setdefault(tree, []).extend(es)
            if old is not None:
                by_id_drops.add(record_id)
            if put is not None:  # as stored, so that an unchanged bucket compares equal
                stored = new_keys if version is None else {**new_keys, VERSION_KEY: version}
                keys_json = _Json(json.dumps(stored, ensure_ascii=False))
                by_id_adds.append([record_id, record_id, keys_json])
        if not (adds or drops or by_id_adds or by_id_drops):
            return False
        adds.setdefault("id", []).extend(by_id_adds)
        drops.setdefault("id", set()).update(by_id_drops)
        self._prefetch(root, adds, drops)
        for tree in set(adds) | set(drops):
            writer.change(tree, adds.get(tree, []), drops.get(tree, set()))
        return True

    def _prefetch(
        self, root: _Root, adds: dict[str, list[list]], drops: dict[str, set[str]]
    ) -> None:
        """Reads the buckets a commit will rebuild that are not cached, a few at a time in
        parallel (a vehicle's status change touches ~30 buckets: one `_id` read each)."""
        wanted: set[str] = set()
        for tree in set(adds) | set(drops):
            buckets = root.buckets(tree)
            if not buckets:
                continue
            keys = [e[0] for e in adds.get(tree, [])] + list(drops.get(tree, ()))
            wanted.update(buckets[root.locate(tree, k)][0] for k in keys)
        self._fetch(wanted)

    def _fetch(self, bucket_ids: Iterable[str]) -> None:
        """Reads into the cache the buckets not there yet, a few at a time in parallel (one
        `_id` round trip each; their latencies overlap)."""
        with self._lock:
            missing = [b for b in dict.fromkeys(bucket_ids) if b not in self._cache]
        if len(missing) < 2:
            return

        def fetch(bucket_id: str) -> None:
            doc = self._coll.find_one({"_id": bucket_id})
            if doc is not None:  # a missing one is met again when read: _Missing, read anew
                self._remember(bucket_id, _blobs(doc))

        list(_io_pool().map(fetch, missing))

    def _same_payload(self, root: _Root, keys: dict[str, list[str]], entry: IndexEntry) -> bool:
        tree = self._sort_tree(self.spec.default_sort)
        full = keys.get(tree, [None])[0]
        if full is None:
            return False
        current = next(iter(self._range(root, tree, full, full)), None)
        return current is not None and _load(current[2]) == entry.payload

    def _entries_of(self, entry: IndexEntry) -> dict[str, list[list]]:
        """The bucket entries of one record, per tree: [key, id, payload], and for words and
        exact values also the default sort key (the order of results) and the words."""
        default = _full(entry.keys[self.spec.default_sort], entry.id)
        out: dict[str, list[list]] = {}
        spec = self.spec
        # serialised once: the same payload goes into every tree (a vehicle's into 25)
        payload = _Json(json.dumps(entry.payload, ensure_ascii=False))
        # with filters declared, sort entries carry what the filters read: the equality
        # values, then the keys of the ranged sorts (`_Residual` reads them by position)
        values = [entry.equal.get(name, "") for name in spec.equal]
        tail = [[*values, *(entry.keys[r] for r in spec.ranges)]] if spec.filtered else []
        for sort in spec.sorts:  # in key order already: no default key to carry
            row = [_full(entry.keys[sort], entry.id), entry.id, payload, *tail]
            out[self._sort_tree(sort)] = [row]
            for name, value in zip(spec.equal, values, strict=True):
                out[self._eq_tree(sort, name, value)] = [row]
        words = sorted(set(entry.words)) if self.spec.searchable else []
        if words:
            out["w"] = [[_full(w, entry.id), entry.id, payload, default, words] for w in words]
        for name in self.spec.exact:
            values = sorted(set(entry.exact.get(name, ())))
            if values:
                out[f"x:{name}"] = [
                    [_full(v, entry.id), entry.id, payload, default] for v in values
                ]
        return out

    @staticmethod
    def _sort_tree(sort: str) -> str:
        return f"s:{sort}"

    @staticmethod
    def _eq_tree(sort: str, name: str, value: str) -> str:
        """The sub-tree of the records whose `name` is `value`, in `sort` order."""
        return f"q:{sort}{SEP}{name}{SEP}{value}"

    def _commit(self, plan) -> None:
        for _ in range(100):
            root = self._root()
            writer = _Writer(self, root)
            try:
                if not plan(root, writer):
                    return
                changed = writer.finish()
            except _Missing:
                writer.abandon()
                continue
            number = root.number + 1
            new_root = _next_root(root, number, changed)
            try:
                self._coll.insert_one(_root_doc(new_root))
            except DuplicateKeyError:
                writer.abandon()  # another desk committed first: plan again on its root
                continue
            # What this desk just wrote, it need not read back: its next write or page
            # starts from this root and these buckets (an issue a second saves ~7 reads).
            self._remember_root(new_root)
            upsert_one(self._coll, {"_id": self._head_id()}, {"$max": {"n": number}})
            self._collect(root, writer.replaced)
            return
        raise RuntimeError(f"the {self.spec.name} list is too busy to change; try again")

    def _collect(self, old_root: _Root, replaced: list[str]) -> None:
        """Deletes the buckets the new root no longer uses (readers of older roots read
        again) and stubs the root before the old one. One `_id` write each: FerretDB
        scans the collection for `$in`."""
        self._delete(replaced)
        if old_root.number > 1:
            stub = f"root:{old_root.number - 1}"
            self._coll.replace_one({"_id": stub}, {"_id": stub, "gone": True})

    def _insert_buckets(self, docs: list[dict]) -> None:
        """One round trip per few dozen buckets (a bulk load writes thousands)."""
        for i in range(0, len(docs), 64):
            self._coll.insert_many(docs[i : i + 64], ordered=False)

    def _delete(self, ids: list[str]) -> None:
        """One command, one `_id` filter per document (FerretDB scans the collection for
        `$in`, but answers each `_id` statement from the index). Not in parallel: FerretDB's
        SQLite writes one at a time, and parallel commands measured slower."""
        for i in range(0, len(ids), 500):
            self._coll.bulk_write([DeleteOne({"_id": d}) for d in ids[i : i + 500]], ordered=False)

    def ensure(self) -> None:
        """Nothing to create on FerretDB: the collection appears with the first commit."""


def _next_root(root: _Root, number: int, changed: dict[str, list[list]]) -> _Root:
    """The root a commit claims: its changed trees, and the others' blobs as they were."""
    names = sorted((root.names() | set(changed)) - {n for n, b in changed.items() if not b})
    trees = {n: changed[n] for n in names if n in changed}
    packed = {n: bytes(_pack(trees[n])) if n in trees else root.packed(n) for n in names}
    counts = {n: sum(b[2] for b in trees[n]) if n in trees else root.count(n) for n in names}
    return _Root(number, trees, packed, counts)


def _root_doc(root: _Root) -> dict:
    """A root as stored: `h` the tree names, their entry counts and where each tree's blob
    ends in `b`, the trees' blobs end to end. Two binaries: FerretDB returns an array of a
    few hundred binaries twice as slowly as one binary of their size."""
    names = sorted(root.names())
    blobs = [root.packed(n) for n in names]
    ends = list(itertools.accumulate(len(b) for b in blobs))
    header = _pack([names, [root.count(n) for n in names], ends])
    return {"_id": f"root:{root.number}", "h": header, "b": Binary(b"".join(blobs))}


def _check(spec: ListSpec, where: Where) -> None:
    unknown = [f for f in where.equal if f not in spec.equal]
    unknown += [r for r in where.ranges if r not in spec.ranges]
    if unknown:
        raise ValueError(f"the {spec.name} list declares no filter on {', '.join(unknown)}")


def _summary(spec: ListSpec, entries: list[list]) -> list:
    """What the root keeps of a bucket of a filtered list, to skip or count it unread:
    per equality field the count of each value, per ranged sort the least and greatest key."""
    counts: list[dict[str, int]] = [{} for _ in spec.equal]
    bounds: list[list[str]] = []
    for n in range(len(spec.ranges)):
        keys = [e[3][len(spec.equal) + n] for e in entries]
        bounds.append([min(keys), max(keys)])
    for entry in entries:
        for n, value in enumerate(entry[3][: len(spec.equal)]):
            counts[n][value] = counts[n].get(value, 0) + 1
    return [counts, bounds]


def _inside(buckets: list[list], i: int, lo: str, hi: str) -> bool:
    """Whether every key bucket i can hold lies in [lo, hi)."""
    if lo and buckets[i][1] < lo:
        return False
    return not hi or (i + 1 < len(buckets) and buckets[i + 1][1] <= hi)


class _Residual:
    """The conditions of a filter that the walked tree does not serve by itself."""

    def __init__(self, spec: ListSpec, where: Where, served: str, sort: str) -> None:
        position = {name: n for n, name in enumerate(spec.equal)}
        self.equal = [(position[f], v) for f, v in sorted(where.equal.items()) if f != served]
        first_range = len(spec.equal)
        self.ranges = [
            (spec.ranges.index(r), first_range + spec.ranges.index(r), lo, hi)
            for r, (lo, hi) in sorted(where.ranges.items())
            if r != sort
        ]
        self.keep = where.keep

    @property
    def empty(self) -> bool:
        return not self.equal and not self.ranges and self.keep is None

    def matches(self, entry: list) -> bool:
        values = entry[3]
        for n, value in self.equal:
            if values[n] != value:
                return False
        for _, n, lo, hi in self.ranges:
            key = values[n]
            if (lo and key < lo) or (hi and key >= hi):
                return False
        return self.keep is None or bool(self.keep(_load(entry[2])))

    def bucket_count(self, record: list) -> int | None:
        """How many of a bucket's entries match, from its summary: 0 when none can, None
        when only reading it tells."""
        if len(record) < 4:
            return None
        counts, bounds = record[3]
        exact: int | None = record[2]
        for n, value in self.equal:
            if value not in counts[n]:
                return 0
        for r, _, lo, hi in self.ranges:
            least, greatest = bounds[r]
            if (hi and least >= hi) or (lo and greatest < lo):
                return 0
            if (lo and least < lo) or (hi and greatest >= hi):
                exact = None  # the bucket straddles a bound
        if self.keep is not None or len(self.equal) > 1:
            return None
        if self.equal and exact is not None:
            n, value = self.equal[0]
            return counts[n][value]
        return exact


class _Writer:
    """Collects one commit: rebuilt buckets (inserted at once under fresh ids) per tree."""

    def __init__(self, index: BucketListIndex, root: _Root) -> None:
        self._index = index
        self._root = root
        self._trees: dict[str, list[list]] = {}  # the trees this commit changes
        self.created: list[str] = []
        self._staged: list[dict] = []
        self.replaced: list[str] = []

    def change(self, tree: str, adds: list[list], drops: set[str]) -> None:
        """Replaces the buckets that gain or lose entries; splits those grown too big."""
        buckets = self._current(tree) or [["", "", 0]]  # "": no bucket stored yet
        firsts = [b[1] for b in buckets]

        def bucket_of(key: str) -> int:
            return max(0, bisect.bisect_right(firsts, key) - 1)

        add_groups: dict[int, list[list]] = {}
        for entry in adds:
            add_groups.setdefault(bucket_of(entry[0]), []).append(entry)
        drop_groups: dict[int, set[str]] = {}
        for key in drops:
            drop_groups.setdefault(bucket_of(key), set()).add(key)
        rebuilt: list[list] = []
        for i, old in enumerate(buckets):
            if i not in add_groups and i not in drop_groups:
                rebuilt.append(old)
                continue
            dropped = drop_groups.get(i, set())
            current = self._index._bucket(old[0]) if old[0] else []
            merged = {e[0]: e for e in current if e[0] not in dropped}
            merged.update((e[0], e) for e in add_groups.get(i, []))
            new_entries = [merged[k] for k in sorted(merged)]
            if old[0] and new_entries == current:  # the same entries: the bucket stays
                rebuilt.append(old)
                continue
            if old[0]:
                self.replaced.append(old[0])
            if len(new_entries) > BUCKET_MAX:
                pieces = [
                    new_entries[k : k + BUCKET_TARGET]
                    for k in range(0, len(new_entries), BUCKET_TARGET)
                ]
            else:
                pieces = [new_entries] if new_entries else []
            rebuilt.extend(self._stage(tree, piece) for piece in pieces)
        if rebuilt:
            # the first bucket takes every key below its first (a copy: the record may
            # be the read root's, which a lost race leaves in use)
            rebuilt[0] = [rebuilt[0][0], "", *rebuilt[0][2:]]
        self._trees[tree] = rebuilt

    def rebuild(self, tree: str, entries: Iterable[list]) -> None:
        """Replaces a whole tree by `entries` (in key order), packed into buckets of
        BUCKET_TARGET, written as they fill (a bulk load does not hold them all)."""
        self.replaced.extend(b[0] for b in self._current(tree) if b[0])
        rebuilt: list[list] = []
        piece: list[list] = []
        for entry in entries:
            piece.append(entry)
            if len(piece) >= BUCKET_TARGET:
                rebuilt.append(self._stage(tree, piece))
                if len(self._staged) >= 256:
                    self._flush()
                piece = []
        if piece:
            rebuilt.append(self._stage(tree, piece))
        if rebuilt:
            rebuilt[0][1] = ""  # the first bucket takes every key below its first
        self._trees[tree] = rebuilt
        self._flush()

    def _current(self, tree: str) -> list[list]:
        if tree in self._trees:
            return self._trees[tree]
        return list(self._root.buckets(tree))

    def _stage(self, tree: str, piece: list[list]) -> list:
        """Stages one new bucket; returns its record in the tree (with the summary that a
        filtered list's sort trees keep in the root)."""
        bucket_id = f"b:{uuid.uuid4().hex}"
        self._staged.append({"_id": bucket_id, **_pack_bucket(piece)})
        record = [bucket_id, piece[0][0], len(piece)]
        if self._index.spec.filtered and tree[:2] in ("s:", "q:"):
            record.append(_summary(self._index.spec, piece))
        return record

    def _flush(self) -> None:
        self.created.extend(d["_id"] for d in self._staged)
        self._index._insert_buckets(self._staged)
        self._staged = []

    def finish(self) -> dict[str, list[list]]:
        """Writes the new buckets (not yet reachable: no root lists them) and returns the
        trees changed (an empty one: no entries left)."""
        self.created.extend(d["_id"] for d in self._staged)
        self._index._insert_buckets(self._staged)
        for doc in self._staged:
            self._index._remember(doc["_id"], _blobs(doc))
        self._staged = []
        return dict(self._trees)

    def abandon(self) -> None:
        self._index._delete(self.created)
        self.created.clear()


# ----------------------------------------------------------------------------------------
# MongoDB: the same declaration on native indexes
# ----------------------------------------------------------------------------------------


@repository
class NativeListIndex:
    """One document per record in `ix_<name>`, with a native index per declared sort and field."""

    def __init__(self, store: Store, spec: ListSpec) -> None:
        self.spec = spec
        self._coll = store.collection(f"ix_{spec.name}")

    def ensure(self) -> None:
        for sort in self.spec.sorts:
            self._coll.create_index([(f"s.{sort}", ASCENDING)], name=f"sort_{sort}")
        if self.spec.searchable:
            self._coll.create_index([("w", ASCENDING)], name="words")
        for name in self.spec.exact:
            self._coll.create_index([(f"x.{name}", ASCENDING)], name=f"exact_{name}")
        for name in self.spec.equal:  # the sub-trees' counterpart: (value, sort) compounds
            for sort in self.spec.sorts:
                self._coll.create_index(
                    [(f"e.{name}", ASCENDING), (f"s.{sort}", ASCENDING)], name=f"eq_{name}_{sort}"
                )

    def _within(self, sort: str, within: str, where: Where = EVERYTHING) -> dict:
        query: dict[str, Any] = {}
        if within:
            sort = sort or self.spec.default_sort
            query[f"s.{sort}"] = {"$gte": within, "$lt": _after(within)}
        _check(self.spec, where)
        for name, value in where.equal.items():
            query[f"e.{name}"] = value
        for sort, (lo, hi) in where.ranges.items():
            bound = query.setdefault(f"s.{sort}", {})
            if lo:
                bound["$gte"] = max(lo, bound.get("$gte", lo))
            if hi:
                bound["$lt"] = min(hi, bound.get("$lt", hi))
            if not bound:
                del query[f"s.{sort}"]
        return query

    def count(self, sort: str = "", within: str = "", where: Where = EVERYTHING) -> int:
        query = self._within(sort, within, where)
        if where.keep is None:
            return self._coll.count_documents(query)
        return sum(1 for d in self._coll.find(query, {"r": 1}) if where.keep(d["r"]))

    def page(
        self,
        sort: str,
        start: int,
        count: int,
        descending: bool = False,
        within: str = "",
        where: Where = EVERYTHING,
    ) -> list[Hit]:
        if start < 0 or count <= 0:
            return []
        order = DESCENDING if descending else ASCENDING
        cursor = self._coll.find(self._within(sort, within, where), {"r": 1}).sort(
            f"s.{sort}", order
        )
        if where.keep is None:
            return [(d["_id"], d["r"]) for d in cursor.skip(start).limit(count)]
        kept = (d for d in cursor if where.keep(d["r"]))  # what no index serves: a scan
        return [(d["_id"], d["r"]) for d in itertools.islice(kept, start, start + count)]

    def search(self, words: Sequence[str], limit: int = 500) -> list[Hit]:
        if not self.spec.searchable or not words:
            return []
        # $elemMatch: both bounds on one word (a bare range on an array may match two words)
        query = {"$and": [{"w": {"$elemMatch": {"$gte": w, "$lt": _after(w)}}} for w in words]}
        cursor = self._coll.find(query, {"r": 1, "w": 1}).sort(f"s.{self.spec.default_sort}", 1)
        # FerretDB 1.24 lets $elemMatch's bounds match different words; MongoDB does not.
        return [
            (d["_id"], d["r"])
            for d in cursor.limit(limit)
            if all(any(x.startswith(w) for x in d["w"]) for w in words)
        ]

    def lookup(self, field_name: str, value: str) -> list[Hit]:
        cursor = self._coll.find({f"x.{field_name}": value}, {"r": 1})
        return [(d["_id"], d["r"]) for d in cursor.sort(f"s.{self.spec.default_sort}", 1)]

    def get(self, record_id: str) -> Any | None:
        doc = self._coll.find_one({"_id": record_id}, {"r": 1})
        return doc["r"] if doc else None

    def position(self, record_id: str, sort: str = "", descending: bool = False) -> int:
        sort = sort or self.spec.default_sort
        doc = self._coll.find_one({"_id": record_id}, {"s": 1})
        key = (doc or {}).get("s", {}).get(sort)
        if key is None:
            return -1
        return self._coll.count_documents({f"s.{sort}": {"$gt" if descending else "$lt": key}})

    def _doc(self, entry: IndexEntry) -> dict:
        return {
            "_id": entry.id,
            "s": {sort: _full(entry.keys[sort], entry.id) for sort in self.spec.sorts},
            "w": sorted(set(entry.words)) if self.spec.searchable else [],
            "x": {name: list(entry.exact.get(name, ())) for name in self.spec.exact},
            "e": {name: entry.equal.get(name, "") for name in self.spec.equal},
            "r": entry.payload,
            "v": entry.version,
        }

    def put(self, entry: IndexEntry) -> None:
        self.put_many([entry])

    def put_many(self, entries: Iterable[IndexEntry]) -> None:
        entries = list(entries)
        plain = [
            ReplaceOne({"_id": e.id}, self._doc(e), upsert=True)
            for e in entries
            if e.version is None
        ]
        versioned = [e for e in entries if e.version is not None]
        # A versioned entry replaces only an older one, then is inserted where there was
        # none; an insert that meets an _id (a newer entry, or one just replaced) is dropped.
        older = [
            ReplaceOne(
                {"_id": e.id, "$or": [{"v": {"$lte": e.version}}, {"v": None}]}, self._doc(e)
            )
            for e in versioned
        ]
        for ops in (plain, older):
            for i in range(0, len(ops), 5000):
                self._coll.bulk_write(ops[i : i + 5000], ordered=False)
        docs = [self._doc(e) for e in versioned]
        for i in range(0, len(docs), 5000):
            try:
                self._coll.insert_many(docs[i : i + 5000], ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise

    def bulk_load(self, entries: Iterable[IndexEntry]) -> None:
        """The native indexes take a big load as they take any other."""
        self.put_many(entries)

    def remove(self, record_id: str) -> None:
        self._coll.delete_one({"_id": record_id})

    def remove_many(self, record_ids: Iterable[str]) -> None:
        ids = list(record_ids)
        for i in range(0, len(ids), 5000):
            self._coll.delete_many({"_id": {"$in": ids[i : i + 5000]}})

    def clear_cache(self) -> None:
        pass


ListIndex = BucketListIndex | NativeListIndex


def list_index(store: Store, spec: ListSpec) -> ListIndex:
    """The index for this database: app-kept buckets on FerretDB, native indexes elsewhere."""
    return BucketListIndex(store, spec) if store.info.is_ferretdb else NativeListIndex(store, spec)


# ----------------------------------------------------------------------------------------
# What an entity's repository is built from
# ----------------------------------------------------------------------------------------

T = TypeVar("T")
Row = TypeVar("Row")


@repository
class ListRepository(Generic[T, Row]):
    """A typed list over the index: items in (`entry` says how each is indexed), rows out
    (`row` rebuilds one from its id and stored payload). Connection errors surface as
    DatabaseUnavailable, as from every repository."""

    def __init__(
        self,
        store: Store,
        spec: ListSpec,
        entry: Callable[[T], IndexEntry],
        row: Callable[[str, Any], Row],
    ) -> None:
        self.spec = spec
        self._index = list_index(store, spec)
        self._entry = entry
        self._row = row

    def ensure(self) -> None:
        """Creates the native indexes (MongoDB); call from a schema migration."""
        self._index.ensure()

    def put(self, item: T) -> None:
        self._index.put(self._entry(item))

    def put_many(self, items: Iterable[T]) -> None:
        self._index.put_many(self._entry(i) for i in items)

    def bulk_load(self, items: Iterable[T]) -> None:
        """Many items at once (seeding, imports): one sorted pass over the index, one commit."""
        self._index.bulk_load(self._entry(i) for i in items)

    def remove(self, record_id: str) -> None:
        self._index.remove(record_id)

    def remove_many(self, record_ids: Iterable[str]) -> None:
        """Several records' entries removed at once (an undone import): one commit."""
        self._index.remove_many(record_ids)

    def count(self, sort: str = "", within: str = "", where: Where = EVERYTHING) -> int:
        return self._index.count(sort, within, where)

    def page(
        self,
        sort: str,
        start: int,
        count: int,
        descending: bool = False,
        within: str = "",
        where: Where = EVERYTHING,
    ) -> list[Row]:
        sort = sort or self.spec.default_sort
        hits = self._index.page(sort, start, count, descending, within, where)
        return [self._row(i, p) for i, p in hits]

    def search(self, words: Sequence[str], limit: int = 500) -> list[Row]:
        return [self._row(i, p) for i, p in self._index.search(words, limit)]

    def lookup(self, field_name: str, value: str) -> list[Row]:
        return [self._row(i, p) for i, p in self._index.lookup(field_name, value)]

    def position(self, record_id: str, sort: str = "", descending: bool = False) -> int:
        """The record's row number in the whole list in this order; -1 when not listed."""
        return self._index.position(record_id, sort, descending)

    def get(self, record_id: str) -> Row | None:
        payload = self._index.get(record_id)
        return None if payload is None else self._row(record_id, payload)

    def clear_cache(self) -> None:
        self._index.clear_cache()
