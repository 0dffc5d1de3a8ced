"""The Vehicles page: stock with filters, loaded a page at a time off the GUI thread, and the
supplier stock import with its preview."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.models.money import Money
from alko_desk.models.users import Permission
from alko_desk.models.vehicles import (
    Condition,
    ImportPreview,
    Vehicle,
    VehicleDraft,
    VehicleSort,
    VehicleStatus,
)
from alko_desk.ui.forms import FormDialog
from alko_desk.ui.list_pages import (
    Column,
    ListColumn,
    ListModel,
    button_row,
    list_view,
    list_with_detail,
    page_layout,
)
from alko_desk.ui.table_models import (
    PAGE_SIZE,
    ROW_ID_ROLE,
    ControlProgress,
    RowSource,
    rows_from,
)
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import error_label, note, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

_tr = QCoreApplication.translate
VEHICLES = "vehicles"  # the entity in change announcements
VEHICLE_ID_ROLE = ROW_ID_ROLE


class VehicleColumn(ListColumn, context="VehiclesModel"):
    VIN = Column(
        "VIN",
        sample="WVWZZZ1JZXW000000",
        tooltip="The list cannot be sorted by VIN: type it in the search.",
    )
    VEHICLE = Column("Vehicle", VehicleSort.MAKE, stretch=True)
    YEAR = Column("Year", VehicleSort.YEAR, sample="2026", right=True)
    MILEAGE = Column("Mileage", VehicleSort.MILEAGE, sample="000,000 km", right=True)
    PRICE = Column("Price", VehicleSort.PRICE, sample="000,000.00 EUR", right=True)
    STATUS = Column(
        "Status",
        VehicleSort.STATUS,
        sample=VehicleStatus.DELIVERED.label,
        sample_context="VehicleStatus",
    )
    DAYS = Column("Days in stock", VehicleSort.DAYS_IN_STOCK, sample="0000", right=True)


def mileage_text(km: int) -> str:
    # Grouped like the prices beside it ("15,470.00 EUR"), not in a second convention.
    return f"{km:,} km"


class VehiclesModel(ListModel[Vehicle]):
    """The vehicle list in the service's order (newest arrivals first until a header is
    clicked), a page at a time; days in stock counted by the desk's clock."""

    columns = VehicleColumn
    title = "Vehicles"
    first_sort = VehicleColumn.DAYS  # fewest days in stock first: the newest arrivals on top

    def __init__(
        self,
        source: RowSource[Vehicle],
        tasks: TaskRunner,
        owner: QWidget | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(source, tasks, owner, page_size=page_size)
        self._clock = now
        self.now = now()
        self.loaded.connect(self._tick)

    def _tick(self) -> None:
        self.now = self._clock()

    def vehicle(self, row: int) -> Vehicle | None:
        return self.row(row)

    def display(self, v: Vehicle, column: Any) -> str:
        if column is VehicleColumn.VIN:
            return v.vin
        if column is VehicleColumn.VEHICLE:
            return " ".join(p for p in (v.make, v.model, v.draft.trim) if p)
        if column is VehicleColumn.YEAR:
            return str(v.model_year or "")
        if column is VehicleColumn.MILEAGE:
            return mileage_text(v.draft.mileage_km)
        if column is VehicleColumn.PRICE:
            return str(v.list_price)
        if column is VehicleColumn.STATUS:
            return _tr("VehicleStatus", v.status.label)
        return str(v.days_in_stock(self.now))

    def cell(self, v: Vehicle, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column is VehicleColumn.VIN and v.vin_warning:
            return v.vin_warning
        return super().cell(v, column, role)


def parse_decimal(text: str) -> Decimal | None:
    """An amount as typed on a Croatian or English keyboard; None when empty."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        return None
    if "," in cleaned and "." in cleaned:
        cleaned = (
            cleaned.replace(".", "").replace(",", ".")
            if cleaned.rfind(",") > cleaned.rfind(".")
            else cleaned.replace(",", "")
        )
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


class ImportDialog(QDialog):
    """Shows the preview of a stock file row by row; imports the good rows on request."""

    def __init__(
        self, services: SessionServices, tasks: TaskRunner, path: Path, parent=None
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._tasks = tasks
        self._path = path
        self.preview: ImportPreview | None = None
        self.result = None
        self._task = None
        self.setWindowTitle(self.tr("Import stock: {name}").format(name=path.name))
        self.resize(820, 520)
        layout = QVBoxLayout(self)
        self.summary = QLabel(self.tr("Checking the file…"))
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            [self.tr("Row"), self.tr("VIN"), self.tr("Vehicle"), self.tr("Result")]
        )
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.addButton(
            self.tr("Import"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.start_import)
        buttons.rejected.connect(self.cancel)
        layout.addWidget(buttons)
        self._tasks.run(
            lambda: self._services.vehicles.preview_import(path),
            on_success=self.show_preview,
            on_failure=self._failed,
            parent=self,
        )

    def _failed(self, exc: BaseException) -> bool:
        from alko_desk.models.errors import AlkoError

        if isinstance(exc, AlkoError):
            set_error(self.error, exc.user_text())
            self.summary.setText("")
            return True
        return False

    def show_preview(self, preview: ImportPreview) -> None:
        self.preview = preview
        self.table.setRowCount(len(preview.rows))
        for i, row in enumerate(preview.rows):
            vin = row.draft.vin if row.draft else row.raw.get("vin", "")
            title = f"{row.draft.make} {row.draft.model}" if row.draft else ""
            verdict = row.problem or (
                self.tr("OK, with a warning: {w}").format(w=row.warning) if row.warning else "OK"
            )
            for col, text in enumerate((str(row.line), vin, title, verdict)):
                self.table.setItem(i, col, QTableWidgetItem(text))
        good, bad = len(preview.good), len(preview.bad)
        self.summary.setText(
            self.tr("{good} rows can be imported; {bad} will be skipped (reasons below).").format(
                good=good, bad=bad
            )
        )
        self.import_button.setText(self.tr("Import {n} vehicles").format(n=good))
        self.import_button.setEnabled(good > 0)

    def start_import(self) -> None:
        if not self.preview:
            return
        preview = self.preview
        vehicles = self._services.vehicles
        self.import_button.setEnabled(False)
        self.progress.setVisible(True)
        self._task = self._tasks.run(
            lambda control: vehicles.import_rows(preview, ControlProgress(control)),
            with_control=True,
            on_success=self._imported,
            on_progress=self._on_progress,
            parent=self,
        )

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _imported(self, result) -> None:
        self.result = result
        self.accept()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()  # the import notices it between batches and undoes itself
        self.reject()


class AddVehicleDialog(FormDialog):
    """A vehicle typed in by hand; the VIN is checked as it is typed (no database needed)."""

    def __init__(self, services: SessionServices, tasks: TaskRunner, currency: str, parent=None):
        super().__init__(
            _tr("AddVehicleDialog", "Add a vehicle"),
            _tr("AddVehicleDialog", "Add to stock"),
            tasks,
            parent,
            min_width=520,
        )
        self._services = services
        self._currency = currency
        self.added: Vehicle | None = None
        form = self.form
        self.vin = self.fields.add("vin", self.tr("VIN"), QLineEdit())
        self.vin_check = note("")
        self.vin_check.setWordWrap(True)
        form.addRow("", self.vin_check)
        self.make = self.fields.add("make", self.tr("Make"), QLineEdit())
        self.model_name = self.fields.add("model", self.tr("Model"), QLineEdit())
        self.trim = self.fields.add("trim", self.tr("Trim"), QLineEdit())
        self.year = self.fields.add("model_year", self.tr("Model year"), QLineEdit())
        self.condition = QComboBox()
        for condition in Condition:
            self.condition.addItem(_tr("Condition", condition.label), condition)
        self.fields.add("condition", self.tr("Condition"), self.condition)
        self.mileage = self.fields.add("mileage_km", self.tr("Mileage (km)"), QLineEdit())
        self.colour = self.fields.add("colour", self.tr("Colour"), QLineEdit())
        self.price = self.fields.add("list_price", self.tr("List price"), QLineEdit())
        self.cost = self.fields.add("purchase_cost", self.tr("Purchase cost"), QLineEdit())
        self.without_vat = QCheckBox(self.tr("Bought without deductible VAT (margin scheme)"))
        form.addRow("", self.without_vat)
        self.location = self.fields.add("location", self.tr("Location"), QLineEdit())
        self.vin.textChanged.connect(self.check_vin)

    def check_vin(self) -> None:
        from alko_desk.services.vin import VinVerdict, check_vin

        if not self.vin.text().strip():
            self.vin_check.setText("")
            return
        report = check_vin(self.vin.text())
        if report.verdict is VinVerdict.REFUSED:
            self.vin_check.setText(report.reason)
            return
        years = ", ".join(str(y) for y in report.model_years)
        parts = [report.manufacturer or self.tr("manufacturer not in the WMI table")]
        if report.country:
            parts.append(report.country)
        if years:
            parts.append(self.tr("model year {years}").format(years=years))
        text = " · ".join(parts)
        if report.verdict is VinVerdict.WARNING:
            text += "\n" + report.reason
        self.vin_check.setText(text)
        if report.manufacturer and not self.make.text().strip():
            self.make.setText(report.manufacturer)
        if report.model_year_by_law and report.model_years and not self.year.text().strip():
            self.year.setText(str(report.model_years[0]))

    def draft(self) -> VehicleDraft:
        errors = {}

        def amount(edit: QLineEdit, name: str) -> Money | None:
            try:
                value = parse_decimal(edit.text())
            except ValueError:
                errors[name] = self.tr("Not an amount.")
                return None
            return Money.of(value, self._currency) if value is not None else None

        def whole(edit: QLineEdit, name: str) -> int | None:
            text = edit.text().strip().replace(".", "").replace(" ", "")
            if not text:
                return None
            if not text.isdigit():
                errors[name] = self.tr("A whole number.")
                return None
            return int(text)

        price = amount(self.price, "list_price")
        cost = amount(self.cost, "purchase_cost")
        year = whole(self.year, "model_year")
        mileage = whole(self.mileage, "mileage_km")
        if errors:
            raise ValidationError(self.tr("Please correct the highlighted fields."), errors)
        return VehicleDraft(
            vin=self.vin.text(),
            make=self.make.text(),
            model=self.model_name.text(),
            trim=self.trim.text(),
            model_year=year,
            colour=self.colour.text().strip(),
            mileage_km=mileage or 0,
            condition=self.condition.currentData(),
            purchase_cost=cost,
            acquired_without_vat=self.without_vat.isChecked(),
            list_price=price or Money.zero(self._currency),
            location=self.location.text().strip(),
        )

    def submit(self) -> None:
        self.clear_messages()
        try:
            draft = self.draft()
        except ValidationError as exc:
            self.show_failure(exc)
            return
        vehicles = self._services.vehicles
        self.run(lambda: vehicles.add(draft), self._added)

    def _added(self, vehicle: Vehicle) -> None:
        self.added = vehicle
        self.accept()


class VehiclesPage(QWidget):
    """Stock with filters; the highlighted vehicle in full beside the list."""

    # "New deal for this car": the window opens the deal builder with this vehicle's id.
    deal_requested = Signal(str)

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Vehicles"))
        self._services = services
        self._tasks = tasks
        self.dialog: QDialog | None = None
        clock = getattr(context, "clock", None)
        self.model = VehiclesModel(
            rows_from(services.vehicles.list_page),
            tasks,
            owner=self,
            **({"now": clock.now} if clock is not None else {}),
        )
        layout = page_layout(self, self.tr("Vehicles"))
        layout.addLayout(self._build_filters())
        writes = services.session.can(Permission.VEHICLE_WRITE)
        self.add_button = QPushButton(self.tr("Add vehicle…"))
        self.add_button.setVisible(writes)
        self.import_button = QPushButton(self.tr("Import stock list…"))
        self.import_button.setVisible(writes)
        self.deal_button = QPushButton(self.tr("New deal for this car…"))
        self.deal_button.setVisible(services.session.can(Permission.DEAL_WRITE))
        self.deal_button.setEnabled(False)
        self.deal_button.setToolTip(self.tr("Opens the deal builder with the highlighted car"))
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.count_label = note("")
        self.count_label.setObjectName("vehiclesStatus")
        layout.addLayout(
            button_row(
                self.add_button,
                self.import_button,
                self.deal_button,
                self.count_label,
                end=(self.refresh_button,),
            )
        )
        self.filter_error = error_label()
        layout.addWidget(self.filter_error)
        self.table = list_view(self.model, name=self.tr("Vehicle list"))
        self.detail, self.splitter, self.paged = list_with_detail(
            self.table,
            self.model,
            self._show_vehicle,
            empty_text=self.tr("Highlight a vehicle to see it in full here."),
            detail_width=300,
            changes=changes,
            entities=(VEHICLES,),
        )
        layout.addWidget(self.splitter, 1)
        self.apply_button.clicked.connect(self.apply_filters)
        self.clear_button.clicked.connect(self.clear_filters)
        for edit in self._filter_edits():
            edit.returnPressed.connect(self.apply_filters)
        self.status.currentIndexChanged.connect(self.apply_filters)
        self.refresh_button.clicked.connect(self.refresh)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, self.refresh)
        self.import_button.clicked.connect(self.choose_import_file)
        self.add_button.clicked.connect(self.add_vehicle)
        self.deal_button.clicked.connect(self.request_deal)
        self.model.reload()
        self.paged.show_count(
            self.count_label,
            {
                "loading": self.tr("Loading vehicles…"),
                "failed": self.tr("The vehicle list could not be read. Nothing was changed."),
                "partial": self.tr("{shown} of {total} vehicles shown; scroll for more"),
                "one": self.tr("1 vehicle"),
                "many": self.tr("{n} vehicles"),
            },
        )

    def _build_filters(self) -> QHBoxLayout:
        self.status = QComboBox()
        self.status.addItem(self.tr("Any status"), None)
        for status in VehicleStatus:
            self.status.addItem(_tr("VehicleStatus", status.label), status)
        self.make = QLineEdit(placeholderText=self.tr("Make"))
        self.model_name = QLineEdit(placeholderText=self.tr("Model"))
        self.year_from = QLineEdit(placeholderText=self.tr("Year from"))
        self.price_min = QLineEdit(placeholderText=self.tr("Price from"))
        self.price_max = QLineEdit(placeholderText=self.tr("Price to"))
        self.min_days = QLineEdit(placeholderText=self.tr("Days in stock ≥"))
        for edit in self._filter_edits():
            edit.setClearButtonEnabled(True)
            edit.setMinimumWidth(90)
        self.apply_button = QPushButton(self.tr("Filter"))
        self.clear_button = QPushButton(self.tr("Clear"))
        return button_row(
            self.status,
            *self._filter_edits(),
            self.apply_button,
            self.clear_button,
            stretch=False,
        )

    def _filter_edits(self) -> tuple[QLineEdit, ...]:
        return (
            self.make,
            self.model_name,
            self.year_from,
            self.price_min,
            self.price_max,
            self.min_days,
        )

    # -- the list ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """F5, Refresh, and after a write of this desk: the rows shown read again."""
        self.paged.refresh()

    @property
    def loading(self) -> bool:
        return self.model.loading or not self.model.ever_loaded

    def selected(self) -> Vehicle | None:
        return self.paged.current_row()

    def select(self, vehicle_id: str) -> bool:
        return self.paged.select(vehicle_id)

    def filters(self) -> dict[str, str]:
        """The filters as typed, for `VehicleService.list_page`; ValueError on a bad number."""
        values: dict[str, str] = {}
        status = self.status.currentData()
        if status is not None:
            values["status"] = status.value
        for key, edit in (("make", self.make), ("model", self.model_name)):
            if edit.text().strip():
                values[key] = edit.text().strip()
        for key, edit in (("year_from", self.year_from), ("min_days_in_stock", self.min_days)):
            text = edit.text().strip()
            if text:
                if not text.isdigit():
                    raise ValueError(text)
                values[key] = text
        for key, edit in (("price_min", self.price_min), ("price_max", self.price_max)):
            amount = parse_decimal(edit.text())
            if amount is not None:
                values[key] = str(amount)
        return values

    def apply_filters(self) -> None:
        set_error(self.filter_error, "")
        try:
            filters = self.filters()
        except ValueError:
            set_error(self.filter_error, self.tr("Years, days and prices are numbers."))
            return
        self.model.set_filters(filters)

    def clear_filters(self) -> None:
        blocked = self.status.blockSignals(True)
        self.status.setCurrentIndex(0)
        self.status.blockSignals(blocked)
        for edit in self._filter_edits():
            edit.clear()
        self.apply_filters()

    # -- the highlighted vehicle -------------------------------------------------------------

    def _show_vehicle(self, vehicle: Vehicle | None) -> None:
        # Only a car in stock can be sold; a reserved one says which deal holds it.
        self.deal_button.setEnabled(
            vehicle is not None and vehicle.status is VehicleStatus.IN_STOCK
        )
        if vehicle is None:
            self.detail.clear()
            return
        d = vehicle.draft
        status = _tr("VehicleStatus", vehicle.status.label)
        if vehicle.reserved_by:
            status = self.tr("{status} for deal {deal}").format(
                status=status, deal=vehicle.reserved_by
            )
        if vehicle.reserved_until and vehicle.status is VehicleStatus.RESERVED:
            status += self.tr(" until {day}").format(
                day=f"{vehicle.reserved_until.astimezone():%d.%m.%Y}"
            )
        rows = [
            (self.tr("VIN"), vehicle.vin),
            (self.tr("Condition"), _tr("Condition", d.condition.label)),
            (self.tr("Model year"), str(d.model_year or "—")),
            (
                self.tr("First registration"),
                f"{d.first_registration:%d.%m.%Y}" if d.first_registration else "—",
            ),
            (self.tr("Colour"), d.colour or "—"),
            (self.tr("Fuel"), _tr("Fuel", d.fuel.label)),
            (self.tr("Transmission"), _tr("Transmission", d.transmission.label)),
            (self.tr("Mileage"), mileage_text(d.mileage_km)),
            (self.tr("List price"), str(d.list_price)),
        ]
        if d.purchase_cost is not None:
            rows.append((self.tr("Purchase cost"), str(d.purchase_cost)))
        if d.acquired_without_vat:
            rows.append((self.tr("VAT"), self.tr("Bought without deductible VAT")))
        rows += [
            (self.tr("Location"), d.location or "—"),
            (self.tr("Status"), status),
            (self.tr("In stock since"), f"{vehicle.added_at.astimezone():%d.%m.%Y}"),
            (self.tr("Days in stock"), str(vehicle.days_in_stock(self.model.now))),
        ]
        self.detail.show_record(vehicle.id, vehicle.title, rows, vehicle.vin_warning)

    def request_deal(self) -> None:
        vehicle = self.selected()
        if vehicle is not None and vehicle.status is VehicleStatus.IN_STOCK:
            self.deal_requested.emit(vehicle.id)

    # -- adding and importing ----------------------------------------------------------------

    def add_vehicle(self) -> AddVehicleDialog:
        currency = self._services.vehicles.currency
        self.dialog = dialog = AddVehicleDialog(self._services, self._tasks, currency, self)
        dialog.finished.connect(lambda _: self.refresh() if dialog.added else None)
        dialog.open()
        return dialog

    def choose_import_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Stock list"), "", self.tr("Stock lists (*.csv *.xlsx)")
        )
        if name:
            self.open_import(Path(name))

    def open_import(self, path: Path) -> ImportDialog:
        self.dialog = ImportDialog(self._services, self._tasks, path, self)
        self.dialog.finished.connect(lambda _: self.refresh())
        self.dialog.open()
        return self.dialog
