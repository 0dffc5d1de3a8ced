"""Typed by-id storage for any entity: records in, records out, documents stay in here.

An entity declares its collection and how a record becomes a document and back:

    VEHICLES = RecordSpec("vehicles", to_doc=_vehicle_doc, from_doc=_vehicle)
    records = Records(store, VEHICLES)
    records.insert(vehicle); records.get(vehicle_id); records.update_if_version(v, 3)

Everything is an `_id` lookup, which the patched FerretDB answers from its index in about a
millisecond at any size. Documents are still spread over 256 partitions on FerretDB
(`partitioned=True`, the default) when the entity edits with compare-and-set: FerretDB pushes
down only a lone `_id` filter, so `{_id, version}` reads the whole collection it is given;
a partition keeps that at a few hundred documents. On MongoDB one collection holds them.

`update_if_version` is a compare-and-set that holds on FerretDB 1.24, which does not apply
`update_one({_id, version: n})` atomically (two connections racing on the same version
both match; measured with tests/test_client_concurrency.py). As in storage/revisions.py,
a writer first *claims* the version it read by inserting `{_id: "<id>:<version>"}` into
`<collection>_claims` (a unique `_id` insert is atomic everywhere); only the claimant
writes. The claim carries the update, so a writer that stopped between claim and write is
rolled forward by the next writer that meets its claim after a grace period.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pymongo.errors import DuplicateKeyError

from alko_desk.storage.mongo import Store

R = TypeVar("R")
ROLL_FORWARD_AFTER = timedelta(seconds=10)  # a claim this old without its write: the writer died


def id_part(record_id: str) -> str:
    """Ids from os.urandom / ObjectId hex: the last two hex digits spread evenly over 256 parts."""
    return record_id[-2:]


@dataclass(frozen=True)
class RecordSpec(Generic[R]):
    collection: str
    to_doc: Callable[[R], dict]  # must include "_id" (and "version" for update_if_version)
    from_doc: Callable[[dict], R]
    id_of: Callable[[R], str] = lambda r: r.id  # noqa: E731 - the usual `id` attribute
    version_field: str = "version"


class Records(Generic[R]):
    def __init__(self, store: Store, spec: RecordSpec[R]) -> None:
        self.spec = spec
        self._coll = store.partitioned_collection(spec.collection)
        self._claims = store.collection(f"{spec.collection}_claims")

    def get(self, record_id: str) -> R | None:
        doc = self._coll.find_one(id_part(record_id), record_id)
        return self.spec.from_doc(doc) if doc else None

    def insert(self, record: R) -> bool:
        """False when a record with this id exists already (a retried save)."""
        doc = self.spec.to_doc(record)
        try:
            self._coll.insert_one(id_part(doc["_id"]), doc)
        except DuplicateKeyError:
            return False
        return True

    def insert_many(self, records: list[R]) -> set[str]:
        """Bulk insert; returns the ids that existed already (left as they were)."""
        by_part: dict[str, list[dict]] = {}
        for record in records:
            doc = self.spec.to_doc(record)
            by_part.setdefault(id_part(doc["_id"]), []).append(doc)
        existing: set[str] = set()
        for part, docs in by_part.items():
            existing |= self._coll.insert_many_tolerant(part, docs)
        return existing

    def update_if_version(self, record: R, version: int) -> bool:
        """Saves `record` with version+1 only if the stored one is still at `version`.

        Of two writers from the same version exactly one gets True, on FerretDB too."""
        doc = self.spec.to_doc(record)
        record_id = doc.pop("_id")
        doc[self.spec.version_field] = version + 1
        claim_id = f"{record_id}:{version}"
        try:
            self._claims.insert_one({"_id": claim_id, "set": doc, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            self._roll_forward(record_id, version)
            return False
        written = self._write(record_id, version, doc)
        if written and version > 1:
            self._claims.delete_one({"_id": f"{record_id}:{version - 1}"})  # can never match again
        elif not written:
            self._claims.delete_one({"_id": claim_id})  # a stale base: nothing was claimed
        return written

    def _write(self, record_id: str, version: int, doc: dict) -> bool:
        cond = {self.spec.version_field: version}
        return self._coll.update_if(id_part(record_id), record_id, cond, {"$set": doc})

    def _roll_forward(self, record_id: str, version: int) -> None:
        """Completes the write of a claimant that stopped after its claim (after a grace)."""
        claim = self._claims.find_one({"_id": f"{record_id}:{version}"})
        if claim is None:
            return
        at = claim["at"] if claim["at"].tzinfo else claim["at"].replace(tzinfo=UTC)
        if datetime.now(UTC) - at > ROLL_FORWARD_AFTER:
            self._write(record_id, version, claim["set"])

    def set_fields(self, record_id: str, fields: dict[str, Any]) -> bool:
        """An unconditional partial update (counters, timestamps)."""
        return bool(self._coll.update_one(id_part(record_id), record_id, {"$set": fields}))

    def delete(self, record_id: str) -> bool:
        return bool(self._coll.delete_one(id_part(record_id), record_id))

    def all(self) -> Iterator[R]:
        """Every record, partition by partition: for rebuilding an index, never on a hot path."""
        for part in self._coll.part_keys():
            for doc in self._coll.find_all(part):
                yield self.spec.from_doc(doc)
