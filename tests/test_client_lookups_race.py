"""Exact-search lookups keep every client written at the same moment (FerretDB lost one of two
concurrent $addToSet on an existing lookup: 25 of 50 in a review)."""

import threading

import pymongo

from alko_desk.storage.clients_repo import LookupRepository
from alko_desk.storage.mongo import Store

ROUNDS = 15


def test_two_desks_adding_to_one_lookup_at_once_both_land(mongo_uri, store):
    desks = [pymongo.MongoClient(mongo_uri, tz_aware=True) for _ in range(2)]
    repos = [LookupRepository(Store.open(c, store.db.name)) for c in desks]
    try:
        for n in range(ROUNDS):
            lookup = f"phone:{n}"
            repos[0].add(lookup, "C-first")  # the lookup exists: the case that lost writes
            barrier = threading.Barrier(2)

            def add(repo, desk, lookup=lookup, barrier=barrier) -> None:
                barrier.wait()
                repo.add(lookup, f"C-{desk}")

            threads = [threading.Thread(target=add, args=(r, i)) for i, r in enumerate(repos)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(repos[0].find(lookup)) == ["C-0", "C-1", "C-first"], n
    finally:
        for c in desks:
            c.close()


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
