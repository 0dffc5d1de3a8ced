"""The shared, numbered change log: one small document per write, keyed by its number.

Appending inserts at head+1; the unique `_id` is the compare-and-set (as in the audit log).
Readers only look entries up by `_id`, so a desk polling the head costs one lookup.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from alko_desk.models.changes import Change, ChangeKind
from alko_desk.storage.mongo import Store, repository, upsert_one

HEAD_ID = "head"


def _entry_id(seq: int) -> str:
    return f"{seq:012d}"


@repository
class ChangeRepository:
    def __init__(self, store: Store) -> None:
        self._changes = store.collection("changes")

    def head_hint(self) -> int:
        doc = self._changes.find_one({"_id": HEAD_ID})
        return int(doc["seq"]) if doc else 0

    def get(self, seq: int) -> Change | None:
        doc = self._changes.find_one({"_id": _entry_id(seq)})
        if doc is None:
            return None
        return Change(
            seq=doc["seq"],
            entity=doc["entity"],
            kind=ChangeKind(doc["kind"]),
            ids=tuple(doc.get("ids") or ()),
            at=doc.get("at"),
        )

    def try_insert(
        self, seq: int, entity: str, kind: ChangeKind, ids: tuple[str, ...], at: datetime
    ) -> bool:
        """Claims number `seq`; False if another writer claimed it first."""
        try:
            self._changes.insert_one(
                {
                    "_id": _entry_id(seq),
                    "seq": seq,
                    "entity": entity,
                    "kind": kind.value,
                    "ids": list(ids),
                    "at": at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def advance_head(self, seq: int) -> None:
        upsert_one(self._changes, {"_id": HEAD_ID}, {"$max": {"seq": seq}})

    def delete(self, seq: int) -> None:
        self._changes.delete_one({"_id": _entry_id(seq)})
