"""Client documents, their data keys, blind-index lookups and the name directory.

Every hot path ends in an `_id` lookup inside a small partition (see storage/mongo.py).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from alko_desk.storage.mongo import Store, repository

DIRECTORY_COUNTS_ID = "client_directory_counts"


class DirectoryEntry(NamedTuple):
    """One name word of one client in the directory, exactly as stored (decoded only when shown)."""

    id: str  # "client_id:n"
    c: str  # the client's id
    t: str  # the folded word
    k: str  # sort key: folded last name, first name, client id
    p: int  # 1 for the client's one primary entry (the list row), 0 for search-only words
    n: str  # the name as shown
    s: str  # status
    a: str  # last activity, ISO 8601, or ""
    x: str  # city and masked phone, sealed with the directory key, base64


CHUNK = 400  # directory entries per packed chunk


def client_part(client_id: str) -> str:
    """ObjectId hex ids end in a counter, so their last two hex digits spread evenly over 256 parts."""
    return client_id[-2:]


def lookup_part(lookup_id: str) -> str:
    return lookup_id.split(":", 1)[1][:2]


def _insert_many_tolerant(coll, docs: list[dict]) -> set:
    """Inserts, ignoring ids that already exist (a retried batch); returns the ids that did."""
    try:
        coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        dupes = {
            docs[e["index"]]["_id"]
            for e in exc.details.get("writeErrors", [])
            if e.get("code") == 11000
        }
        others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
        if others:
            raise
        return dupes
    return set()


@repository
class ClientRepository:
    def __init__(self, store: Store) -> None:
        self._clients = store.partitioned_collection("clients")

    def get(self, client_id: str) -> dict | None:
        return self._clients.find_one(client_part(client_id), client_id)

    def insert(self, doc: dict) -> bool:
        """False when a client with this id exists already (the same form saved twice)."""
        try:
            self._clients.insert_one(client_part(doc["_id"]), doc)
        except DuplicateKeyError:
            return False
        return True

    def insert_many(self, docs: list[dict]) -> None:
        by_part: dict[str, list[dict]] = {}
        for doc in docs:
            by_part.setdefault(client_part(doc["_id"]), []).append(doc)
        for part, group in by_part.items():
            coll, _ = self._clients.part(part)
            _insert_many_tolerant(coll, [self._clients.tag(part, doc) for doc in group])

    def update_if_version(self, client_id: str, version: int, fields: dict[str, Any]) -> bool:
        """Optimistic concurrency: only if nobody saved since `version`."""
        coll, _ = self._clients.part(client_part(client_id))
        result = coll.update_one(
            {"_id": client_id, "version": version}, {"$set": {**fields, "version": version + 1}}
        )
        return result.matched_count == 1

    def touch(self, client_id: str, fields: dict[str, Any]) -> None:
        self._clients.update_one(client_part(client_id), client_id, {"$set": fields})


@repository
class ClientKeyRepository:
    """Wrapped data keys, one per client. Deleting one is crypto-shredding."""

    def __init__(self, store: Store) -> None:
        self._keys = store.partitioned_collection("client_keys")

    def get(self, client_id: str) -> bytes | None:
        doc = self._keys.find_one(client_part(client_id), client_id)
        return bytes(doc["wrapped"]) if doc else None

    def insert(self, client_id: str, wrapped: bytes) -> bool:
        try:
            self._keys.insert_one(client_part(client_id), {"_id": client_id, "wrapped": wrapped})
        except DuplicateKeyError:
            return False
        return True

    def insert_many(self, items: list[tuple[str, bytes]]) -> None:
        by_part: dict[str, list[dict]] = {}
        for cid, wrapped in items:
            by_part.setdefault(client_part(cid), []).append({"_id": cid, "wrapped": wrapped})
        for part, group in by_part.items():
            self._keys.insert_many(part, group)

    def destroy(self, client_id: str) -> None:
        self._keys.delete_one(client_part(client_id), client_id)


@repository
class LookupRepository:
    """Blind-index lookups: `_id` is "kind:hmac", the value the ids of clients with that value."""

    def __init__(self, store: Store) -> None:
        self._lookups = store.partitioned_collection("client_lookups")

    def find(self, lookup_id: str) -> list[str]:
        doc = self._lookups.find_one(lookup_part(lookup_id), lookup_id)
        return list(doc["ids"]) if doc else []

    def add(self, lookup_id: str, client_id: str) -> None:
        self._lookups.update_one(
            lookup_part(lookup_id), lookup_id, {"$addToSet": {"ids": client_id}}, upsert=True
        )

    def remove(self, lookup_id: str, client_id: str) -> None:
        self._lookups.update_one(lookup_part(lookup_id), lookup_id, {"$pull": {"ids": client_id}})

    def add_many(self, pairs: list[tuple[str, str]]) -> None:
        """Bulk path for seeding: plain inserts (cheap), $addToSet only for values already present."""
        by_part: dict[str, dict[str, list[str]]] = {}
        for lookup_id, cid in pairs:
            by_part.setdefault(lookup_part(lookup_id), {}).setdefault(lookup_id, []).append(cid)
        for part, groups in by_part.items():
            coll, _ = self._lookups.part(part)
            docs = [
                self._lookups.tag(part, {"_id": lid, "ids": ids}) for lid, ids in groups.items()
            ]
            existing = _insert_many_tolerant(coll, docs)
            if existing:
                coll.bulk_write(
                    [
                        UpdateOne({"_id": lid}, {"$addToSet": {"ids": {"$each": groups[lid]}}})
                        for lid in existing
                    ]
                )


@repository
class DirectoryRepository:
    """The name directory, one partition per first letters of a name word.

    FerretDB spends ~30 µs decoding each document it returns, so a partition is
    not a document per entry: it is one packed "base" document holding all its
    entries, plus small "delta" documents (one per changed entry, latest state
    wins) that a compaction folds into the base. Writers insert deltas; readers
    read the base and the deltas; compaction swaps the base by compare-and-set
    on its revision and deletes only the deltas it folded in unchanged.
    """

    COMPACT_AFTER = 48

    def __init__(self, store: Store) -> None:
        self._parts = store.partitioned_collection("client_directory")
        self._meta = store.collection("meta")

    # -- reading -------------------------------------------------------------------------
    def read_part(self, part: str) -> list[DirectoryEntry]:
        entries, deltas, _ = self._read(part)
        if len(deltas) > self.COMPACT_AFTER:
            self.compact(part)
        return list(entries.values())

    def _read(self, part: str) -> tuple[dict[str, DirectoryEntry], dict[str, Any], int]:
        base_rev, entries, deltas = 0, {}, {}
        for doc in self._parts.find_all(part):
            if doc["_id"] == _base_id(part):
                base_rev = doc["rev"]
                for chunk in doc["v"]:  # chunks, so no single decode holds the GIL for long
                    entries.update(
                        (e[0], DirectoryEntry._make(e)) for e in json.loads(bytes(chunk))
                    )
            else:
                deltas[doc["_id"]] = doc.get("v")
        for delta_id, packed in deltas.items():
            entry_id = delta_id.split("|", 1)[1]
            if packed is None:
                entries.pop(entry_id, None)
            else:
                entries[entry_id] = DirectoryEntry._make(json.loads(bytes(packed)))
        return entries, deltas, base_rev

    def counts_doc(self) -> dict:
        """{"rows": {part: list rows}, "entries": {part: all entries}}."""
        return self._meta.find_one({"_id": DIRECTORY_COUNTS_ID}) or {}

    # -- writing -------------------------------------------------------------------------
    def adjust_counts(self, deltas: dict[str, int]) -> None:
        """Atomic $inc of dotted counters such as "rows.ko"."""
        if deltas:
            self._meta.update_one({"_id": DIRECTORY_COUNTS_ID}, {"$inc": deltas}, upsert=True)

    def set_counts(self, part: str, rows: int, entries: int) -> None:
        self._meta.update_one(
            {"_id": DIRECTORY_COUNTS_ID},
            {"$set": {f"rows.{part}": rows, f"entries.{part}": entries}},
            upsert=True,
        )

    def put(self, part: str, entry: DirectoryEntry) -> None:
        self._parts.replace_one(
            part,
            {
                "_id": f"{part}|{entry.id}",
                "v": json.dumps(list(entry), ensure_ascii=False).encode(),
            },
        )

    def remove(self, part: str, entry_id: str) -> None:
        self._parts.replace_one(part, {"_id": f"{part}|{entry_id}", "v": None})

    def insert_many(self, part: str, entries: list[DirectoryEntry]) -> None:
        """Bulk path (seeding, imports): folded straight into the base."""
        self.compact(part, entries)

    def compact(self, part: str, extra: list[DirectoryEntry] | None = None) -> None:
        for _ in range(20):
            entries, deltas, rev = self._read(part)
            for entry in extra or []:
                entries[entry.id] = entry
            packed = [list(e) for e in entries.values()]
            blob = [
                json.dumps(packed[i : i + CHUNK], ensure_ascii=False).encode()
                for i in range(0, len(packed), CHUNK)
            ]
            coll, _ = self._parts.part(part)
            if rev == 0:
                try:
                    self._parts.insert_one(part, {"_id": _base_id(part), "rev": 1, "v": blob})
                except DuplicateKeyError:
                    continue  # another desk compacted first: read again
            elif (
                coll.update_one(
                    {"_id": _base_id(part), "rev": rev}, {"$set": {"v": blob, "rev": rev + 1}}
                ).matched_count
                == 0
            ):
                continue
            if deltas:  # only the deltas folded in, and only if nobody changed them since
                coll.delete_many({"$or": [{"_id": d, "v": v} for d, v in deltas.items()]})
            return
        raise RuntimeError(f"directory partition {part} is too busy to compact")


def _base_id(part: str) -> str:
    return f"{part}|~base"


@repository
class PendingRepository:
    """Intents of multi-document changes, so that an interrupted one is finished at next start."""

    def __init__(self, store: Store) -> None:
        self._pending = store.collection("pending_ops")

    def begin(self, op_id: str, doc: dict) -> None:
        self._pending.replace_one({"_id": op_id}, {"_id": op_id, **doc}, upsert=True)

    def done(self, op_id: str) -> None:
        self._pending.delete_one({"_id": op_id})

    def all(self) -> list[dict]:
        return list(self._pending.find({}))
