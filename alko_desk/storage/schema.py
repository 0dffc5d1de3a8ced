"""Collections, indexes and the schema version, created idempotently at start.

Later schema changes are numbered migrations: each runs once, in order, and the
schema document records the last one applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from alko_desk.models.errors import DatabaseUnavailable
from alko_desk.storage.mongo import Store, replace_upsert, unavailable, upsert_one

SCHEMA_DOC_ID = "schema"
PARTITIONED = ("audit", "clients", "client_keys", "client_lookups", "client_directory")


def _m1_base_indexes(store: Store) -> None:
    db = store.db
    db.users.create_index("role", name="by_role")
    for name in PARTITIONED:
        store.partitioned_collection(name).ensure_indexes()
    if not store.partitioned:
        db.audit.create_index("seq", unique=True, name="seq_unique")
        db.audit.create_index([("actor", 1), ("seq", -1)], name="by_actor")
        db.audit.create_index([("action", 1), ("seq", -1)], name="by_action")
        db.audit.create_index([("target", 1), ("seq", -1)], name="by_target")


def _m2_client_list_index(store: Store) -> None:
    """The client list moves from the name directory to the list index (storage/app_index.py).

    The index is built from the client documents at the next login (it needs the keys to
    seal city and phone), through the intent log's "clients.rebuild_list" handler.
    """
    from alko_desk.storage.clients_repo import ClientListRepository

    ClientListRepository(store).ensure()
    clients = store.partitioned_collection("clients").part_keys()
    old = store.partitioned_collection("client_directory")
    for part in old.part_keys() if store.partitioned else []:
        store.db.drop_collection(f"client_directory.{part}")
    if not store.partitioned:
        store.db.drop_collection("client_directory")
    store.db.meta.delete_one({"_id": "client_directory_counts"})
    if clients:
        replace_upsert(
            store.db.pending_ops,
            {"_id": "clients.rebuild_list:all"},
            {"_id": "clients.rebuild_list:all", "kind": "clients.rebuild_list", "data": {}},
        )


def _m3_flat_keys_and_lookups(store: Store) -> None:
    """Client keys and lookups are used by `_id` only, which the patched FerretDB serves from
    its index: their 256 partitions become one collection each (MongoDB kept them in one)."""
    if not store.partitioned:
        return
    for name in ("client_keys", "client_lookups"):
        parts = store.partitioned_collection(name)
        for part in parts.part_keys():
            docs = parts.find_all(part)
            if docs:
                try:
                    store.db[name].insert_many(docs, ordered=False)
                except BulkWriteError as exc:  # moved already by an interrupted run
                    if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                        raise
            store.db.drop_collection(f"{name}.{part}")


def _m4_keys_by_need(store: Store) -> None:
    """Client data moves from keys derived from the organisation key to the tier keys (keys
    by need, services/keyring.py). It needs those keys, so the first login that holds them
    does it, through the intent log's "clients.upgrade_keys" handler."""
    if store.partitioned_collection("clients").part_keys():
        replace_upsert(
            store.db.pending_ops,
            {"_id": "clients.upgrade_keys:all"},
            {"_id": "clients.upgrade_keys:all", "kind": "clients.upgrade_keys", "data": {}},
        )


def _m5_filtered_stock_lists(store: Store) -> None:
    """The vehicle and deal lists gain their filters' sub-trees (storage/app_index.py
    `ListSpec.equal`/`ranges`): both indexes are built again from the documents, here at
    start rather than by the first list read (a read never writes)."""
    from alko_desk.storage.deals_repo import build_deal_list
    from alko_desk.storage.vehicles_repo import VehicleRepository

    for name in ("ix_vehicles", "ix_deals"):
        store.db.drop_collection(name)
    vehicles = VehicleRepository(store)
    vehicles.ensure_list()
    vehicles.rebuild_list()
    build_deal_list(store)


def _m6_customers_from_past_sales(store: Store) -> None:
    """Clients whose deals were invoiced before "a prospect becomes a customer when a deal of
    theirs is invoiced" stayed prospects. Their status is under the clients' MAC, so the first
    login holding the client keys changes it, through the intent log's
    "clients.record_past_purchases" handler (ClientService.record_purchase, audited); this only
    lists those clients (status in clear) with one invoiced or delivered deal each."""
    from alko_desk.storage.clients_repo import ClientRepository

    clients = ClientRepository(store)
    purchases: dict[str, str] = {}
    sold = {"state": {"$in": ["invoiced", "delivered"]}}
    for doc in store.db.deals.find(sold, {"client_id": 1}).sort("_id", 1):
        client_id = doc.get("client_id") or ""
        if not client_id or client_id in purchases:
            continue
        record = clients.get(client_id)
        if record is not None and record.status == "prospect":
            purchases[client_id] = doc["_id"]
    if purchases:
        entries = [{"client": c, "deal": d} for c, d in purchases.items()]
        replace_upsert(
            store.db.pending_ops,
            {"_id": "clients.record_past_purchases:all"},
            {
                "_id": "clients.record_past_purchases:all",
                "kind": "clients.record_past_purchases",
                "data": {"purchases": entries},
            },
        )


MIGRATIONS: list[Callable[[Store], None]] = [
    _m1_base_indexes,
    _m2_client_list_index,
    _m3_flat_keys_and_lookups,
    _m4_keys_by_need,
    _m5_filtered_stock_lists,
    _m6_customers_from_past_sales,
]
SCHEMA_VERSION = len(MIGRATIONS)


def ensure_schema(store: Store, *, wait_s: float = 600.0) -> int:
    """Applies the migrations not yet applied; safe to run from several desks at once.

    One desk migrates under a lock (a unique insert, atomic on FerretDB too); the others wait
    until it is done. A lock older than LOCK_STALE (its desk died) is taken over.
    """
    try:
        meta = store.db.meta
        deadline = time.monotonic() + wait_s
        while True:
            applied = _applied(meta)
            if applied >= len(MIGRATIONS):
                return applied
            mine = _take_lock(meta)
            if mine is not None:
                try:
                    return _migrate(store, meta, _applied(meta))
                finally:  # this desk's lock only (a stale one may have been taken over)
                    meta.delete_one({"_id": LOCK_DOC_ID, "at": mine})
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    "Another desk is still updating the database to this version.",
                    hint="Wait a few minutes, then choose Retry.",
                )
            time.sleep(0.2)
    except PyMongoError as exc:
        raise unavailable(exc) from None


LOCK_DOC_ID = "schema_lock"
LOCK_STALE = timedelta(minutes=15)


def _applied(meta) -> int:
    return int((meta.find_one({"_id": SCHEMA_DOC_ID}) or {}).get("version", 0))


def _take_lock(meta) -> datetime | None:
    """The time of this desk's new lock, or None when another desk holds it."""
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored: milliseconds
    try:
        meta.insert_one({"_id": LOCK_DOC_ID, "at": now})
        return now
    except DuplicateKeyError:
        pass
    held = meta.find_one({"_id": LOCK_DOC_ID})
    if held is not None and now - _aware(held["at"]) > LOCK_STALE:
        meta.delete_one({"_id": LOCK_DOC_ID, "at": held["at"]})  # its desk died migrating
    return None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _migrate(store: Store, meta, applied: int) -> int:
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number <= applied:
            continue
        migration(store)  # idempotent: a desk that died half-way is followed by a full rerun
        upsert_one(meta, {"_id": SCHEMA_DOC_ID}, {"$max": {"version": number}})
        applied = number
    return applied
