"""Compare-and-set that holds on FerretDB: one writer per revision, nothing written over a
document that is gone."""

import threading

from alko_desk.storage.revisions import RevisionGuard


def _guard(store) -> RevisionGuard:
    return RevisionGuard(store.db["cars"], store.db["car_claims"])


def test_one_writer_wins_each_revision(store):
    store.db["cars"].insert_one({"_id": "car", "rev": 1, "owner": ""})
    barrier = threading.Barrier(4)
    won: list[str] = []

    def desk(name: str) -> None:
        barrier.wait()
        if _guard(store).replace_if({"_id": "car", "owner": name}, 1):
            won.append(name)

    threads = [threading.Thread(target=desk, args=(f"desk{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert store.db["cars"].find_one({"_id": "car"}) == {"_id": "car", "rev": 2, "owner": won[0]}


def test_a_document_deleted_meanwhile_is_not_written_and_says_so(store):
    store.db["cars"].insert_one({"_id": "car", "rev": 1})
    store.db["cars"].delete_one({"_id": "car"})  # e.g. an undone import, after it was read
    assert not _guard(store).replace_if({"_id": "car", "status": "reserved"}, 1)
    assert store.db["cars"].find_one({"_id": "car"}) is None


def test_create_writes_a_document_that_does_not_exist_yet(store):
    assert _guard(store).replace_if({"_id": "new", "n": 1}, 0, create=True)
    assert store.db["cars"].find_one({"_id": "new"})["rev"] == 1


def test_a_write_that_died_after_its_claim_is_rolled_forward_for_a_document_without_rev(store):
    """An account, lookup or document record from before revisions has no `rev` (revision
    0); a desk that died between claiming revision 0 and writing left the claim behind. The
    next writer rolls it forward instead of failing on the claim for ever."""
    from datetime import UTC, datetime, timedelta

    store.db["cars"].insert_one({"_id": "old", "owner": "a"})  # no rev: from before
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    store.db["car_claims"].insert_one(
        {"_id": "old:0", "doc": {"_id": "old", "owner": "b", "rev": 1}, "at": long_ago}
    )
    guard = _guard(store)
    assert guard.settled("old")["owner"] == "b"  # the dead writer's write, finished
    assert guard.replace_if({"_id": "old", "owner": "c"}, 1)
    assert store.db["cars"].find_one({"_id": "old"}) == {"_id": "old", "owner": "c", "rev": 2}


def test_a_creation_that_died_after_its_claim_is_finished_only_where_asked(store):
    from datetime import UTC, datetime, timedelta

    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    store.db["car_claims"].insert_one(
        {"_id": "new:0", "doc": {"_id": "new", "n": 1, "rev": 1}, "at": long_ago}
    )
    guard = _guard(store)
    assert guard.settled("new") is None  # a deleted document is not brought back
    assert guard.settled("new", created=True) == {"_id": "new", "n": 1, "rev": 1}
    assert guard.replace_if({"_id": "new", "n": 2}, 1)
