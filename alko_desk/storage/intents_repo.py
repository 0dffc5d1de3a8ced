"""The intent log's documents: multi-document writes an interruption may have left half-done.

A handful of documents at any time (each is deleted when its write finishes), so listing
them all is cheap on FerretDB too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from alko_desk.storage.mongo import Store, repository


@dataclass(frozen=True)
class IntentRecord:
    id: str  # "<kind>:<key>", so that a retried write reuses its intent
    kind: str  # "clients.register", "deals.reserve", ...
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@repository
class IntentRepository:
    def __init__(self, store: Store) -> None:
        self._intents = store.collection("pending_ops")

    def begin(self, intent: IntentRecord) -> None:
        doc = {"_id": intent.id, "kind": intent.kind, "data": intent.data, "at": intent.at}
        try:
            self._intents.replace_one({"_id": intent.id}, doc, upsert=True)
        except DuplicateKeyError:
            # two desks opened the same intent at once (FerretDB does not retry a racing
            # upsert): the other one's insert won, so this is now a plain replace
            self._intents.replace_one({"_id": intent.id}, doc, upsert=True)

    def done(self, intent_id: str) -> None:
        self._intents.delete_one({"_id": intent_id})

    def all(self) -> list[IntentRecord]:
        return [
            IntentRecord(d["_id"], d.get("kind", ""), _data(d), d.get("at"))
            for d in self._intents.find({})
        ]


def _data(doc: dict) -> dict[str, Any]:
    if "data" in doc:
        return dict(doc["data"] or {})
    # written before the intent log (kind and fields side by side)
    return {k: v for k, v in doc.items() if k not in ("_id", "kind", "at")}
