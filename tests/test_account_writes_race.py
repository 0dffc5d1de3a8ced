"""An admin's change to an account and the account's own login stamp, at the same moment, both
land (FerretDB lost one of two concurrent $set on one document: 15 of 25 in a review, so a
disable could vanish while the audit log said it was done)."""

import threading
from datetime import UTC, datetime

import pymongo

from alko_desk.models.users import Role, User
from alko_desk.storage.mongo import Store
from alko_desk.storage.users_repo import UserRepository, _with

ROUNDS = 15


def test_a_disable_and_a_login_stamp_at_once_both_land(mongo_uri, store):
    desks = [pymongo.MongoClient(mongo_uri, tz_aware=True) for _ in range(2)]
    admin, login = (UserRepository(Store.open(c, store.db.name)) for c in desks)
    try:
        for n in range(ROUNDS):
            name = f"sam{n}"
            admin.insert(User(name, "Sam", Role.SALES, created_at=datetime.now(UTC)), {})
            barrier = threading.Barrier(2)
            at = datetime(2026, 11, 26, 9, n, tzinfo=UTC)

            def disable(name=name, barrier=barrier) -> None:
                barrier.wait()
                admin.update(name, {"active": False})

            def stamp(name=name, barrier=barrier, at=at) -> None:
                barrier.wait()
                login.update(name, {"last_login_at": at})

            threads = [threading.Thread(target=disable), threading.Thread(target=stamp)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            doc = admin.get_doc(name)
            assert (doc["active"], doc["last_login_at"]) == (False, at), n
    finally:
        for c in desks:
            c.close()


def test_dotted_paths_set_and_unset_inside_sub_documents(store):
    doc = {"_id": "sam", "grants": {"clients": b"1"}}
    changed = _with(doc, {"grants.ids": b"2", "mac": b"m"}, [])
    assert changed["grants"] == {"clients": b"1", "ids": b"2"} and changed["mac"] == b"m"
    assert doc == {"_id": "sam", "grants": {"clients": b"1"}}  # the original is untouched
    assert _with(changed, {}, ["grants.clients", "grants.none", "nothing.here"])["grants"] == {
        "ids": b"2"
    }
    repo = UserRepository(store)
    repo.insert(User("ana", "Ana", Role.ADMIN, created_at=datetime.now(UTC)), {})
    assert repo.update("ana", {"grants.clients": b"k"}) and not repo.update("nobody", {"x": 1})
    repo.unset("ana", ["grants.clients"])
    assert repo.get_doc("ana")["grants"] == {}
