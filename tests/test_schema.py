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
