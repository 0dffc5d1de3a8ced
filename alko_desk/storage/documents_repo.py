"""Document records (one database document per client, found by `_id`) and the store settings.

A client's documents are one database document whose `_id` is the client's id, in the
client's partition (see storage/mongo.py), holding a map from document id to record, so
that listing a client's documents is one `_id` lookup. Adding or deleting one rewrites that
document by compare-and-set (storage/revisions.py): FerretDB 1.24 does not isolate two
`$set`s on one document, and a record lost that way would leave its pages to be removed as
orphans by the reconciliation. The records hold asset ids and sealed metadata only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alko_desk.models.errors import AlkoError
from alko_desk.storage.mongo import Store, repository, upsert_one
from alko_desk.storage.records import id_part as client_part
from alko_desk.storage.revisions import RevisionGuard

COLLECTION = "client_documents"
SETTINGS_ID = "document_storage"


@repository
class DocumentRepository:
    def __init__(self, store: Store) -> None:
        self._docs = store.partitioned_collection(COLLECTION)
        self._claims = store.collection(f"{COLLECTION}_claims")

    def for_client(self, client_id: str) -> dict[str, dict[str, Any]]:
        found = self._docs.find_one(client_part(client_id), client_id)
        return dict((found or {}).get("docs", {}))

    def put(self, client_id: str, doc_id: str, record: dict[str, Any]) -> None:
        self._change(client_id, lambda docs: docs.__setitem__(doc_id, record))

    def replace_if_unchanged(
        self, client_id: str, doc_id: str, expected_meta: bytes, record: dict[str, Any]
    ) -> bool:
        """Writes `record` only while the stored one still has `expected_meta` (not deleted
        or replaced meanwhile); True when it did. By compare-and-set like every other change
        of the client's documents, so that no desk's older copy can put the old one back."""
        switched = False

        def change(docs: dict[str, Any]) -> None:
            nonlocal switched
            current = docs.get(doc_id)
            switched = current is not None and bytes(current.get("meta", b"")) == expected_meta
            if switched:
                docs[doc_id] = record

        self._change(client_id, change)
        return switched

    def remove(self, client_id: str, doc_id: str) -> None:
        self._change(client_id, lambda docs: docs.pop(doc_id, None))

    def _change(self, client_id: str, change: Callable[[dict[str, Any]], Any]) -> None:
        key = client_part(client_id)
        guard = RevisionGuard(self._docs.part(key)[0], self._claims)
        for _ in range(50):
            current = guard.settled(client_id, created=True)
            docs = dict((current or {}).get("docs", {}))
            change(docs)
            new = self._docs.tag(key, {"_id": client_id, "docs": docs})
            if guard.replace_if(new, int((current or {}).get("rev", 0)), create=current is None):
                return
        raise AlkoError(
            "This client's documents are being changed on other desks.",
            hint="Try again in a moment.",
        )

    def all_records(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(client id, document id, record) of every document (reads all partitions)."""
        found = []
        for part in self._docs.part_keys():
            for doc in self._docs.find_all(part):
                for doc_id, record in doc.get("docs", {}).items():
                    found.append((doc["_id"], doc_id, record))
        return found

    def asset_ids(self) -> set[str]:
        """Every asset id any record refers to (the reconciliation reads all partitions)."""
        found: set[str] = set()
        for part in self._docs.part_keys():
            for doc in self._docs.find_all(part):
                for record in doc.get("docs", {}).values():
                    found.update(page["asset_id"] for page in record.get("pages", []))
        return found

    def ensure_indexes(self) -> None:
        self._docs.ensure_indexes()


@repository
class DocumentSettingsRepository:
    """Where documents go: the sealed Cloudinary credentials, or a folder. One document in `meta`."""

    def __init__(self, store: Store) -> None:
        self._meta = store.collection("meta")

    def get(self) -> dict[str, Any]:
        doc = self._meta.find_one({"_id": SETTINGS_ID}) or {}
        doc.pop("_id", None)
        return doc

    def update(self, changes: dict[str, Any], removed: tuple[str, ...] = ()) -> None:
        update: dict[str, Any] = {}
        if changes:
            update["$set"] = changes
        if removed:
            update["$unset"] = dict.fromkeys(removed, "")
        if update:
            upsert_one(self._meta, {"_id": SETTINGS_ID}, update)  # two desks' first save
