"""Vehicles in stock: what a car is, where it stands in its sale, and how the list is filtered."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from alko_desk.models.money import Money


class VehicleStatus(enum.Enum):
    """in stock → reserved → sold → delivered; back to in stock when a reservation lapses or a
    deal is cancelled."""

    IN_STOCK = "in_stock"
    RESERVED = "reserved"
    SOLD = "sold"
    DELIVERED = "delivered"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Condition(enum.Enum):
    NEW = "new"
    USED = "used"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Fuel(enum.Enum):
    PETROL = "petrol"
    DIESEL = "diesel"
    HYBRID = "hybrid"
    PLUGIN_HYBRID = "plugin_hybrid"
    ELECTRIC = "electric"
    LPG = "lpg"
    CNG = "cng"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").capitalize()


class Transmission(enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class VehicleDraft:
    """What staff type or a supplier's stock file gives: everything but the status."""

    vin: str
    make: str
    model: str
    list_price: Money
    trim: str = ""
    model_year: int | None = None
    first_registration: date | None = None
    colour: str = ""
    fuel: Fuel = Fuel.PETROL
    transmission: Transmission = Transmission.MANUAL
    mileage_km: int = 0
    condition: Condition = Condition.NEW
    purchase_cost: Money | None = None
    # Bought without deductible VAT (from a private person or a margin-scheme dealer): the
    # condition for selling it under the EU margin scheme (Directive 2006/112/EC, art. 311-325).
    acquired_without_vat: bool = False
    location: str = ""
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vehicle:
    id: str
    draft: VehicleDraft
    status: VehicleStatus
    added_at: datetime
    updated_at: datetime
    rev: int = 1  # bumped by every write: the compare-and-set that reservations rely on
    reserved_by: str = ""  # the deal holding the car
    reserved_until: datetime | None = None
    vin_warning: str = ""  # e.g. a European VIN without a check digit

    # Flat accessors: the list, filters and CLI read these.
    @property
    def vin(self) -> str:
        return self.draft.vin

    @property
    def make(self) -> str:
        return self.draft.make

    @property
    def model(self) -> str:
        return self.draft.model

    @property
    def model_year(self) -> int | None:
        return self.draft.model_year

    @property
    def list_price(self) -> Money:
        return self.draft.list_price

    @property
    def title(self) -> str:
        parts = [self.draft.make, self.draft.model, self.draft.trim]
        year = f" ({self.draft.model_year})" if self.draft.model_year else ""
        return " ".join(p for p in parts if p) + year

    def days_in_stock(self, now: datetime) -> int:
        return max(0, (now - self.added_at).days)

    def reservation_lapsed(self, now: datetime) -> bool:
        return (
            self.status is VehicleStatus.RESERVED
            and self.reserved_until is not None
            and self.reserved_until <= now
        )


class VehicleSort(enum.Enum):
    ADDED = "added"  # default: newest first is what a desk wants, so descending by default
    MAKE = "make"
    PRICE = "price"
    YEAR = "year"
    MILEAGE = "mileage"
    DAYS_IN_STOCK = "days_in_stock"
    STATUS = "status"


@dataclass(frozen=True)
class VehicleFilter:
    """Every filter the vehicle table offers; None or empty means "any"."""

    status: VehicleStatus | None = None
    make: str = ""
    model: str = ""
    year_from: int | None = None
    year_to: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    min_days_in_stock: int | None = None
    max_days_in_stock: int | None = None
    text: str = ""  # VIN, make or model contains

    def matches(self, vehicle: Vehicle, now: datetime) -> bool:
        """The one definition of the filters (the list index applies the same)."""
        return self.matches_fields(list_fields(vehicle), now)

    def matches_fields(self, fields: list, now: datetime) -> bool:
        """The filters over `list_fields(vehicle)` (what the list index keeps per vehicle)."""
        status, make, model, year, price, added_at, hay = fields
        if self.status is not None and status != self.status.value:
            return False
        if self.make and make != self.make.casefold():
            return False
        if self.model and model != self.model.casefold():
            return False
        if self.year_from is not None and (year or 0) < self.year_from:
            return False
        if self.year_to is not None and (year or 9999) > self.year_to:
            return False
        if self.price_min is not None and Decimal(price) < self.price_min:
            return False
        if self.price_max is not None and Decimal(price) > self.price_max:
            return False
        if self.min_days_in_stock is not None or self.max_days_in_stock is not None:
            days = max(0, (now - datetime.fromisoformat(added_at)).days)
            if self.min_days_in_stock is not None and days < self.min_days_in_stock:
                return False
            if self.max_days_in_stock is not None and days > self.max_days_in_stock:
                return False
        return not (self.text and self.text.casefold() not in hay)

    @property
    def only_indexed(self) -> bool:
        """True when nothing but status, make and model is asked (the index serves those)."""
        return (
            self.year_from is None
            and self.year_to is None
            and self.price_min is None
            and self.price_max is None
            and self.min_days_in_stock is None
            and self.max_days_in_stock is None
            and not self.text
        )


def list_fields(vehicle: Vehicle) -> list:
    """The values the filters read, JSON-friendly: kept by the list index for each vehicle."""
    d = vehicle.draft
    return [
        vehicle.status.value,
        d.make.casefold(),
        d.model.casefold(),
        d.model_year,
        str(d.list_price.amount),
        vehicle.added_at.isoformat(),
        f"{d.vin} {d.make} {d.model} {d.trim}".casefold(),
    ]


def sort_key(sort: VehicleSort, now: datetime):
    """The one definition of each sort order; ties broken by id so pages never overlap."""
    keys = {
        VehicleSort.ADDED: lambda v: (v.added_at, v.id),
        VehicleSort.MAKE: lambda v: (v.make.casefold(), v.model.casefold(), v.id),
        VehicleSort.PRICE: lambda v: (v.list_price.amount, v.id),
        VehicleSort.YEAR: lambda v: (v.model_year or 0, v.id),
        VehicleSort.MILEAGE: lambda v: (v.draft.mileage_km, v.id),
        VehicleSort.DAYS_IN_STOCK: lambda v: (v.days_in_stock(now), v.id),
        VehicleSort.STATUS: lambda v: (list(VehicleStatus).index(v.status), v.id),
    }
    return keys[sort]


@dataclass(frozen=True)
class ImportRow:
    """One row of a supplier's stock file, as the preview shows it."""

    line: int  # 1-based row number in the file, header = 1
    raw: dict[str, str]
    draft: VehicleDraft | None = None
    problem: str = ""  # empty: the row will be imported
    warning: str = ""
    arrived_at: datetime | None = None  # when the car came into stock (None: on import)

    @property
    def ok(self) -> bool:
        return self.draft is not None and not self.problem


@dataclass(frozen=True)
class ImportPreview:
    rows: tuple[ImportRow, ...]
    columns: tuple[str, ...] = ()

    @property
    def good(self) -> tuple[ImportRow, ...]:
        return tuple(r for r in self.rows if r.ok)

    @property
    def bad(self) -> tuple[ImportRow, ...]:
        return tuple(r for r in self.rows if not r.ok)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int
    cancelled: bool = False
    vehicle_ids: tuple[str, ...] = field(default=())
