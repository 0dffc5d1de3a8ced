"""Vehicles: records in, records out. Every write and lookup is by `_id`.

- `vehicles`: one document per vehicle, `_id` = the vehicle id. `rev` counts writes; a
  reservation is a single-document compare-and-set on (`_id`, `rev`).
- `vehicle_vins`: the guard that keeps one VIN in stock once, `_id` = the VIN. It points to
  the vehicle holding the VIN; a delivered vehicle (or a crash's orphan guard) gives it up.
- `vehicle_imports`: an import in progress names the vehicles it has written, so that a
  cancelled or crashed import is undone whole.

- `ix_vehicles`: the list index (storage/app_index.py through storage/doc_lists.py), kept
  by every write here: a sort per column, status, make and model as equality filters,
  price, model year and arrival (days in stock) as ranges; only the "contains" text is
  checked entry by entry. `page` is the one place that lists vehicles; it never reads the
  vehicle documents, and never writes (the index is built by the writes and, for a
  database from before it, by a schema migration).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import DeleteOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from alko_desk.models.listing import Page
from alko_desk.models.money import Money
from alko_desk.models.vehicles import (
    Condition,
    Fuel,
    Transmission,
    Vehicle,
    VehicleDraft,
    VehicleFilter,
    VehicleSort,
    VehicleStatus,
    list_fields,
)
from alko_desk.storage.app_index import ListSpec, Where
from alko_desk.storage.doc_lists import DocList, Listed, number, part, stamp, stored
from alko_desk.storage.mongo import Store, repository
from alko_desk.storage.revisions import RevisionGuard

DUPLICATE_KEY = 11000
# A VIN guard whose vehicle was never written is a crash's leftover only after this long:
# until then a desk may be between claiming the VIN and writing the vehicle.
VIN_ORPHAN_GRACE = timedelta(minutes=2)


def _now() -> datetime:
    return datetime.now(UTC)


def _money(doc: dict | None) -> Money | None:
    return Money.from_storage(doc) if doc else None


def draft_to_doc(d: VehicleDraft) -> dict[str, Any]:
    return {
        "vin": d.vin,
        "make": d.make,
        "model": d.model,
        "trim": d.trim,
        "model_year": d.model_year,
        "first_registration": d.first_registration.isoformat() if d.first_registration else None,
        "colour": d.colour,
        "fuel": d.fuel.value,
        "transmission": d.transmission.value,
        "mileage_km": d.mileage_km,
        "condition": d.condition.value,
        "purchase_cost": d.purchase_cost.to_storage() if d.purchase_cost else None,
        "acquired_without_vat": d.acquired_without_vat,
        "list_price": d.list_price.to_storage(),
        "location": d.location,
        "photos": list(d.photos),
    }


def draft_from_doc(doc: dict[str, Any]) -> VehicleDraft:
    first = doc.get("first_registration")
    return VehicleDraft(
        vin=doc["vin"],
        make=doc.get("make", ""),
        model=doc.get("model", ""),
        trim=doc.get("trim", ""),
        model_year=doc.get("model_year"),
        first_registration=date.fromisoformat(first) if first else None,
        colour=doc.get("colour", ""),
        fuel=Fuel(doc.get("fuel", "petrol")),
        transmission=Transmission(doc.get("transmission", "manual")),
        mileage_km=int(doc.get("mileage_km", 0)),
        condition=Condition(doc.get("condition", "new")),
        purchase_cost=_money(doc.get("purchase_cost")),
        acquired_without_vat=bool(doc.get("acquired_without_vat", False)),
        list_price=Money.from_storage(doc["list_price"]),
        location=doc.get("location", ""),
        photos=tuple(doc.get("photos", ())),
    )


def vehicle_to_doc(v: Vehicle) -> dict[str, Any]:
    return {
        "_id": v.id,
        **draft_to_doc(v.draft),
        "status": v.status.value,
        "added_at": v.added_at,
        "updated_at": v.updated_at,
        "rev": v.rev,
        "reserved_by": v.reserved_by,
        "reserved_until": v.reserved_until,
        "vin_warning": v.vin_warning,
        # the price as a number too, for a native index on MongoDB later
        "price_sort": float(v.draft.list_price.amount),
    }


def vehicle_from_doc(doc: dict[str, Any]) -> Vehicle:
    return Vehicle(
        id=doc["_id"],
        draft=draft_from_doc(doc),
        status=VehicleStatus(doc["status"]),
        added_at=doc["added_at"],
        updated_at=doc["updated_at"],
        rev=int(doc.get("rev", 1)),
        reserved_by=doc.get("reserved_by", ""),
        reserved_until=doc.get("reserved_until"),
        vin_warning=doc.get("vin_warning", ""),
    )


VEHICLE_LIST = ListSpec(
    name="vehicles",
    sorts=("added", "make", "price", "year", "mileage", "status"),
    equal=("status", "make", "model"),
    ranges=("added", "price", "year"),  # days in stock bound the arrival date
)
STATUS_ORDER = {s: str(i) for i, s in enumerate(VehicleStatus)}
# sort -> (tree, flips the direction): fewer days in stock is a later arrival
_TREES = {
    VehicleSort.ADDED: ("added", False),
    VehicleSort.MAKE: ("make", False),
    VehicleSort.PRICE: ("price", False),
    VehicleSort.YEAR: ("year", False),
    VehicleSort.MILEAGE: ("mileage", False),
    VehicleSort.DAYS_IN_STOCK: ("added", True),
    VehicleSort.STATUS: ("status", False),
}


def _listed(v: Vehicle) -> Listed:
    v = replace(v, added_at=stored(v.added_at))  # as read back: the entry must not differ
    d = v.draft
    added = stamp(v.added_at)
    keys = {
        "added": added,
        "make": part(d.make.casefold(), d.model.casefold()),
        "price": number(d.list_price.amount * 100),
        "year": number(d.model_year or 0, 4),
        "mileage": number(d.mileage_km, 10),
        "status": part(STATUS_ORDER[v.status]) + added,
    }
    equal = {"status": v.status.value, "make": d.make.casefold(), "model": d.model.casefold()}
    return Listed(v.id, keys, list_fields(v), vehicle_to_doc(v), equal=equal)


def _cents(amount, rounding) -> str:
    return number(rounding(amount * 100))


def _where(filters: VehicleFilter, now: datetime) -> tuple[Where, Callable[[list], bool] | None]:
    """The filters as the index serves them, and the "contains" text it checks entry by
    entry (over `list_fields`); together the same answers as `VehicleFilter.matches`."""
    f = filters
    equal = {"status": f.status.value} if f.status is not None else {}
    if f.make:
        equal["make"] = f.make.casefold()
    if f.model:
        equal["model"] = f.model.casefold()
    ranges: dict[str, tuple[str, str]] = {}
    if f.year_from is not None or f.year_to is not None:
        # a vehicle without a model year (key 0000) is outside any year range
        lo = number(max(1, f.year_from or 1), 4)
        hi = number(f.year_to + 1, 4) if f.year_to is not None else ""
        ranges["year"] = (lo, hi)
    if f.price_min is not None or f.price_max is not None:
        lo = _cents(f.price_min, math.ceil) if f.price_min is not None else ""
        hi = _cents(f.price_max, math.floor) if f.price_max is not None else ""
        ranges["price"] = (lo, number(int(hi) + 1) if hi else "")
    if f.min_days_in_stock is not None or f.max_days_in_stock is not None:
        # days in stock d = whole days since arrival: d >= n means arrived at or before
        # now - n days; d <= n means arrived after now - (n + 1) days
        lo = hi = ""
        if f.max_days_in_stock is not None:
            lo = stamp(now - timedelta(days=f.max_days_in_stock + 1) + timedelta(microseconds=1))
        if f.min_days_in_stock:  # 0 or less: every vehicle (a future arrival counts as 0)
            hi = stamp(now - timedelta(days=f.min_days_in_stock) + timedelta(microseconds=1))
        ranges["added"] = (lo, hi)
    text = f.text.casefold()
    keep = (lambda fields: text in fields[-1]) if text else None
    return Where(equal, ranges), keep


class VinTaken(Exception):
    """The VIN is held by another vehicle that is not delivered (carries its id)."""

    def __init__(self, vin: str, vehicle_id: str) -> None:
        super().__init__(vin)
        self.vin = vin
        self.vehicle_id = vehicle_id


@repository
class VehicleRepository:
    def __init__(self, store: Store) -> None:
        self._vehicles = store.collection("vehicles")
        self._vins = store.collection("vehicle_vins")
        self._imports = store.collection("vehicle_imports")
        self._claims = store.collection("vehicle_claims")  # revisions, and VIN takeovers
        self._revisions = RevisionGuard(self._vehicles, self._claims)
        self._list = DocList(store, VEHICLE_LIST)

    # ------------------------------------------------------------------ by id

    def get(self, vehicle_id: str) -> Vehicle | None:
        doc = self._vehicles.find_one({"_id": vehicle_id})
        return vehicle_from_doc(doc) if doc else None

    def get_for_write(self, vehicle_id: str) -> Vehicle | None:
        """The vehicle as the next compare-and-set must see it (no write in flight)."""
        doc = self._revisions.settled(vehicle_id)
        if doc is None:
            return None
        vehicle = vehicle_from_doc(doc)
        self._list.put(_listed(vehicle))  # heals a write interrupted before its list entry
        return vehicle

    def get_many(self, ids: list[str]) -> dict[str, Vehicle]:
        out = {}
        for vid in ids:  # `$in` is not pushed down on FerretDB: one `_id` lookup each
            v = self.get(vid)
            if v:
                out[vid] = v
        return out

    def holders_of_vins(self, vins: list[str]) -> dict[str, str]:
        """VIN -> vehicle id for those of `vins` that are held. Many VINs: one read of the
        guard collection (cheaper on FerretDB than one `_id` scan per VIN)."""
        if len(vins) <= 20:
            found = {vin: self.holder_of_vin(vin) for vin in vins}
            return {vin: holder for vin, holder in found.items() if holder}
        wanted = set(vins)
        return {d["_id"]: d["vehicle"] for d in self._vins.find({}) if d["_id"] in wanted}

    def holder_of_vin(self, vin: str) -> str | None:
        doc = self._vins.find_one({"_id": vin})
        return doc["vehicle"] if doc else None

    # ------------------------------------------------------------------ writes

    def insert(self, vehicle: Vehicle) -> None:
        """Claims the VIN, then writes the vehicle. Raises VinTaken."""
        self._claim_vin(vehicle.vin, vehicle.id)
        try:
            self._vehicles.insert_one(vehicle_to_doc(vehicle))
        except Exception:
            self._vins.delete_one({"_id": vehicle.vin, "vehicle": vehicle.id})
            raise
        self._list.put(_listed(vehicle))

    def insert_many(
        self, vehicles: list[Vehicle], *, listed: bool = True
    ) -> list[tuple[Vehicle, str]]:
        """Claims every VIN in one round trip and writes the vehicles that got theirs.

        Returns (vehicle, id of the vehicle holding its VIN) for those refused. With
        `listed=False` the vehicles are not put on the list: the caller lists a whole
        import at once with `list_many` (one sorted pass over the index)."""
        if not vehicles:
            return []
        refused: list[tuple[Vehicle, str]] = []
        try:
            self._vins.insert_many(
                [{"_id": v.vin, "vehicle": v.id, "at": _now()} for v in vehicles], ordered=False
            )
            failed: set[int] = set()
        except BulkWriteError as exc:
            failed = {
                e["index"] for e in exc.details.get("writeErrors", []) if e["code"] == DUPLICATE_KEY
            }
            other = [e for e in exc.details.get("writeErrors", []) if e["code"] != DUPLICATE_KEY]
            if other:
                raise
        accepted = []
        for index, vehicle in enumerate(vehicles):
            if index in failed:
                try:
                    self._claim_vin(vehicle.vin, vehicle.id)
                except VinTaken as taken:
                    refused.append((vehicle, taken.vehicle_id))
                    continue
            accepted.append(vehicle)
        if accepted:
            self._vehicles.insert_many([vehicle_to_doc(v) for v in accepted], ordered=False)
            if listed:
                self._list.put_many(_listed(v) for v in accepted)
        return refused

    def list_many(self, vehicles: list[Vehicle]) -> None:
        """Lists vehicles already stored (an import, seeding, a recovery): one bulk load,
        so its cost follows the size of the list once, not once per batch."""
        if vehicles:
            self._list.bulk_load(_listed(v) for v in vehicles)

    def _claim_vin(self, vin: str, vehicle_id: str) -> None:
        for _ in range(5):
            try:
                self._vins.insert_one({"_id": vin, "vehicle": vehicle_id, "at": _now()})
                return
            except DuplicateKeyError:
                pass
            guard = self._vins.find_one({"_id": vin})
            if guard is None:
                continue  # released meanwhile: try again
            if guard["vehicle"] == vehicle_id:
                return
            if not self._may_take_over(guard):
                raise VinTaken(vin, guard["vehicle"])
            # A delivered car coming back (as a trade-in), or a guard a crash left behind:
            # take it over, only if nobody else did meanwhile.
            if self._take_over_vin(vin, guard["vehicle"], vehicle_id):
                return
        raise VinTaken(vin, self.holder_of_vin(vin) or "")

    def _may_take_over(self, guard: dict) -> bool:
        """The guard's holder is delivered, or was never written (a crash between the guard
        and the vehicle; only after a grace, since a desk may be writing it right now)."""
        holder = self.get(guard["vehicle"])
        if holder is not None:
            return holder.status is VehicleStatus.DELIVERED
        at = guard.get("at")
        if at is None:  # a guard from before guards were stamped: long settled
            return True
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return _now() - at > VIN_ORPHAN_GRACE

    def _take_over_vin(self, vin: str, old_holder: str, vehicle_id: str) -> bool:
        """Moves the VIN guard from `old_holder` to `vehicle_id`; of two desks taking over
        the same guard exactly one gets True.

        A conditional `update_one({_id, vehicle: old})` is not atomic across connections on
        FerretDB 1.24 (storage/revisions.py), so the takeover is claimed first by a unique
        insert keyed by the VIN and the holder it replaces; only the claimant writes. A
        claimant that stopped before writing is rolled forward after a grace."""
        claim_id = f"vin:{vin}:{old_holder}"
        try:
            self._claims.insert_one({"_id": claim_id, "vehicle": vehicle_id, "at": _now()})
        except DuplicateKeyError:
            claim = self._claims.find_one({"_id": claim_id})
            if claim is not None:
                at = claim["at"] if claim["at"].tzinfo else claim["at"].replace(tzinfo=UTC)
                if _now() - at > VIN_ORPHAN_GRACE:  # its desk died before writing: finish it
                    self._vins.replace_one(
                        {"_id": vin, "vehicle": old_holder},
                        {"vehicle": claim["vehicle"], "at": claim["at"]},
                    )
            return False
        self._vins.replace_one({"_id": vin}, {"vehicle": vehicle_id, "at": _now()}, upsert=True)
        return True

    def replace_if(self, vehicle: Vehicle, expected_rev: int, *, listed: bool = True) -> bool:
        """Compare-and-set on one document: writes `vehicle` (with rev = expected + 1) only if
        nobody wrote since `expected_rev` was read. Two desks: exactly one gets True
        (see storage/revisions.py for why this is not a conditional replace_one). With
        `listed=False` the caller lists it later (`list_many`, a batch of deals)."""
        if not self._revisions.replace_if(vehicle_to_doc(vehicle), expected_rev):
            return False
        if listed:
            self._list.put(_listed(replace(vehicle, rev=expected_rev + 1)))
        return True

    def delete_many(self, vehicle_ids: list[str]) -> None:
        """Deletes vehicles (an import undone) and their VIN guards; their list entries go
        in one commit (ids never listed cost nothing there)."""
        vehicles = self.get_many(vehicle_ids)
        # one command of `_id` statements each (FerretDB scans the collection for `$in`)
        for i in range(0, len(vehicle_ids), 500):
            chunk = vehicle_ids[i : i + 500]
            self._vehicles.bulk_write([DeleteOne({"_id": v}) for v in chunk], ordered=False)
        self._list.remove_many(vehicle_ids)
        # a guard still naming the vehicle goes, by `_id` alone (a second key in the filter
        # makes FerretDB scan every guard, once per statement)
        held = self.holders_of_vins([v.vin for v in vehicles.values()])
        guards = [
            DeleteOne({"_id": v.vin}) for vid, v in vehicles.items() if held.get(v.vin) == vid
        ]
        for i in range(0, len(guards), 500):
            self._vins.bulk_write(guards[i : i + 500], ordered=False)
        for vid, vehicle in vehicles.items():
            if vehicle.rev > 1:
                self._revisions.forget(vid, vehicle.rev - 1)

    def delete(self, vehicle_id: str) -> None:
        vehicle = self.get(vehicle_id)
        self._vehicles.delete_one({"_id": vehicle_id})
        self._list.remove(vehicle_id)
        if vehicle:
            self._vins.delete_one({"_id": vehicle.vin, "vehicle": vehicle_id})
            if vehicle.rev > 1:
                self._revisions.forget(vehicle_id, vehicle.rev - 1)

    # ------------------------------------------------------------------ imports

    def begin_import(self, batch_id: str, vehicle_ids: list[str], actor: str, at: datetime) -> None:
        self._imports.insert_one(
            {"_id": batch_id, "ids": vehicle_ids, "actor": actor, "at": at, "state": "running"}
        )

    def finish_import(self, batch_id: str) -> None:
        self._imports.delete_one({"_id": batch_id})

    def unfinished_imports(self) -> list[tuple[str, list[str]]]:
        return [(d["_id"], list(d.get("ids", []))) for d in self._imports.find({})]

    # ------------------------------------------------------------------ listing

    def all(self) -> list[Vehicle]:
        return [vehicle_from_doc(d) for d in self._vehicles.find({})]

    def count(self) -> int:
        return self._list.count()

    def page(
        self,
        filters: VehicleFilter,
        sort: VehicleSort,
        descending: bool,
        start: int,
        count: int,
        now: datetime,
    ) -> Page[Vehicle]:
        """The one place vehicles are listed: from the list index, never the documents;
        a read only (never a write)."""
        tree, flip = _TREES[sort]
        where, keep = _where(filters, now)
        docs, total = self._list.page(tree, descending != flip, start, count, where, keep)
        return Page(tuple(vehicle_from_doc(d) for d in docs), total, start)

    def rebuild_list(self) -> int:
        """Puts every vehicle into the list index: a schema migration's step (an index from
        before the filters, or none), never a read's."""
        vehicles = self.all()
        self.list_many(vehicles)  # one sorted pass, one commit
        return len(vehicles)

    def ensure_list(self) -> None:
        """The list's native indexes (MongoDB); nothing on FerretDB."""
        self._list.ensure()

    def clear_list_cache(self) -> None:
        self._list.clear_cache()
