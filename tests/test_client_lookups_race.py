"""Exact-search lookups keep every client written at the same moment (FerretDB lost one of two
concurrent $addToSet on an existing lookup: 25 of 50 in a review)."""

from alko_desk.storage.clients_repo import LookupRepository
from tests.same_moment import on_connections_at_once

ROUNDS = 15


def test_two_desks_adding_to_one_lookup_at_once_both_land(mongo_uri, store):
    repo = LookupRepository(store)
    rounds = on_connections_at_once(
        mongo_uri,
        store.db.name,
        [
            lambda s, r, desk=desk: LookupRepository(s).add(f"phone:{r}", f"C-{desk}")
            for desk in (0, 1)
        ],
        ROUNDS,
        reset=lambda r: repo.add(f"phone:{r}", "C-first"),  # it exists: the case that lost writes
        check=lambda: None,
    )
    for n, results in enumerate(rounds):
        assert results[:2] == [None, None], n
        assert sorted(repo.find(f"phone:{n}")) == ["C-0", "C-1", "C-first"], n


def test_add_remove_bulk_and_a_rebuild(store):
    repo = LookupRepository(store)
    repo.add("email:x", "C-1")
    repo.add("email:x", "C-1")  # twice: once in the list
    repo.add_many([("email:x", "C-2"), ("email:y", "C-3")])
    assert repo.find("email:x") == ["C-1", "C-2"] and repo.find("email:y") == ["C-3"]
    repo.remove("email:x", "C-1")
    repo.remove("email:none", "C-1")  # nothing there: nothing written
    assert repo.find("email:x") == ["C-2"] and repo.find("email:none") == []
    repo.clear()  # a new key: rebuilt from scratch, old revisions forgotten
    repo.add_many([("email:x", "C-9")])
    repo.add("email:x", "C-8")
    assert repo.find("email:x") == ["C-9", "C-8"]
