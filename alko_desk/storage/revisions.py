"""Compare-and-set on one document that holds on FerretDB 1.24.

FerretDB 1.24 (SQLite) does not apply `replace_one({_id, rev: r})` atomically: two
connections racing on the same revision both match (measured: 49 of 50 rounds). A unique
`_id` insert is atomic on every backend, so a write first *claims* the revision it read,
`{_id: "<doc id>:<rev>"}` in a claims collection; exactly one writer gets each revision, then
replaces the document with rev + 1. The claim carries the new document, so a writer that
crashed between claim and write is rolled forward by the next reader after a grace period
(the same document the writer would have written: rolling forward twice is harmless).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

ROLL_FORWARD_AFTER = timedelta(seconds=10)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class RevisionGuard:
    def __init__(self, documents: Collection, claims: Collection) -> None:
        self._docs = documents
        self._claims = claims

    def replace_if(self, doc: dict[str, Any], expected_rev: int, *, create: bool = False) -> bool:
        """Writes `doc` as revision expected_rev + 1 if nobody else wrote over expected_rev.

        `create`: the document may not exist yet (it is inserted)."""
        doc = {**doc, "rev": expected_rev + 1}
        try:
            self._claims.insert_one(
                {"_id": f"{doc['_id']}:{expected_rev}", "doc": doc, "at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            return False
        result = self._docs.replace_one({"_id": doc["_id"]}, doc, upsert=create)
        # Deleted meanwhile (an import undone, a deal removed): nothing was written.
        return create or result.matched_count == 1

    def settled(
        self, doc_id: str, *, wait_s: float = 3.0, follow: bool = False, created: bool = False
    ) -> dict | None:
        """The document once no claimed write on it is in flight (waits a moment for one).

        A document without `rev` is at revision 0, as its writers take it. `follow`: after
        rolling a claim forward, keeps going while the next revision is claimed too (an older
        copy of the document put back over later writes is undone entirely). `created`: the
        document is made by `replace_if(create=True)`, so a missing one whose creation was
        claimed (its writer died before the insert) is rolled forward too; never for
        documents that are deleted, whose first claim would bring them back."""
        deadline = time.monotonic() + wait_s
        while True:
            doc = self._docs.find_one({"_id": doc_id})
            if doc is None and not created:
                return None
            rev = doc.get("rev", 0) if doc is not None else 0
            claim = self._claims.find_one({"_id": f"{doc_id}:{rev}"})
            if claim is None:
                return doc
            stale = datetime.now(UTC) - _aware(claim["at"]) > ROLL_FORWARD_AFTER
            if stale or time.monotonic() > deadline:
                self._docs.replace_one({"_id": doc_id}, claim["doc"], upsert=doc is None)
                if not follow:
                    return claim["doc"]
                continue
            time.sleep(0.005)

    def forget(self, doc_id: str, rev: int) -> None:
        """Drops the claims of a deleted document (by `_id`, newest first)."""
        for r in range(rev, 0, -1):
            if self._claims.delete_one({"_id": f"{doc_id}:{r}"}).deleted_count == 0 and r < rev:
                break
