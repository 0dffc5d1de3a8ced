"""Signed audit checkpoints, where every desk and the server can read them."""

from __future__ import annotations

from alko_desk.models.checkpoints import AuditCheckpoint
from alko_desk.storage.mongo import Store


class CheckpointRepository:
    def __init__(self, store: Store) -> None:
        self._collection = store.collection("audit_checkpoints")

    def add(self, cp: AuditCheckpoint) -> None:
        self._collection.replace_one(
            {"_id": f"{cp.seq:012d}"},
            {
                "scope": cp.scope,
                "seq": cp.seq,
                "head_hash": cp.head_hash,
                "time": cp.time,
                "signature": cp.signature,
            },
            upsert=True,
        )

    def all(self) -> list[AuditCheckpoint]:
        return [
            AuditCheckpoint(d["scope"], d["seq"], d["head_hash"], d["time"], d["signature"])
            for d in self._collection.find({})
        ]
