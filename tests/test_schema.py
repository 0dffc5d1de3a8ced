"""Collections, indexes and the schema version: created idempotently at start."""

from __future__ import annotations

import pytest

from alko_desk.storage import schema
from alko_desk.storage.audit_repo import AuditRepository
from alko_desk.storage.schema import SCHEMA_DOC_ID, SCHEMA_VERSION, ensure_schema


def test_a_new_database_gets_every_migration_and_records_the_version(store):
    assert ensure_schema(store) == SCHEMA_VERSION
    assert store.db.meta.find_one({"_id": SCHEMA_DOC_ID})["version"] == SCHEMA_VERSION


def test_running_the_schema_again_changes_nothing(store):
    ensure_schema(store)
    before = sorted(store.db.list_collection_names())
    assert ensure_schema(store) == SCHEMA_VERSION
    assert sorted(store.db.list_collection_names()) == before


def test_a_later_migration_runs_once_in_order(store, monkeypatch):
    ensure_schema(store)
    ran = []
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, lambda s: ran.append("next")])
    assert ensure_schema(store) == SCHEMA_VERSION + 1
    assert ensure_schema(store) == SCHEMA_VERSION + 1
    assert ran == ["next"]


def test_a_database_from_a_newer_app_is_left_alone(store, monkeypatch):
    store.db.meta.insert_one({"_id": SCHEMA_DOC_ID, "version": SCHEMA_VERSION + 5})
    monkeypatch.setattr(
        schema, "MIGRATIONS", [lambda s: pytest.fail("an applied migration ran again")]
    )
    assert ensure_schema(store) == SCHEMA_VERSION + 5


def test_an_audit_sequence_number_can_be_claimed_only_once(store):
    ensure_schema(store)
    repo = AuditRepository(store)
    entry = {"seq": 1, "time": None, "actor": "a", "action": "x", "prev": "0", "hash": "h"}
    assert repo.try_insert(dict(entry))
    assert not repo.try_insert({**entry, "actor": "another desk"})
    assert repo.get(1)["actor"] == "a"


def test_desks_starting_together_on_a_new_database_all_open_it(mongo_uri, store):
    """Before the lock, the second desk's schema write raised (shown as "the database cannot
    be reached") on 7 of 8 new databases."""
    import threading

    import pymongo

    from alko_desk.storage.mongo import Store

    desks = [pymongo.MongoClient(mongo_uri, tz_aware=True) for _ in range(3)]
    barrier = threading.Barrier(len(desks))
    results: list[object] = []

    def start(client) -> None:
        barrier.wait()
        try:
            results.append(ensure_schema(Store.open(client, store.db.name)))
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            results.append(exc)

    threads = [threading.Thread(target=start, args=(c,)) for c in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in desks:
        c.close()
    assert results == [SCHEMA_VERSION] * len(desks)
    assert store.db.meta.find_one({"_id": schema.LOCK_DOC_ID}) is None


def test_a_migration_lock_left_by_a_desk_that_died_is_taken_over(store):
    from datetime import UTC, datetime

    store.db.meta.insert_one(
        {"_id": schema.LOCK_DOC_ID, "at": datetime.now(UTC) - schema.LOCK_STALE * 2}
    )
    assert ensure_schema(store, wait_s=10) == SCHEMA_VERSION


def test_a_desk_waits_for_the_one_migrating_and_says_so_if_it_takes_too_long(store):
    from datetime import UTC, datetime

    from alko_desk.models.errors import DatabaseUnavailable

    store.db.meta.insert_one({"_id": schema.LOCK_DOC_ID, "at": datetime.now(UTC)})
    with pytest.raises(DatabaseUnavailable, match="Another desk is still updating"):
        ensure_schema(store, wait_s=0.5)
    store.db.meta.delete_one({"_id": schema.LOCK_DOC_ID})  # that desk finished
    assert ensure_schema(store) == SCHEMA_VERSION
