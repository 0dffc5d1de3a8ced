"""The intent log's documents: multi-document writes an interruption may have left half-done.

A handful of documents at any time (each is deleted when its write finishes), so listing
them all is cheap on FerretDB too. Each records its writer and when it last renewed its lease
(`at`); services/intents.py decides from those whether recovery may take it.
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
    at: datetime | None = None  # when begun or last renewed; None: a work order (migration)
    # who is writing it (services/intents.py Leases): host, pid, process start, desk run
    writer: dict[str, Any] | None = None


@repository
class IntentRepository:
    def __init__(self, store: Store) -> None:
        self._intents = store.collection("pending_ops")

    def begin(self, intent: IntentRecord) -> None:
        doc = {"_id": intent.id, "kind": intent.kind, "data": intent.data, "at": intent.at}
        if intent.writer is not None:
            doc["writer"] = intent.writer
        try:
            self._intents.replace_one({"_id": intent.id}, doc, upsert=True)
        except DuplicateKeyError:
            # two desks opened the same intent at once (FerretDB does not retry a racing
            # upsert): the other one's insert won, so this is now a plain replace
            self._intents.replace_one({"_id": intent.id}, doc, upsert=True)

    def renew(self, intent_ids: list[str], at: datetime) -> None:
        """Their writer is still at work: `at` moves on (a deleted one is not brought back)."""
        if len(intent_ids) == 1:  # _id equality: no scan of the collection
            self._intents.update_one({"_id": intent_ids[0]}, {"$set": {"at": at}})
        elif intent_ids:  # one pass over the few open intents
            self._intents.update_many({"_id": {"$in": intent_ids}}, {"$set": {"at": at}})

    def done(self, intent_id: str, *, run: str | None = None, at: object = ...) -> None:
        """Deletes the intent; with `run`, only one that run wrote (a losing racer must not
        delete the winner's); with `at`, only the version renewed then (recovery's)."""
        query: dict[str, Any] = {"_id": intent_id}
        if run is not None:
            query["$or"] = [{"writer.run": run}, {"writer": {"$exists": False}}]
        if at is not ...:
            query["at"] = at
        self._intents.delete_one(query)

    def all(self) -> list[IntentRecord]:
        return [
            IntentRecord(d["_id"], d.get("kind", ""), _data(d), d.get("at"), d.get("writer"))
            for d in self._intents.find({})
        ]


def _data(doc: dict) -> dict[str, Any]:
    if "data" in doc:
        return dict(doc["data"] or {})
    # written before the intent log (kind and fields side by side)
    return {k: v for k, v in doc.items() if k not in ("_id", "kind", "at", "writer")}
