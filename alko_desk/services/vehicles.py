"""The vehicle inventory: add, edit, list with filters, and import a supplier's stock list."""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from alko_desk.models.changes import ChangeKind
from alko_desk.models.errors import ConcurrentModification, NotFound, ValidationError
from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.models.money import Money
from alko_desk.models.users import Permission, Session
from alko_desk.models.vehicles import (
    Condition,
    Fuel,
    ImportPreview,
    ImportResult,
    ImportRow,
    Transmission,
    Vehicle,
    VehicleDraft,
    VehicleFilter,
    VehicleSort,
    VehicleStatus,
)
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService
from alko_desk.services.changes import ChangeLog
from alko_desk.services.clock import Clock
from alko_desk.services.intents import IntentLog
from alko_desk.services.vin import VinReport, VinVerdict, check_vin
from alko_desk.storage.intents_repo import IntentRecord
from alko_desk.storage.vehicles_repo import VehicleRepository, VinTaken

ENTITY = "vehicles"  # in change announcements

IMPORT_BATCH = 250
# Column names a supplier's file may use, folded to ours.
COLUMN_ALIASES = {
    "vin": "vin",
    "make": "make",
    "brand": "make",
    "model": "model",
    "trim": "trim",
    "version": "trim",
    "year": "model_year",
    "model_year": "model_year",
    "first_registration": "first_registration",
    "colour": "colour",
    "color": "colour",
    "fuel": "fuel",
    "transmission": "transmission",
    "gearbox": "transmission",
    "mileage": "mileage_km",
    "mileage_km": "mileage_km",
    "km": "mileage_km",
    "condition": "condition",
    "purchase_cost": "purchase_cost",
    "cost": "purchase_cost",
    "price": "list_price",
    "list_price": "list_price",
    "currency": "currency",
    "location": "location",
    "margin_scheme": "acquired_without_vat",
    "acquired_without_vat": "acquired_without_vat",
}


def new_vehicle_id() -> str:
    return "V-" + secrets.token_hex(6).upper()


def _money(text: str, currency: str, label: str) -> Money:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." in cleaned:
        cleaned = (
            cleaned.replace(".", "").replace(",", ".")
            if cleaned.rfind(",") > cleaned.rfind(".")
            else cleaned.replace(",", "")
        )
    elif "," in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"the {label} “{text}” is not an amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"the {label} “{text}” is not an amount")
    return Money.of(value, currency)


def _kilometres(text: str) -> int:
    """A mileage as suppliers write it: 45000, 45 000, 45.000 or 45,000 (thousands grouped, as
    a whole number of km); 45000.0 from a spreadsheet. 12.345 is twelve thousand km, not 12."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace("'", "")
    grouped = re.fullmatch(r"\d{1,3}([.,]\d{3})+", cleaned)
    if grouped and len(set(re.findall(r"[.,]", cleaned))) == 1:
        return int(re.sub(r"[.,]", "", cleaned))
    whole = re.fullmatch(r"(\d+)(?:[.,]0+)?", cleaned)
    if whole is None:
        raise ValueError(f"the mileage “{text}” is not a whole number of km")
    return int(whole.group(1))


def _date(text: str, label: str) -> date:
    """A date as 2021-03-15 (ISO, and what spreadsheets give), 15.03.2021 or 15/03/2021."""
    cleaned = text.strip().rstrip(".")
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d. %m. %Y"):
        try:
            return datetime.strptime(
                cleaned[:10] if pattern == "%Y-%m-%d" else cleaned, pattern
            ).date()
        except ValueError:
            continue
    raise ValueError(f"the {label} “{text}” is not a date (write 15.03.2021 or 2021-03-15)")


def _enum(kind, text: str, default):
    text = text.strip().lower().replace(" ", "_").replace("-", "_")
    if not text:
        return default
    for member in kind:
        if member.value == text or member.label.lower() == text.replace("_", " "):
            return member
    choices = ", ".join(m.value for m in kind)
    raise ValueError(f"“{text}” is not one of {choices}")


def validate_draft(
    draft: VehicleDraft, today: date
) -> tuple[VehicleDraft, VinReport, dict[str, str]]:
    """Normalises the draft; returns it with the VIN report and any field errors."""
    errors: dict[str, str] = {}
    report = check_vin(draft.vin, current_year=today.year)
    if not report.accepted:
        errors["vin"] = report.reason
    make = draft.make.strip() or report.manufacturer
    draft = replace(
        draft, vin=report.vin, make=make, model=draft.model.strip(), trim=draft.trim.strip()
    )
    if not draft.make:
        errors["make"] = "Enter the make (the VIN's manufacturer code is not in the WMI table)."
    if not draft.model:
        errors["model"] = "Enter the model."
    if draft.list_price.amount <= 0:
        errors["list_price"] = "Enter the list price."
    if draft.model_year is not None and not (1950 <= draft.model_year <= today.year + 1):
        errors["model_year"] = f"The model year must be between 1950 and {today.year + 1}."
    if draft.mileage_km < 0:
        errors["mileage_km"] = "The mileage cannot be negative."
    if (
        draft.purchase_cost is not None
        and draft.purchase_cost.currency != draft.list_price.currency
    ):
        errors["purchase_cost"] = "The purchase cost and the list price must be in one currency."
    if draft.first_registration and draft.first_registration > today:
        errors["first_registration"] = "The first registration cannot be in the future."
    return draft, report, errors


class VehicleService(SessionService):
    def __init__(
        self,
        vehicles: VehicleRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        currency: str = "EUR",
        changes: ChangeLog | None = None,
        intents: IntentLog | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._vehicles = vehicles
        self._currency = currency
        self._changes = changes
        self._intents = intents
        if intents is not None:
            intents.register("vehicles.import", self._recover_import)

    def _announce(self, kind: ChangeKind, *ids: str) -> None:
        """Tells open screens what changed (services/changes.py)."""
        if self._changes is not None:
            self._changes.announce(ENTITY, kind, ids)

    @property
    def currency(self) -> str:
        """The organisation's currency (as Settings had it when the session began)."""
        return self._currency

    def now(self):
        """The service's clock (days in stock are counted from it)."""
        return self._clock.now()

    # ------------------------------------------------------------------ single vehicles

    def check_vin(self, vin: str) -> VinReport:
        return check_vin(vin, current_year=self._clock.now().year)

    def add(self, draft: VehicleDraft) -> Vehicle:
        self._require(Permission.VEHICLE_WRITE, "add vehicles")
        now = self._clock.now()
        draft, report, errors = validate_draft(draft, now.date())
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        vehicle = Vehicle(
            id=new_vehicle_id(),
            draft=draft,
            status=VehicleStatus.IN_STOCK,
            added_at=now,
            updated_at=now,
            vin_warning=report.reason if report.verdict is VinVerdict.WARNING else "",
        )
        try:
            self._vehicles.insert(vehicle)
        except VinTaken as taken:
            raise self._duplicate(draft.vin, taken.vehicle_id) from None
        self._audit.record(
            self.actor, "vehicle.added", f"vehicle:{vehicle.id}", {"vin": vehicle.vin}
        )
        self._announce(ChangeKind.ADDED, vehicle.id)
        return vehicle

    def _duplicate(self, vin: str, holder_id: str) -> ValidationError:
        holder = self._vehicles.get(holder_id)
        what = f"{holder.title}, {holder.status.label.lower()}" if holder else holder_id
        return ValidationError(
            f"The VIN {vin} is already in stock ({what}).",
            {"vin": "This VIN is already in stock."},
        )

    def get(self, vehicle_id: str) -> Vehicle:
        self._require(Permission.VEHICLE_READ, "see vehicles")
        vehicle = self._vehicles.get(vehicle_id)
        if vehicle is None:
            raise NotFound("This vehicle no longer exists.")
        return vehicle

    def edit(self, base: Vehicle, draft: VehicleDraft) -> Vehicle:
        """Saves changes to `base`; refused if someone else saved the vehicle since."""
        self._require(Permission.VEHICLE_WRITE, "edit vehicles", f"vehicle:{base.id}")
        now = self._clock.now()
        draft, report, errors = validate_draft(draft, now.date())
        if draft.vin != base.vin:
            errors["vin"] = (
                "The VIN of a vehicle in stock cannot change; remove it and add it again."
            )
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        updated = replace(base, draft=draft, updated_at=now, rev=base.rev + 1)
        if not self._vehicles.replace_if(updated, base.rev):
            current = self._vehicles.get(base.id)
            raise ConcurrentModification(
                "Someone else changed this vehicle since you opened it. Your changes were not saved.",
                current=current,
            )
        old, new = base.draft.__dict__, draft.__dict__
        changed = sorted(k for k in new if old.get(k) != new[k])
        self._audit.record(self.actor, "vehicle.edited", f"vehicle:{base.id}", {"fields": changed})
        self._announce(ChangeKind.UPDATED, base.id)
        return updated

    def page(
        self,
        filters: VehicleFilter = VehicleFilter(),
        sort: VehicleSort = VehicleSort.ADDED,
        descending: bool = True,
        start: int = 0,
        count: int = 100,
    ) -> Page[Vehicle]:
        self._require(Permission.VEHICLE_READ, "see vehicles")
        return self._vehicles.page(filters, sort, descending, start, count, self._clock.now())

    SORTS = tuple(s.value for s in VehicleSort)

    def list_page(self, request: PageRequest) -> Page[Vehicle]:
        """A page for `PagedTableModel`. Filters: status (a VehicleStatus value), make, model,
        year_from, year_to, price_min, price_max, min_days_in_stock, max_days_in_stock, text."""
        if request.sort and request.sort not in self.SORTS:
            raise ValidationError(f"Vehicles cannot be sorted by {request.sort}.")
        filters = vehicle_filter(request.filters, request.query)
        sort = VehicleSort(request.sort or VehicleSort.ADDED.value)
        return self.page(filters, sort, request.descending, request.start, request.count)

    def count(self) -> int:
        self._require(Permission.VEHICLE_READ, "see vehicles")
        return self._vehicles.count()

    # ------------------------------------------------------------------ import

    def preview_import(self, path: Path, progress: Progress | None = None) -> ImportPreview:
        """Reads a CSV or XLSX stock list and says, row by row, what would be imported."""
        self._require(Permission.VEHICLE_WRITE, "import vehicles")
        columns, raw_rows = read_stock_file(path)
        known = {COLUMN_ALIASES.get(c, "") for c in columns}
        missing = {"vin", "list_price"} - known
        if missing:
            raise ValidationError(
                "The file has no "
                + " and no ".join(
                    sorted("VIN column" if m == "vin" else "price column" for m in missing)
                )
                + f". Its columns are: {', '.join(columns) or 'none'}."
            )
        today = self._clock.now().date()
        seen: dict[str, int] = {}
        rows = []
        total = len(raw_rows)
        for n, raw in enumerate(raw_rows):
            if progress:
                if progress.cancelled:
                    break
                if n % 200 == 0:
                    progress.report(n, total, "Checking rows")
            line = n + 2
            row = self._parse_row(line, raw, today)
            if row.ok:
                vin = row.draft.vin
                if vin in seen:
                    row = replace(row, problem=f"Duplicate: the same VIN as row {seen[vin]}.")
                else:
                    seen[vin] = line
            rows.append(row)
        held = self._vehicles.holders_of_vins(list(seen))
        for i, row in enumerate(rows):
            if row.ok and row.draft.vin in held:
                other = self._vehicles.get(held[row.draft.vin])
                if other and other.status is not VehicleStatus.DELIVERED:
                    rows[i] = replace(row, problem=f"Duplicate: already in stock ({other.title}).")
        return ImportPreview(tuple(rows), tuple(columns))

    def _parse_row(self, line: int, raw: dict[str, str], today: date) -> ImportRow:
        f = {COLUMN_ALIASES[k]: (v or "").strip() for k, v in raw.items() if k in COLUMN_ALIASES}
        if not f.get("vin"):
            return ImportRow(line, raw, problem="Bad VIN: the VIN is missing.")
        if not f.get("list_price"):
            return ImportRow(line, raw, problem="Missing price.")
        currency = (f.get("currency") or self._currency).upper()
        try:
            draft = VehicleDraft(
                vin=f["vin"],
                make=f.get("make", ""),
                model=f.get("model", ""),
                trim=f.get("trim", ""),
                model_year=int(float(f["model_year"])) if f.get("model_year") else None,
                first_registration=_date(f["first_registration"], "first registration")
                if f.get("first_registration")
                else None,
                colour=f.get("colour", ""),
                fuel=_enum(Fuel, f.get("fuel", ""), Fuel.PETROL),
                transmission=_enum(Transmission, f.get("transmission", ""), Transmission.MANUAL),
                mileage_km=_kilometres(f["mileage_km"]) if f.get("mileage_km") else 0,
                condition=_enum(Condition, f.get("condition", ""), Condition.NEW),
                purchase_cost=_money(f["purchase_cost"], currency, "purchase cost")
                if f.get("purchase_cost")
                else None,
                acquired_without_vat=f.get("acquired_without_vat", "").lower()
                in ("1", "yes", "true", "y", "da"),
                list_price=_money(f["list_price"], currency, "price"),
                location=f.get("location", ""),
            )
        except ValueError as exc:
            return ImportRow(line, raw, problem=f"Bad value: {exc}.")
        draft, report, errors = validate_draft(draft, today)
        if "vin" in errors:
            return ImportRow(line, raw, draft, problem=f"Bad VIN: {errors['vin']}")
        if "list_price" in errors:
            return ImportRow(line, raw, draft, problem="Missing price.")
        if errors:
            return ImportRow(line, raw, draft, problem=" ".join(errors.values()))
        warning = report.reason if report.verdict is VinVerdict.WARNING else ""
        return ImportRow(line, raw, draft, warning=warning)

    def import_rows(self, preview: ImportPreview, progress: Progress | None = None) -> ImportResult:
        """Imports the good rows. Cancelled (or crashed while storing, see `recover_imports`):
        nothing stays.

        The vehicles are stored a batch at a time, then listed all at once (one sorted pass
        over the list index, `VehicleRepository.list_many`): the list's cost follows its size
        once, not once per batch. The import's intent stays open until they are listed; a
        crash before every vehicle is stored is undone at the next start, one after it is
        completed (the vehicles listed)."""
        self._require(Permission.VEHICLE_WRITE, "import vehicles")
        now = self._clock.now()
        good = preview.good
        vehicles = [
            Vehicle(
                id=new_vehicle_id(),
                draft=row.draft,
                status=VehicleStatus.IN_STOCK,
                added_at=min(row.arrived_at, now) if row.arrived_at else now,
                updated_at=now,
                vin_warning=row.warning,
            )
            for row in good
        ]
        batch_id = "I-" + secrets.token_hex(6).upper()
        ids = [v.id for v in vehicles]
        if self._intents is not None:  # undone whole if a crash interrupts it
            intent = self._intents.begin("vehicles.import", batch_id, vehicle_ids=ids)
        else:
            self._vehicles.begin_import(batch_id, ids, self.actor, now)

        def finish() -> None:
            if self._intents is not None:
                self._intents.done(intent)
            else:
                self._vehicles.finish_import(batch_id)

        written: list[Vehicle] = []
        skipped = len(preview.rows) - len(good)
        try:
            for i in range(0, len(vehicles), IMPORT_BATCH):
                if progress and progress.cancelled:
                    self._undo([v.id for v in written])
                    finish()
                    self._audit.record(
                        self.actor, "vehicle.import_cancelled", "", {"batch": batch_id}
                    )
                    return ImportResult(0, len(preview.rows), cancelled=True)
                if i and self._intents is not None:
                    self._intents.renew(intent)  # still at work: recovery leaves the import
                chunk = vehicles[i : i + IMPORT_BATCH]
                refused = self._vehicles.insert_many(chunk, listed=False)
                refused_ids = {v.id for v, _ in refused}
                written.extend(v for v in chunk if v.id not in refused_ids)
                skipped += len(refused)
                if progress:
                    progress.report(
                        min(i + IMPORT_BATCH, len(vehicles)), len(vehicles), "Importing"
                    )
            if written and self._intents is not None:
                # every vehicle is stored: from here a crash is completed, not undone
                self._intents.begin(
                    "vehicles.import", batch_id, vehicle_ids=[v.id for v in written], stored=True
                )
            if progress and written:
                progress.report(len(vehicles), len(vehicles), "Listing the vehicles")
            self._vehicles.list_many(written)
        except BaseException:
            try:
                self._undo([v.id for v in written])
                finish()
            finally:  # the undo failed too: recovery finishes it (no-op after finish)
                if self._intents is not None:
                    self._intents.abandon(intent)
            raise
        finish()
        if written:
            self._announce(ChangeKind.MANY)
        self._audit.record(
            self.actor,
            "vehicle.imported",
            "",
            {"count": len(written), "skipped": skipped, "batch": batch_id},
        )
        return ImportResult(len(written), skipped, vehicle_ids=tuple(v.id for v in written))

    def _undo(self, vehicle_ids: list[str]) -> None:
        self._vehicles.delete_many(vehicle_ids)
        if vehicle_ids:
            self._announce(ChangeKind.MANY)

    def _remove_unsold(self, vehicle_ids: list[str]) -> int:
        unsold = [
            vid
            for vid, vehicle in self._vehicles.get_many(vehicle_ids).items()
            if vehicle.status is VehicleStatus.IN_STOCK
        ]
        self._vehicles.delete_many(unsold)
        if unsold:
            self._announce(ChangeKind.MANY)
        return len(unsold)

    def _recover_import(self, intent: IntentRecord) -> None:
        """An import a crash interrupted (the intent log's handler): undone while it was
        still storing vehicles; listed when every vehicle was stored."""
        ids = list(intent.data.get("vehicle_ids", []))
        if intent.data.get("stored"):
            stored = list(self._vehicles.get_many(ids).values())
            self._vehicles.list_many(stored)
            self._announce(ChangeKind.MANY)
            self._audit.record(
                "system",
                "vehicle.imported",
                "",
                {"count": len(stored), "batch": intent.id, "completed_at_start": True},
            )
            return
        self._remove_unsold(ids)
        self._audit.record("system", "vehicle.import_undone", "", {"batch": intent.id})

    def recover_imports(self) -> int:
        """Undoes imports that a crash interrupted; returns how many vehicles were removed."""
        removed = 0
        for batch_id, ids in self._vehicles.unfinished_imports():  # from before the intent log
            removed += self._remove_unsold(ids)
            self._vehicles.finish_import(batch_id)
            self._audit.record("system", "vehicle.import_undone", "", {"batch": batch_id})
        return removed


def vehicle_filter(values, text: str = "") -> VehicleFilter:
    """A `VehicleFilter` from a page request's filters; a bad value is a clear refusal."""

    def number(name: str, kind):
        raw = values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return kind(str(raw))
        except (ValueError, InvalidOperation):
            raise ValidationError(f"The filter {name} needs a number, not {raw}.") from None

    status = values.get("status") or None
    try:
        status = VehicleStatus(status) if status else None
    except ValueError:
        raise ValidationError(f"There is no vehicle status {status}.") from None
    return VehicleFilter(
        status=status,
        make=str(values.get("make") or ""),
        model=str(values.get("model") or ""),
        year_from=number("year_from", int),
        year_to=number("year_to", int),
        price_min=number("price_min", Decimal),
        price_max=number("price_max", Decimal),
        min_days_in_stock=number("min_days_in_stock", int),
        max_days_in_stock=number("max_days_in_stock", int),
        text=str(values.get("text") or text or ""),
    )


def read_stock_file(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header names (lower case, spaces as underscores) and the rows as text."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            table = _read_xlsx(path)
        elif suffix in (".csv", ".txt"):
            table = _read_csv(path)
        else:
            raise ValidationError(f"“{path.name}” is not a CSV or XLSX file.")
    except OSError as exc:
        raise ValidationError(f"“{path.name}” cannot be read: {exc.strerror or exc}.") from None
    if not table:
        raise ValidationError(f"“{path.name}” is empty.")
    header = [str(h or "").strip().lower().replace(" ", "_") for h in table[0]]
    rows = []
    for values in table[1:]:
        if not any(str(v or "").strip() for v in values):
            continue
        rows.append({h: _cell(v) for h, v in zip(header, values, strict=False) if h})
    return header, rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1250")  # Central European Excel exports
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def _read_xlsx(path: Path) -> list[list]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError) as exc:
        raise ValidationError(f"“{path.name}” is not a readable XLSX file ({exc}).") from None
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
