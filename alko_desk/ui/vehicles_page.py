"""The Vehicles page: stock with filters, loaded a page at a time off the GUI thread, and the
supplier stock import with its preview."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.models.listing import Progress
from alko_desk.models.money import Money
from alko_desk.models.users import Permission
from alko_desk.models.vehicles import (
    Condition,
    ImportPreview,
    Vehicle,
    VehicleDraft,
    VehicleFilter,
    VehicleSort,
    VehicleStatus,
)
from alko_desk.ui.table_models import ROOT, ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import FieldForm, error_label, heading, note, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

_tr = QCoreApplication.translate
VEHICLE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE_SIZE = 200


class VehicleColumn(enum.IntEnum):
    VIN = 0
    VEHICLE = 1
    YEAR = 2
    MILEAGE = 3
    PRICE = 4
    STATUS = 5
    DAYS = 6

    @property
    def header(self) -> str:
        return {
            VehicleColumn.VIN: _tr("VehiclesModel", "VIN"),
            VehicleColumn.VEHICLE: _tr("VehiclesModel", "Vehicle"),
            VehicleColumn.YEAR: _tr("VehiclesModel", "Year"),
            VehicleColumn.MILEAGE: _tr("VehiclesModel", "Mileage"),
            VehicleColumn.PRICE: _tr("VehiclesModel", "Price"),
            VehicleColumn.STATUS: _tr("VehiclesModel", "Status"),
            VehicleColumn.DAYS: _tr("VehiclesModel", "Days in stock"),
        }[self]

    @property
    def sort(self) -> VehicleSort | None:
        return {
            VehicleColumn.VEHICLE: VehicleSort.MAKE,
            VehicleColumn.YEAR: VehicleSort.YEAR,
            VehicleColumn.MILEAGE: VehicleSort.MILEAGE,
            VehicleColumn.PRICE: VehicleSort.PRICE,
            VehicleColumn.STATUS: VehicleSort.STATUS,
            VehicleColumn.DAYS: VehicleSort.DAYS_IN_STOCK,
        }.get(self)


class VehiclesModel(ColumnsTableModel):
    """Rows in the order the service returns them; more are fetched as the view scrolls."""

    columns = VehicleColumn

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[Vehicle] = []
        self.total = 0
        self.now = datetime.now().astimezone()
        self.fetch_more_requested = None  # set by the presenter: loads the next page

    def row_count(self) -> int:
        return len(self._rows)

    def reset(self, rows: list[Vehicle], total: int, now: datetime) -> None:
        self.beginResetModel()
        self._rows, self.total, self.now = list(rows), total, now
        self.endResetModel()

    def append(self, rows: list[Vehicle]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(ROOT, first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def vehicle(self, row: int) -> Vehicle | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> bool:
        return not parent.isValid() and len(self._rows) < self.total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> None:
        if self.fetch_more_requested and self.canFetchMore(parent):
            self.fetch_more_requested()

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        v = self._rows[index.row()]
        column = VehicleColumn(index.column())
        if role == VEHICLE_ID_ROLE:
            return v.id
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            VehicleColumn.MILEAGE,
            VehicleColumn.PRICE,
            VehicleColumn.DAYS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column is VehicleColumn.VIN and v.vin_warning:
            return v.vin_warning
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column is VehicleColumn.VIN:
            return v.vin
        if column is VehicleColumn.VEHICLE:
            return " ".join(p for p in (v.make, v.model, v.draft.trim) if p)
        if column is VehicleColumn.YEAR:
            return str(v.model_year or "")
        if column is VehicleColumn.MILEAGE:
            return f"{v.draft.mileage_km:,} km".replace(",", ".")
        if column is VehicleColumn.PRICE:
            return str(v.list_price)
        if column is VehicleColumn.STATUS:
            return _tr("VehicleStatus", v.status.label)
        return str(v.days_in_stock(self.now))


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


class VehiclesPresenter:
    def __init__(self, services: SessionServices, tasks: TaskRunner, view: QWidget) -> None:
        self._services = services
        self._tasks = tasks
        self._view = view
        self.model = VehiclesModel(view)
        self.model.fetch_more_requested = self.load_more
        self.filters = VehicleFilter()
        self.sort = VehicleSort.ADDED
        self.descending = True
        self.loading = False
        self._generation = 0  # the latest request wins

    def reload(self) -> None:
        self._generation += 1
        generation = self._generation
        self.loading = True
        flt, sort, desc = self.filters, self.sort, self.descending
        vehicles = self._services.vehicles

        def work():
            return vehicles.page(flt, sort, desc, 0, PAGE_SIZE), vehicles.now()

        def done(result) -> None:
            if generation == self._generation:
                page, now = result
                self.model.reset(list(page.rows), page.total, now)

        self._tasks.run(work, on_success=done, on_finished=self._loaded, parent=self._view)

    def _loaded(self) -> None:
        self.loading = False

    def refresh(self, table: QTableView) -> None:
        """Reads the rows shown again (after a change), keeping the highlighted vehicle and
        the scroll position; the newest read wins."""
        self._generation += 1
        generation = self._generation
        self.loading = True
        flt, sort, desc = self.filters, self.sort, self.descending
        count = max(PAGE_SIZE, self.model.row_count())
        vehicles = self._services.vehicles

        def work():
            return vehicles.page(flt, sort, desc, 0, count), vehicles.now()

        def done(result) -> None:
            if generation != self._generation:
                return
            page, now = result
            selected = table.selectionModel().selectedRows() if table.selectionModel() else []
            keep = self.model.vehicle(selected[0].row()) if selected else None
            position = table.verticalScrollBar().value()
            self.model.reset(list(page.rows), page.total, now)
            if keep is not None:
                row = next(
                    (
                        i
                        for i in range(self.model.row_count())
                        if self.model.vehicle(i).id == keep.id
                    ),
                    -1,
                )
                if row >= 0:
                    table.selectRow(row)
            table.verticalScrollBar().setValue(position)

        self._tasks.run(work, on_success=done, on_finished=self._loaded, parent=self._view)

    def load_more(self) -> None:
        if self.loading:
            return
        self.loading = True
        generation = self._generation
        start = self.model.row_count()
        flt, sort, desc = self.filters, self.sort, self.descending
        vehicles = self._services.vehicles

        def done(page) -> None:
            if generation == self._generation and start == self.model.row_count():
                self.model.append(list(page.rows))

        self._tasks.run(
            lambda: vehicles.page(flt, sort, desc, start, PAGE_SIZE),
            on_success=done,
            on_finished=self._loaded,
            parent=self._view,
        )


class _ControlProgress(Progress):
    """The service's progress token, fed from and cancelled through the task's control."""

    def __init__(self, control) -> None:
        super().__init__()
        self._control = control

    def report(self, done: int, total: int = 0, text: str = "") -> None:
        super().report(done, total, text)
        self._control.progress(done, total, text)

    @property
    def cancelled(self) -> bool:
        return self._control.cancelled


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
            lambda control: vehicles.import_rows(preview, _ControlProgress(control)),
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


class AddVehicleDialog(QDialog):
    """A vehicle typed in by hand; the VIN is checked as it is typed (no database needed)."""

    def __init__(self, services: SessionServices, tasks: TaskRunner, currency: str, parent=None):
        super().__init__(parent)
        self._services = services
        self._tasks = tasks
        self._currency = currency
        self.added: Vehicle | None = None
        self.setWindowTitle(self.tr("Add a vehicle"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.fields = FieldForm(form, self)
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
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Add to stock"))
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
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
        self.fields.clear_errors()
        set_error(self.error, "")
        try:
            draft = self.draft()
        except ValidationError as exc:
            self._failed(exc)
            return
        vehicles = self._services.vehicles
        self.ok_button.setEnabled(False)
        self._tasks.run(
            lambda: vehicles.add(draft),
            on_success=self._added,
            on_failure=self._failed,
            on_finished=lambda: self.ok_button.setEnabled(True),
            parent=self,
            title=self.windowTitle(),
        )

    def _added(self, vehicle: Vehicle) -> None:
        self.added = vehicle
        self.accept()

    def _failed(self, exc: BaseException) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        unplaced = self.fields.show_errors(exc.field_errors)
        if unplaced or not exc.field_errors:
            set_error(self.error, exc.user_text())
        return True


class VehiclesPage(QWidget):
    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._tasks = tasks
        self.presenter = VehiclesPresenter(services, tasks, self)
        self.dialog: QDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(heading(self.tr("Vehicles")))
        bar = QHBoxLayout()
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
        for w in (
            self.status,
            self.make,
            self.model_name,
            self.year_from,
            self.price_min,
            self.price_max,
            self.min_days,
        ):
            bar.addWidget(w)
        self.apply_button = QPushButton(self.tr("Filter"))
        bar.addWidget(self.apply_button)
        layout.addLayout(bar)
        actions = QHBoxLayout()
        writes = services.session.can(Permission.VEHICLE_WRITE)
        self.add_button = QPushButton(self.tr("Add vehicle…"))
        self.add_button.setVisible(writes)
        actions.addWidget(self.add_button)
        self.import_button = QPushButton(self.tr("Import stock list…"))
        self.import_button.setVisible(writes)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.count_label = note("")
        actions.addWidget(self.import_button)
        actions.addWidget(self.count_label)
        actions.addStretch(1)
        actions.addWidget(self.refresh_button)
        layout.addLayout(actions)
        self.filter_error = error_label()
        layout.addWidget(self.filter_error)
        self.table = QTableView()
        self.table.setModel(self.presenter.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            VehicleColumn.VEHICLE, QHeaderView.ResizeMode.Stretch
        )
        self.table.horizontalHeader().setSectionsClickable(True)
        self.table.horizontalHeader().sectionClicked.connect(self._sort_by)
        layout.addWidget(self.table)
        self.apply_button.clicked.connect(self.apply_filters)
        for edit in (self.make, self.model_name, self.year_from, self.price_min, self.price_max):
            edit.returnPressed.connect(self.apply_filters)
        self.status.currentIndexChanged.connect(self.apply_filters)
        self.refresh_button.clicked.connect(self.presenter.reload)
        self.import_button.clicked.connect(self.choose_import_file)
        self.add_button.clicked.connect(self.add_vehicle)
        self.presenter.model.modelReset.connect(self._count)
        if changes is not None:  # vehicles changed here or on another desk: the list follows
            changes.subscribe("vehicles", self._changed)
            self.destroyed.connect(lambda *_: changes.unsubscribe("vehicles", self._changed))
        self.presenter.reload()

    def _changed(self, _changes) -> None:
        self.presenter.refresh(self.table)

    def _count(self) -> None:
        self.count_label.setText(self.tr("{n} vehicles").format(n=self.presenter.model.total))

    def _sort_by(self, section: int) -> None:
        sort = VehicleColumn(section).sort
        header = self.table.horizontalHeader()
        if sort is None:
            header.setSortIndicatorShown(False)
            return
        p = self.presenter
        p.descending = not p.descending if p.sort is sort else False
        p.sort = sort
        header.setSortIndicatorShown(True)
        header.setSortIndicator(
            section, Qt.SortOrder.DescendingOrder if p.descending else Qt.SortOrder.AscendingOrder
        )
        p.reload()

    def apply_filters(self) -> None:
        set_error(self.filter_error, "")
        try:
            year = int(self.year_from.text()) if self.year_from.text().strip() else None
            days = int(self.min_days.text()) if self.min_days.text().strip() else None
            pmin = parse_decimal(self.price_min.text())
            pmax = parse_decimal(self.price_max.text())
        except ValueError:
            set_error(self.filter_error, self.tr("Years, days and prices are numbers."))
            return
        self.presenter.filters = VehicleFilter(
            status=self.status.currentData(),
            make=self.make.text().strip(),
            model=self.model_name.text().strip(),
            year_from=year,
            price_min=pmin,
            price_max=pmax,
            min_days_in_stock=days,
        )
        self.presenter.reload()

    def add_vehicle(self) -> AddVehicleDialog:
        currency = self._services.vehicles.currency
        self.dialog = dialog = AddVehicleDialog(self._services, self._tasks, currency, self)
        dialog.finished.connect(lambda _: self.presenter.reload() if dialog.added else None)
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
        self.dialog.finished.connect(lambda _: self.presenter.reload())
        self.dialog.open()
        return self.dialog
