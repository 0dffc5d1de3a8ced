"""Connecting to MongoDB or the embedded FerretDB, and partitioned collections.

FerretDB 1.24 on SQLite answers every filter but a lone `_id` equality by reading the
whole collection. With the project's patched build (scripts/ferretdb-patches) an `_id`
lookup, update or delete uses the `_id` index: about 1 ms at any size (unpatched it
scanned too: ~160 ms find_one, ~700 ms update_one at 100,000 documents). A compare-and-set
(`{_id, version}`) still reads the whole collection it is given (8.7 s at 100,000
documents, 34 ms in a 400-document partition), so collections edited that way are split
into 256 small physical collections ("partitions") on FerretDB; on a real MongoDB one
collection holds them all, with the partition as an indexed field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pymongo
from bson.codec_options import CodecOptions
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConfigurationError, DuplicateKeyError, PyMongoError

from alko_desk.models.errors import DatabaseUnavailable

PART_FIELD = "_part"


def connect(uri: str, *, timeout_ms: int = 4000) -> pymongo.MongoClient:
    try:
        return pymongo.MongoClient(
            uri,
            tz_aware=True,
            tzinfo=UTC,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            appname="alko-desk",
        )
    except (ConfigurationError, ValueError) as exc:
        raise DatabaseUnavailable(
            f"The database address is not valid: {exc}",
            hint="Open Settings and correct the MongoDB URI.",
        ) from None


@dataclass(frozen=True)
class ServerInfo:
    version: str
    ferretdb_version: str | None

    @property
    def is_ferretdb(self) -> bool:
        return self.ferretdb_version is not None

    @property
    def label(self) -> str:
        if self.ferretdb_version:
            return f"FerretDB {self.ferretdb_version}"
        return f"MongoDB {self.version}"


def server_info(db: Database) -> ServerInfo:
    info = db.command("buildInfo")
    return ServerInfo(
        version=str(info.get("version", "?")), ferretdb_version=info.get("ferretdbVersion")
    )


class Store:
    """A database plus the knowledge of how to partition it. Repositories take one of these."""

    def __init__(self, db: Database, info: ServerInfo) -> None:
        self.db = db.with_options(codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))
        self.info = info
        self.partitioned = info.is_ferretdb

    @classmethod
    def open(cls, client: pymongo.MongoClient, name: str) -> Store:
        db = client[name]
        try:
            info = server_info(db)
        except PyMongoError as exc:
            raise unavailable(exc) from None
        return cls(db, info)

    def collection(self, name: str) -> Collection:
        return self.db[name]

    def partitioned_collection(self, name: str) -> PartitionedCollection:
        return PartitionedCollection(self, name)


class PartitionedCollection:
    """One logical collection whose documents are grouped by a partition key.

    On FerretDB each partition is a physical collection `name.part`; elsewhere all
    live in `name`, tagged with `_part`, and filtered through an index on it.
    """

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self.name = name

    @property
    def physical(self) -> bool:
        return self._store.partitioned

    def part(self, key: str) -> tuple[Collection, dict[str, Any]]:
        if self.physical:
            return self._store.db[f"{self.name}.{key}"], {}
        return self._store.db[self.name], {PART_FIELD: key}

    def tag(self, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        return doc if self.physical else {**doc, PART_FIELD: key}

    def find_one(self, key: str, doc_id: Any) -> dict | None:
        coll, _ = self.part(key)
        return coll.find_one({"_id": doc_id})

    def find_all(self, key: str) -> list[dict]:
        coll, filt = self.part(key)
        return list(coll.find(filt))

    def insert_one(self, key: str, doc: dict) -> None:
        coll, _ = self.part(key)
        coll.insert_one(self.tag(key, doc))

    def insert_many(self, key: str, docs: list[dict]) -> None:
        if docs:
            coll, _ = self.part(key)
            coll.insert_many([self.tag(key, d) for d in docs], ordered=False)

    def insert_many_tolerant(self, key: str, docs: list[dict]) -> set:
        """Inserts, skipping ids that exist already (a retried batch); returns those ids."""
        if not docs:
            return set()
        coll, _ = self.part(key)
        try:
            coll.insert_many([self.tag(key, d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    def update_if(self, key: str, doc_id: Any, condition: dict, update: dict) -> bool:
        """An update only if the document also matches `condition` (compare-and-set).

        FerretDB pushes down only a lone `_id` filter, so this filter scans the partition:
        the reason compare-and-set collections stay partitioned.
        """
        coll, _ = self.part(key)
        return coll.update_one({"_id": doc_id, **condition}, update).matched_count == 1

    def replace_one(self, key: str, doc: dict, *, upsert: bool = True) -> None:
        coll, _ = self.part(key)
        coll.replace_one({"_id": doc["_id"]}, self.tag(key, doc), upsert=upsert)

    def update_one(self, key: str, doc_id: Any, update: dict, *, upsert: bool = False) -> int:
        coll, _ = self.part(key)
        if not upsert:
            return coll.update_one({"_id": doc_id}, update).matched_count
        if not self.physical:
            update = {**update, "$setOnInsert": {**update.get("$setOnInsert", {}), PART_FIELD: key}}
        return upsert_one(coll, {"_id": doc_id}, update)

    def delete_one(self, key: str, doc_id: Any) -> int:
        coll, _ = self.part(key)
        return coll.delete_one({"_id": doc_id}).deleted_count

    def part_keys(self) -> list[str]:
        if self.physical:
            prefix = self.name + "."
            return sorted(
                n[len(prefix) :]
                for n in self._store.db.list_collection_names()
                if n.startswith(prefix)
            )
        return sorted(self._store.db[self.name].distinct(PART_FIELD))

    def ensure_indexes(self) -> None:
        if not self.physical:
            self._store.db[self.name].create_index(PART_FIELD, name="by_part")


def upsert_one(coll: Collection, filter_: dict[str, Any], update: dict[str, Any]) -> int:
    """update_one with upsert that survives two desks creating the same document at once.

    Both may find no document and both insert; the loser gets a duplicate key (FerretDB
    never retries it, MongoDB only sometimes). The document exists by then, so a plain
    update applies this desk's change to it. Returns the matched count of the write that landed.
    FerretDB 1.24 does not isolate two operator updates of one document (one `$max` can be
    lost), so what this keeps is a hint that readers walk forward from, never a counter.
    """
    try:
        return coll.update_one(filter_, update, upsert=True).matched_count
    except DuplicateKeyError:
        return coll.update_one(filter_, update).matched_count


def replace_upsert(coll: Collection, filter_: dict[str, Any], doc: dict[str, Any]) -> None:
    """replace_one with upsert that survives two desks creating the same document at once
    (two sales desks requesting an invoice for one deal, two desks saving first settings).

    As in `upsert_one`: the loser of the insert race gets a duplicate key, and the document
    exists by then, so a plain replace writes this desk's version over it (the last writer
    wins, as between two replaces of an existing document). Should it be gone again by then
    (deleted meanwhile), the upsert is tried once more."""
    for _ in range(3):
        try:
            coll.replace_one(filter_, doc, upsert=True)
            return
        except DuplicateKeyError:
            if coll.replace_one(filter_, doc).matched_count == 1:
                return
    coll.replace_one(filter_, doc, upsert=True)


_CONNECTION_ERRORS = (pymongo.errors.ConnectionFailure, pymongo.errors.NetworkTimeout)


def repository(cls):
    """Class decorator: a lost connection surfaces from any repository method as DatabaseUnavailable."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not callable(member):
            continue
        setattr(cls, name, _translating(member))
    return cls


def _translating(method):
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            raise unavailable(exc) from None

    return wrapper


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "The database cannot be reached.",
        hint="Check that the database server is running and the network is up, then choose Retry. "
        f"An admin can change the database in Settings. (Detail: {type(exc).__name__})",
    )
