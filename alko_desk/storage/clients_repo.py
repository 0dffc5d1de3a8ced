"""Client documents, their data keys, blind-index lookups and the client list index.

Repositories take and return records (`ClientRecord`, `ClientListItem`), never documents.
Client documents stay in 256 partitions on FerretDB: with the patched `_id` index a lookup
costs ~1 ms at any size, but an edit's compare-and-set filters on `_id` and `version`,
which FerretDB answers by reading the whole (partition) collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from alko_desk.storage.app_index import IndexEntry, ListRepository, ListSpec
from alko_desk.storage.mongo import Store, repository
from alko_desk.storage.records import Records, RecordSpec
from alko_desk.storage.revisions import RevisionGuard


@dataclass(frozen=True)
class ClientRecord:
    """A client as stored: names and status in clear, every other personal field sealed."""

    id: str
    version: int
    status: str
    first_name: str
    last_name: str
    preferred_channel: str
    consent: dict[str, Any]  # granted, at, by, policy_version, source
    created_at: datetime
    created_by: str
    updated_at: datetime
    last_activity: datetime | None
    sealed: dict[str, bytes]  # field name -> ciphertext under the client's data key
    lookups: dict[str, str] = field(default_factory=dict)  # kind -> blind-index lookup id
    updated_by: str = ""
    mac: bytes = b""  # over id, version, names, status, channel, consent (services/clients.py)
    # The version the sealed fields are bound to, when a later version changed only plain
    # fields (a status); 0: the record's own version.
    sealed_version: int = 0

    @property
    def seal_version(self) -> int:
        return self.sealed_version or self.version


def _to_doc(r: ClientRecord) -> dict:
    return {
        "_id": r.id,
        "version": r.version,
        "status": r.status,
        "first_name": r.first_name,
        "last_name": r.last_name,
        "preferred_channel": r.preferred_channel,
        "consent": r.consent,
        "created_at": r.created_at,
        "created_by": r.created_by,
        "updated_at": r.updated_at,
        "updated_by": r.updated_by,
        "last_activity": r.last_activity,
        "enc": r.sealed,
        "lk": r.lookups,
        "mac": r.mac,
        "sv": r.sealed_version,  # always written: updates $set the document's fields
    }


def _from_doc(d: dict) -> ClientRecord:
    return ClientRecord(
        id=d["_id"],
        version=d["version"],
        status=d["status"],
        first_name=d["first_name"],
        last_name=d["last_name"],
        preferred_channel=d.get("preferred_channel", "email"),
        consent=dict(d.get("consent") or {}),
        created_at=d["created_at"],
        created_by=d.get("created_by", ""),
        updated_at=d["updated_at"],
        last_activity=d.get("last_activity") or d["updated_at"],
        sealed={k: bytes(v) for k, v in (d.get("enc") or {}).items()},
        lookups=dict(d.get("lk") or {}),
        updated_by=d.get("updated_by", ""),
        mac=bytes(d.get("mac") or b""),
        sealed_version=int(d.get("sv") or 0),
    )


CLIENT_RECORDS = RecordSpec("clients", to_doc=_to_doc, from_doc=_from_doc)


@repository
class ClientRepository:
    def __init__(self, store: Store) -> None:
        self._records = Records(store, CLIENT_RECORDS)

    def get(self, client_id: str) -> ClientRecord | None:
        return self._records.get(client_id)

    def insert(self, record: ClientRecord) -> bool:
        """False when a client with this id exists already (the same form saved twice)."""
        return self._records.insert(record)

    def insert_many(self, records: list[ClientRecord]) -> None:
        """Bulk insert; records already there (a retried batch) are left as they are."""
        self._records.insert_many(records)

    def update_if_version(self, record: ClientRecord, version: int) -> bool:
        """Saves `record` (with version+1) only if nobody saved since `version`."""
        return self._records.update_if_version(record, version)

    def all(self) -> Iterator[ClientRecord]:
        """Every client (for rebuilding the list index only)."""
        return self._records.all()


# -- the client list ------------------------------------------------------------------------
CLIENT_LIST = ListSpec(
    name="clients",
    sorts=("name", "status", "last_activity"),  # the first is the order of search results
    searchable=True,
)


@dataclass(frozen=True)
class ClientListItem:
    """One row of the client list as the index keeps it; city and phone sealed."""

    id: str
    first_name: str
    last_name: str
    status: str
    last_activity: str  # ISO 8601, or ""
    sealed_extra: str  # city and masked phone, sealed with the organisation's list key


@dataclass(frozen=True)
class ClientListKeys:
    """The keys a client is found and ordered by (computed by the service)."""

    name: str
    status: str
    last_activity: str
    words: tuple[str, ...]


def _item(record_id: str, payload: list) -> ClientListItem:
    return ClientListItem(record_id, *payload)


def _client_entry(listed: tuple[ClientListItem, ClientListKeys]) -> IndexEntry:
    item, k = listed
    return IndexEntry(
        id=item.id,
        keys={"name": k.name, "status": k.status, "last_activity": k.last_activity},
        payload=[
            item.first_name,
            item.last_name,
            item.status,
            item.last_activity,
            item.sealed_extra,
        ],
        words=k.words,
    )


class ClientListRepository(ListRepository[tuple[ClientListItem, ClientListKeys], ClientListItem]):
    """The client list: paging in every declared sort, name-prefix search, counts."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, CLIENT_LIST, entry=_client_entry, row=_item)


def _insert_tolerant(coll, docs: list[dict]) -> set:
    """Inserts in one command, skipping ids that exist already (a retried batch); returns those."""
    if not docs:
        return set()
    try:
        coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return {docs[e["index"]]["_id"] for e in errors}
    return set()


# Data keys and blind-index lookups are only ever read and written by `_id`, which the patched
# FerretDB answers from its index: one collection each, so a bulk insert is one command
# (schema migration 3 moved them out of the partitions they had before).


@repository
class ClientKeyRepository:
    """Wrapped data keys, one per client. Deleting one is crypto-shredding."""

    def __init__(self, store: Store) -> None:
        self._keys = store.collection("client_keys")

    def get(self, client_id: str) -> bytes | None:
        entry = self.get_entry(client_id)
        return entry[0] if entry else None

    def get_entry(self, client_id: str) -> tuple[bytes, int] | None:
        """(wrapped key, wrapping version): 1 under the organisation key, 2 under the
        "clients" tier key (keys by need)."""
        doc = self._keys.find_one({"_id": client_id})
        return (bytes(doc["wrapped"]), int(doc.get("v", 1))) if doc else None

    def insert(self, client_id: str, wrapped: bytes) -> bool:
        try:
            self._keys.insert_one({"_id": client_id, "wrapped": wrapped, "v": 2})
        except DuplicateKeyError:
            return False
        return True

    def insert_many(self, items: list[tuple[str, bytes]]) -> None:
        _insert_tolerant(self._keys, [{"_id": cid, "wrapped": w, "v": 2} for cid, w in items])

    def rewrap(self, client_id: str, wrapped: bytes) -> None:
        self._keys.update_one({"_id": client_id}, {"$set": {"wrapped": wrapped, "v": 2}})

    def destroy(self, client_id: str) -> None:
        self._keys.delete_one({"_id": client_id})


@repository
class LookupRepository:
    """Blind-index lookups: `_id` is "kind:hmac", the value the ids of clients with that value."""

    def __init__(self, store: Store) -> None:
        self._lookups = store.collection("client_lookups")
        # A lookup changes by compare-and-set: FerretDB 1.24 lost one of two $addToSet on
        # one document, and a client missing from a lookup is missed by exact search and by
        # the duplicate warning.
        self._claims = store.collection("client_lookup_claims")
        self._guard = RevisionGuard(self._lookups, self._claims)

    def clear(self) -> None:
        """Drops every lookup (their key changed: services/clients.py rebuilds them)."""
        self._lookups.delete_many({})
        self._claims.delete_many({})  # the revisions start again at 0

    def find(self, lookup_id: str) -> list[str]:
        doc = self._lookups.find_one({"_id": lookup_id})
        return list(doc["ids"]) if doc else []

    def add(self, lookup_id: str, client_id: str) -> None:
        self._change(lookup_id, lambda ids: ids + [c for c in [client_id] if c not in ids])

    def remove(self, lookup_id: str, client_id: str) -> None:
        self._change(lookup_id, lambda ids: [c for c in ids if c != client_id], create=False)

    def _change(self, lookup_id: str, change, *, create: bool = True) -> None:
        for _ in range(50):
            current = self._guard.settled(lookup_id, created=True)
            if current is None and not create:
                return
            ids = list((current or {}).get("ids", []))
            wanted = change(ids)
            if wanted == ids and current is not None:
                return
            rev = int((current or {}).get("rev", 0))
            if self._guard.replace_if(
                {"_id": lookup_id, "ids": wanted}, rev, create=current is None
            ):
                return
        raise RuntimeError(f"lookup {lookup_id} is changing too fast to update")

    def add_many(self, pairs: list[tuple[str, str]]) -> None:
        """Bulk path: plain inserts (cheap); compare-and-set only for values already present."""
        groups: dict[str, list[str]] = {}
        for lookup_id, cid in pairs:
            groups.setdefault(lookup_id, []).append(cid)
        existing = _insert_tolerant(
            self._lookups, [{"_id": lid, "ids": ids} for lid, ids in groups.items()]
        )
        for lid in existing:
            self._change(lid, lambda ids, new=groups[lid]: ids + [c for c in new if c not in ids])
