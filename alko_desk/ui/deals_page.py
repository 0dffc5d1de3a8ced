"""The Deals page: the deal list, the deal builder that recomputes as the user types, manager
approval, delivery planning, the handover checklist and certificate."""

from __future__ import annotations

import enum
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QDate, QModelIndex, QPersistentModelIndex, Qt, QTime
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.deals import (
    ApprovalStatus,
    Deal,
    DealDraft,
    DealFigures,
    DealFilter,
    DealState,
    DeliverySchedule,
    Discount,
    DiscountKind,
    Financing,
    HandoverChecklist,
    ItemKind,
    LineItem,
    TradeIn,
)
from alko_desk.models.errors import AlkoError, ValidationError
from alko_desk.models.money import Money
from alko_desk.models.users import Permission
from alko_desk.models.vehicles import Vehicle, VehicleFilter, VehicleStatus
from alko_desk.services.deal_calc import compute
from alko_desk.services.deals import terms_for
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.vehicles_page import parse_decimal
from alko_desk.ui.widgets import error_label, heading, note, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

_tr = QCoreApplication.translate
DEAL_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class DealColumn(enum.IntEnum):
    ID = 0
    CLIENT = 1
    VEHICLE = 2
    STATE = 3
    APPROVAL = 4
    TOTAL = 5
    BALANCE = 6

    @property
    def header(self) -> str:
        return {
            DealColumn.ID: _tr("DealsModel", "Deal"),
            DealColumn.CLIENT: _tr("DealsModel", "Client"),
            DealColumn.VEHICLE: _tr("DealsModel", "Vehicle"),
            DealColumn.STATE: _tr("DealsModel", "State"),
            DealColumn.APPROVAL: _tr("DealsModel", "Approval"),
            DealColumn.TOTAL: _tr("DealsModel", "Total"),
            DealColumn.BALANCE: _tr("DealsModel", "Balance due"),
        }[self]


class DealsModel(ColumnsTableModel):
    columns = DealColumn

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[Deal] = []
        self.client_names: dict[str, str] = {}

    def row_count(self) -> int:
        return len(self._rows)

    def set_deals(self, deals: list[Deal]) -> None:
        self.beginResetModel()
        self._rows = list(deals)
        self.endResetModel()

    def deal(self, row: int) -> Deal | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, deal_id: str) -> int:
        return next((i for i, d in enumerate(self._rows) if d.id == deal_id), -1)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        d = self._rows[index.row()]
        if role == DEAL_ID_ROLE:
            return d.id
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        column = DealColumn(index.column())
        if column is DealColumn.ID:
            return d.id
        if column is DealColumn.CLIENT:
            return self.client_names.get(d.client_id, d.client_id)
        if column is DealColumn.VEHICLE:
            return f"{d.vehicle_title} · {d.vehicle_vin}"
        if column is DealColumn.STATE:
            return _tr("DealState", d.state.label)
        if column is DealColumn.APPROVAL:
            return {
                ApprovalStatus.NOT_NEEDED: "",
                ApprovalStatus.PENDING: _tr("DealsModel", "Waiting for a manager"),
                ApprovalStatus.APPROVED: _tr("DealsModel", "Approved by {who}").format(
                    who=d.approval.by
                ),
                ApprovalStatus.REJECTED: _tr("DealsModel", "Rejected: {why}").format(
                    why=d.approval.reason
                ),
            }[d.approval.status]
        if column is DealColumn.TOTAL:
            return str(d.figures.total_price)
        return str(d.figures.balance_due)


def figures_lines(f: DealFigures, tr=lambda s: s) -> list[tuple[str, str]]:
    """The figures as the builder and the detail panel show them, in order."""
    lines = [
        (tr("List price"), str(f.list_price)),
        (tr("Discounts"), f"−{f.discount_total} ({f.discount_percent} %)"),
        (tr("Vehicle price"), str(f.vehicle_price)),
        (tr("Accessories"), str(f.accessories_total)),
        (tr("Fees"), str(f.fees_total)),
        (tr("Total price"), str(f.total_price)),
        (tr("VAT scheme"), f.scheme.label),
    ]
    if f.vat_shown.vat or f.scheme.value == "standard":
        lines.append(
            (tr("of which VAT {rate} %").format(rate=f.vat_shown.rate), str(f.vat_shown.vat))
        )
    lines += [
        (tr("Trade-in"), f"−{f.trade_in_value}"),
        (tr("Loan to settle"), str(f.trade_in_loan)),
        (tr("Deposit"), f"−{f.deposit}"),
        (tr("Financed"), f"−{f.amount_financed}"),
    ]
    if f.monthly_payment is not None:
        lines.append((tr("Monthly payment"), str(f.monthly_payment)))
        lines.append((tr("Total cost of credit"), str(f.cost_of_credit)))
    lines.append((tr("Balance due"), str(f.balance_due)))
    return lines


class DealBuilder(QWidget):
    """The deal form: every change recomputes the figures at once, on the GUI thread (the
    arithmetic is pure and takes well under a millisecond)."""

    def __init__(self, vat_rate: Decimal, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vat_rate = vat_rate
        self.currency = currency
        self.vehicles: dict[str, Vehicle] = {}
        self.figures: DealFigures | None = None
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        form = QFormLayout()
        self.client = QComboBox()
        self.client.setEditable(False)
        self.vehicle = QComboBox()
        form.addRow(self.tr("Client"), self.client)
        form.addRow(self.tr("Vehicle"), self.vehicle)
        self.discount_percent = QLineEdit(placeholderText="0")
        self.discount_amount = QLineEdit(placeholderText="0,00")
        form.addRow(self.tr("Discount %"), self.discount_percent)
        form.addRow(self.tr("Discount amount"), self.discount_amount)
        self.accessories = QLineEdit(placeholderText="0,00")
        self.delivery_fee = QLineEdit(placeholderText="0,00")
        self.registration_fee = QLineEdit(placeholderText="0,00")
        form.addRow(self.tr("Accessories"), self.accessories)
        form.addRow(self.tr("Delivery fee"), self.delivery_fee)
        form.addRow(self.tr("Registration (no VAT)"), self.registration_fee)
        self.deposit = QLineEdit(placeholderText="0,00")
        form.addRow(self.tr("Deposit"), self.deposit)
        self.prefer_standard = QCheckBox(self.tr("Standard VAT instead of the margin scheme"))
        form.addRow("", self.prefer_standard)
        left.addLayout(form)
        trade = QGroupBox(self.tr("Trade-in"))
        trade.setCheckable(True)
        trade.setChecked(False)
        self.trade_in_box = trade
        tform = QFormLayout(trade)
        self.trade_vin = QLineEdit()
        self.trade_description = QLineEdit()
        self.trade_mileage = QLineEdit(placeholderText="km")
        self.trade_value = QLineEdit(placeholderText="0,00")
        self.trade_loan = QLineEdit(placeholderText="0,00")
        tform.addRow(self.tr("VIN"), self.trade_vin)
        tform.addRow(self.tr("Car"), self.trade_description)
        tform.addRow(self.tr("Mileage"), self.trade_mileage)
        tform.addRow(self.tr("Appraised value"), self.trade_value)
        tform.addRow(self.tr("Outstanding loan"), self.trade_loan)
        left.addWidget(trade)
        fin = QGroupBox(self.tr("Financing"))
        fin.setCheckable(True)
        fin.setChecked(False)
        self.financing_box = fin
        fform = QFormLayout(fin)
        self.lender = QLineEdit()
        self.financed = QLineEdit(placeholderText="0,00")
        self.term = QSpinBox(minimum=1, maximum=120, value=60)
        self.rate = QLineEdit(placeholderText="%")
        fform.addRow(self.tr("Lender"), self.lender)
        fform.addRow(self.tr("Amount financed"), self.financed)
        fform.addRow(self.tr("Term (months)"), self.term)
        fform.addRow(self.tr("Annual rate %"), self.rate)
        left.addWidget(fin)
        self.input_error = error_label()
        left.addWidget(self.input_error)
        outer.addLayout(left, 3)
        right = QVBoxLayout()
        right.addWidget(heading(self.tr("Figures"), 13))
        self.figures_grid = QGridLayout()
        self.figure_labels: dict[str, QLabel] = {}
        right.addLayout(self.figures_grid)
        self.scheme_reason = note("")
        self.scheme_reason.setWordWrap(True)
        right.addWidget(self.scheme_reason)
        self.problems = error_label()
        right.addWidget(self.problems)
        right.addStretch(1)
        outer.addLayout(right, 2)
        for edit in self.findChildren(QLineEdit):
            edit.textChanged.connect(self.recompute)
        self.term.valueChanged.connect(self.recompute)
        self.vehicle.currentIndexChanged.connect(self.recompute)
        self.prefer_standard.toggled.connect(self.recompute)
        trade.toggled.connect(self.recompute)
        fin.toggled.connect(self.recompute)

    # -- choices --------------------------------------------------------------------------------

    def set_clients(self, clients: list[tuple[str, str]]) -> None:
        self.client.clear()
        for client_id, name in clients:
            self.client.addItem(name, client_id)

    def set_vehicles(self, vehicles: list[Vehicle]) -> None:
        self.vehicles = {v.id: v for v in vehicles}
        self.vehicle.clear()
        for v in vehicles:
            self.vehicle.addItem(f"{v.title} · {v.list_price} · {v.vin}", v.id)

    def load_deal(self, deal: Deal, vehicle: Vehicle) -> None:
        """Fills the form from an existing deal (editing)."""
        self.set_vehicles([vehicle])
        index = self.client.findData(deal.client_id)
        if index < 0:
            self.client.addItem(deal.client_id, deal.client_id)
            index = self.client.count() - 1
        self.client.setCurrentIndex(index)
        t = deal.terms
        pct = sum((d.value for d in t.discounts if d.kind is DiscountKind.PERCENT), Decimal(0))
        amt = sum((d.value for d in t.discounts if d.kind is DiscountKind.AMOUNT), Decimal(0))
        self.discount_percent.setText(str(pct) if pct else "")
        self.discount_amount.setText(str(amt) if amt else "")
        acc = sum((i.amount.amount for i in t.items if i.kind is ItemKind.ACCESSORY), Decimal(0))
        self.accessories.setText(str(acc) if acc else "")
        for item in t.items:
            if item.kind is ItemKind.FEE:
                target = self.registration_fee if not item.vat_applies else self.delivery_fee
                target.setText(str(item.amount.amount))
        self.deposit.setText(str(t.deposit.amount) if t.deposit else "")
        self.prefer_standard.setChecked(t.prefer_standard_vat)
        if t.trade_in:
            self.trade_in_box.setChecked(True)
            self.trade_vin.setText(t.trade_in.vin)
            self.trade_description.setText(t.trade_in.description)
            self.trade_mileage.setText(str(t.trade_in.mileage_km))
            self.trade_value.setText(str(t.trade_in.appraised_value.amount))
            self.trade_loan.setText(str(t.trade_in.outstanding_loan.amount))
        if t.financing:
            self.financing_box.setChecked(True)
            self.lender.setText(t.financing.lender)
            self.financed.setText(str(t.financing.amount.amount))
            self.term.setValue(t.financing.term_months)
            self.rate.setText(str(t.financing.annual_rate))
        self.recompute()

    # -- the draft and its figures ----------------------------------------------------------------

    def _amount(self, edit: QLineEdit, label: str) -> Money | None:
        try:
            value = parse_decimal(edit.text())
        except ValueError:
            raise ValueError(
                self.tr("{label}: “{text}” is not an amount.").format(label=label, text=edit.text())
            ) from None
        return Money.of(value, self.currency) if value is not None else None

    def draft(self) -> DealDraft:
        """The draft as typed; raises ValueError with a message for the user."""
        zero = Money.zero(self.currency)
        discounts = []
        try:
            pct = parse_decimal(self.discount_percent.text())
        except ValueError:
            raise ValueError(self.tr("The discount % is a number, e.g. 5 or 2,5.")) from None
        if pct:
            discounts.append(Discount(DiscountKind.PERCENT, pct))
        amount = self._amount(self.discount_amount, self.tr("Discount amount"))
        if amount:
            discounts.append(Discount(DiscountKind.AMOUNT, amount.amount))
        items = []
        for edit, kind, text, vat in (
            (self.accessories, ItemKind.ACCESSORY, self.tr("Accessories"), True),
            (self.delivery_fee, ItemKind.FEE, self.tr("Delivery"), True),
            (self.registration_fee, ItemKind.FEE, self.tr("Registration"), False),
        ):
            value = self._amount(edit, text)
            if value:
                items.append(LineItem(kind, text, value, vat_applies=vat))
        trade_in = None
        if self.trade_in_box.isChecked():
            mileage = self.trade_mileage.text().strip().replace(".", "").replace(" ", "")
            if mileage and not mileage.isdigit():
                raise ValueError(self.tr("The trade-in's mileage is a whole number of km."))
            trade_in = TradeIn(
                self.trade_vin.text().strip().upper(),
                self.trade_description.text().strip(),
                int(mileage or 0),
                self._amount(self.trade_value, self.tr("Appraised value")) or zero,
                self._amount(self.trade_loan, self.tr("Outstanding loan")) or zero,
            )
        financing = None
        if self.financing_box.isChecked():
            try:
                rate = parse_decimal(self.rate.text()) or Decimal(0)
            except ValueError:
                raise ValueError(self.tr("The rate is a percentage, e.g. 5,9.")) from None
            financing = Financing(
                self.lender.text().strip(),
                self._amount(self.financed, self.tr("Amount financed")) or zero,
                self.term.value(),
                rate,
            )
        return DealDraft(
            client_id=self.client.currentData() or "",
            vehicle_id=self.vehicle.currentData() or "",
            discounts=tuple(discounts),
            items=tuple(items),
            trade_in=trade_in,
            deposit=self._amount(self.deposit, self.tr("Deposit")),
            financing=financing,
            prefer_standard_vat=self.prefer_standard.isChecked(),
        )

    def recompute(self) -> None:
        set_error(self.input_error, "")
        vehicle = self.vehicles.get(self.vehicle.currentData() or "")
        if vehicle is None:
            return
        try:
            draft = self.draft()
        except ValueError as exc:
            set_error(self.input_error, str(exc) or self.tr("A number is not valid."))
            return
        self.figures = compute(terms_for(vehicle, draft, self.vat_rate, self.currency))
        self._show(self.figures)

    def _show(self, f: DealFigures) -> None:
        for row, (label, value) in enumerate(figures_lines(f, self.tr)):
            key = f"{row}"
            if key not in self.figure_labels:
                name, amount = QLabel(), QLabel()
                amount.setAlignment(Qt.AlignmentFlag.AlignRight)
                self.figures_grid.addWidget(name, row, 0)
                self.figures_grid.addWidget(amount, row, 1)
                self.figure_labels[key] = amount
                self.figure_labels[f"{key}:name"] = name
            self.figure_labels[f"{key}:name"].setText(label)
            self.figure_labels[key].setText(value)
        for row in range(len(figures_lines(f)), len(self.figure_labels) // 2):
            self.figure_labels[f"{row}"].setText("")
            self.figure_labels[f"{row}:name"].setText("")
        self.scheme_reason.setText(f.scheme_reason)
        set_error(self.problems, " ".join(f.problems))


class DealBuilderDialog(QDialog):
    """Stays open until the deal is saved, so nothing typed is lost to a refusal."""

    def __init__(
        self,
        services: SessionServices,
        tasks: TaskRunner,
        vat_rate: Decimal,
        currency: str,
        base: Deal | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._tasks = tasks
        self.base = base
        self.saved: Deal | None = None
        self.setWindowTitle(
            self.tr("Edit deal {id}").format(id=base.id) if base else self.tr("New deal")
        )
        self.resize(900, 640)
        layout = QVBoxLayout(self)
        self.builder = DealBuilder(vat_rate, currency, self)
        layout.addWidget(self.builder)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton(
            self.tr("Save and reserve"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.save_button.clicked.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.loaded = False
        self._load()

    def _load(self) -> None:
        services = self._services
        base = self.base

        def work():
            clients = [(r.id, r.display_name) for r in services.clients.page(0, 500)]
            if base:
                return clients, [services.vehicles.get(base.vehicle_id)]
            stock = services.vehicles.page(
                VehicleFilter(status=VehicleStatus.IN_STOCK), count=2000
            ).rows
            return clients, list(stock)

        def done(result) -> None:
            clients, vehicles = result
            self.builder.set_clients(clients)
            if base:
                self.builder.load_deal(base, vehicles[0])
            else:
                self.builder.set_vehicles(vehicles)
            self.loaded = True

        self._tasks.run(work, on_success=done, parent=self)

    def save(self) -> None:
        set_error(self.error, "")
        try:
            draft = self.builder.draft()
        except ValueError as exc:
            set_error(self.error, str(exc))
            return
        deals = self._services.deals
        base = self.base
        self.save_button.setEnabled(False)
        self._tasks.run(
            (lambda: deals.update(deals.get(base.id), draft))
            if base
            else (lambda: deals.create(draft)),
            on_success=self._saved,
            on_failure=self._failed,
            on_finished=lambda: self.save_button.setEnabled(True),
            parent=self,
            title=self.windowTitle(),
        )

    def _saved(self, deal: Deal) -> None:
        self.saved = deal
        self.accept()

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, ValidationError):
            text = exc.message
            if exc.field_errors:
                text += " " + " ".join(exc.field_errors.values())
            set_error(self.error, text)
            return True
        if isinstance(exc, AlkoError):  # e.g. the car was reserved by another desk meanwhile
            set_error(self.error, exc.user_text())
            return True
        return False


class DeliveryDialog(QDialog):
    def __init__(self, staff: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Schedule the delivery"))
        form = QFormLayout(self)
        self.day = QDateEdit(QDate.currentDate().addDays(1), calendarPopup=True)
        self.at = QTimeEdit(QTime(10, 0))
        self.place = QLineEdit()
        self.staff = QLineEdit(staff)
        form.addRow(self.tr("Date"), self.day)
        form.addRow(self.tr("Time"), self.at)
        form.addRow(self.tr("Place"), self.place)
        form.addRow(self.tr("Handed over by"), self.staff)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def schedule(self) -> DeliverySchedule:
        d, t = self.day.date(), self.at.time()
        return DeliverySchedule(
            date(d.year(), d.month(), d.day()),
            time(t.hour(), t.minute()),
            self.place.text().strip(),
            self.staff.text().strip(),
        )


class HandoverDialog(QDialog):
    def __init__(self, mileage: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Handover checklist"))
        form = QFormLayout(self)
        self.documents = QCheckBox(
            self.tr("Registration papers, certificate of conformity, service book")
        )
        self.keys = QSpinBox(minimum=0, maximum=10, value=2)
        self.plates = QCheckBox(self.tr("Plates fitted"))
        self.fuel = QSpinBox(minimum=0, maximum=100, value=50, suffix=" %")
        self.mileage = QSpinBox(minimum=0, maximum=2_000_000, value=mileage, suffix=" km")
        self.damage = QPlainTextEdit()
        form.addRow(self.tr("Documents"), self.documents)
        form.addRow(self.tr("Keys"), self.keys)
        form.addRow(self.tr("Plates"), self.plates)
        form.addRow(self.tr("Fuel / charge"), self.fuel)
        form.addRow(self.tr("Mileage"), self.mileage)
        form.addRow(self.tr("Damage notes"), self.damage)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def checklist(self) -> HandoverChecklist:
        return HandoverChecklist(
            documents=self.documents.isChecked(),
            keys=self.keys.value(),
            plates=self.plates.isChecked(),
            fuel_level_percent=self.fuel.value(),
            mileage_km=self.mileage.value(),
            damage_notes=self.damage.toPlainText().strip(),
        )


class DealsPage(QWidget):
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
        self.vat_rate, self.currency = Decimal(25), "EUR"
        self.dialog: QDialog | None = None
        self.loading = False
        self._generation = 0
        self.model = DealsModel(self)
        session = services.session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(heading(self.tr("Deals")))
        bar = QHBoxLayout()
        self.state = QComboBox()
        self.state.addItem(self.tr("All deals"), None)
        self.state.addItem(self.tr("Waiting for approval"), "pending")
        self.state.addItem(self.tr("Deliveries, next 14 days"), "deliveries")
        for state in DealState:
            self.state.addItem(_tr("DealState", state.label), state)
        bar.addWidget(self.state)
        self.new_button = QPushButton(self.tr("New deal…"))
        self.edit_button = QPushButton(self.tr("Edit…"))
        self.delivery_button = QPushButton(self.tr("Schedule delivery…"))
        self.handover_button = QPushButton(self.tr("Handover…"))
        self.deliver_button = QPushButton(self.tr("Mark delivered"))
        self.certificate_button = QPushButton(self.tr("Certificate PDF…"))
        self.refresh_button = QPushButton(self.tr("Refresh"))
        writes = session.can(Permission.DEAL_WRITE)
        for button in (
            self.new_button,
            self.edit_button,
            self.delivery_button,
            self.handover_button,
            self.deliver_button,
        ):
            button.setVisible(writes)
            bar.addWidget(button)
        bar.addWidget(self.certificate_button)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        layout.addLayout(bar)
        decide = QHBoxLayout()
        self.reason = QLineEdit(
            placeholderText=self.tr("Reason (approval, rejection or cancellation)")
        )
        self.approve_button = QPushButton(self.tr("Approve discount"))
        self.reject_button = QPushButton(self.tr("Reject"))
        self.cancel_button = QPushButton(self.tr("Cancel deal"))
        approves = session.can(Permission.DEAL_APPROVE)
        self.approve_button.setVisible(approves)
        self.reject_button.setVisible(approves)
        self.cancel_button.setVisible(writes)
        decide.addWidget(self.reason, 1)
        for button in (self.approve_button, self.reject_button, self.cancel_button):
            decide.addWidget(button)
        layout.addLayout(decide)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            DealColumn.VEHICLE, QHeaderView.ResizeMode.Stretch
        )
        layout.addWidget(self.table, 2)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.detail, 1)
        self.state.currentIndexChanged.connect(self.reload)
        self.refresh_button.clicked.connect(self.reload)
        self.new_button.clicked.connect(self.new_deal)
        self.edit_button.clicked.connect(self.edit_deal)
        self.approve_button.clicked.connect(lambda: self._act("approve"))
        self.reject_button.clicked.connect(lambda: self._act("reject"))
        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.delivery_button.clicked.connect(self.schedule_delivery)
        self.handover_button.clicked.connect(self.handover)
        self.deliver_button.clicked.connect(lambda: self._act("deliver"))
        self.certificate_button.clicked.connect(self.choose_certificate_file)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.modelReset.connect(self._selection_changed)
        self._tasks.run(self._load_settings, on_success=self._settings_loaded, parent=self)
        if changes is not None:  # deals saved here or on another desk: the list follows
            changes.subscribe("deals", self._changed)
            self.destroyed.connect(lambda *_: changes.unsubscribe("deals", self._changed))
        self.reload()

    def _changed(self, _changes) -> None:
        """Reads the list again, keeping the highlighted deal and the scroll position."""
        self.reload(keep_scroll=True)  # the newest read wins

    # -- loading ----------------------------------------------------------------------------------

    def _load_settings(self):
        company = self._services.settings.company()
        return company.vat_rate, company.currency

    def _settings_loaded(self, result) -> None:
        self.vat_rate, self.currency = result

    def reload(self, *_args, select: str = "", keep_scroll: bool = False) -> None:
        self._generation += 1
        generation = self._generation
        self.loading = True
        choice = self.state.currentData()
        flt = (
            DealFilter(pending_approval=True)
            if choice == "pending"
            else DealFilter(state=choice if isinstance(choice, DealState) else None)
        )
        services = self._services
        keep = select or (self.selected().id if self.selected() else "")

        def work():
            services.deals.lapse_reservations()  # expired reservations go back to draft
            if choice == "deliveries":  # the calendar of handovers, soonest first
                deals = services.deals.upcoming_deliveries(date.today(), 14)
            else:
                deals = list(services.deals.page(flt, 0, 500).rows)
            names = {}
            if services.session.can(Permission.CLIENT_READ):
                try:
                    names = {r.id: r.display_name for r in services.clients.page(0, 2000)}
                except AlkoError:
                    names = {}
            return deals, names

        scroll = self.table.verticalScrollBar()

        def done(result) -> None:
            if generation != self._generation:
                return
            deals, names = result
            position = scroll.value()
            self.model.client_names = names
            self.model.set_deals(deals)
            row = self.model.row_of(keep) if keep else -1
            if row >= 0:
                self.table.selectRow(row)
            if keep_scroll:
                scroll.setValue(position)

        self._tasks.run(work, on_success=done, on_finished=self._loaded, parent=self)

    def _loaded(self) -> None:
        self.loading = False

    def selected(self) -> Deal | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.deal(rows[0].row()) if rows else None

    def select(self, deal_id: str) -> None:
        row = self.model.row_of(deal_id)
        if row >= 0:
            self.table.selectRow(row)

    def _selection_changed(self, *_args) -> None:
        deal = self.selected()
        pending = bool(deal) and deal.approval.status is ApprovalStatus.PENDING
        editable = bool(deal) and deal.state in (
            DealState.DRAFT,
            DealState.RESERVED,
            DealState.APPROVED,
        )
        self.edit_button.setEnabled(editable)
        self.approve_button.setEnabled(pending)
        self.reject_button.setEnabled(pending)
        self.cancel_button.setEnabled(editable)
        self.delivery_button.setEnabled(
            bool(deal) and deal.state.open and deal.state is not DealState.DRAFT
        )
        self.handover_button.setEnabled(bool(deal) and deal.state is DealState.INVOICED)
        self.deliver_button.setEnabled(bool(deal) and deal.state is DealState.INVOICED)
        self.certificate_button.setEnabled(
            bool(deal) and deal.state in (DealState.INVOICED, DealState.DELIVERED)
        )
        self.detail.setText(self._describe(deal) if deal else "")

    def _describe(self, deal: Deal) -> str:
        lines = [f"{deal.id} — {deal.vehicle_title} ({deal.vehicle_vin})"]
        lines += [f"{label}: {value}" for label, value in figures_lines(deal.figures, self.tr)]
        lines.append(deal.figures.scheme_reason)
        if deal.delivery:
            d = deal.delivery
            lines.append(
                self.tr("Delivery: {day} {at}, {place} ({staff})").format(
                    day=f"{d.day:%d.%m.%Y}", at=f"{d.at:%H:%M}", place=d.place, staff=d.staff
                )
            )
        return "\n".join(lines)

    # -- actions ----------------------------------------------------------------------------------

    def new_deal(self) -> DealBuilderDialog:
        return self._open_builder(None)

    def edit_deal(self) -> DealBuilderDialog | None:
        deal = self.selected()
        return self._open_builder(deal) if deal else None

    def _open_builder(self, base: Deal | None) -> DealBuilderDialog:
        dialog = DealBuilderDialog(
            self._services, self._tasks, self.vat_rate, self.currency, base, self
        )
        self.dialog = dialog

        def closed(result: int) -> None:
            if dialog.saved:
                self.reload(select=dialog.saved.id)

        dialog.finished.connect(closed)
        dialog.open()
        return dialog

    def _act(self, action: str) -> None:
        deal = self.selected()
        if deal is None:
            return
        deals = self._services.deals
        reason = self.reason.text()
        work = {
            "approve": lambda: deals.approve(deals.get(deal.id), reason),
            "reject": lambda: deals.reject(deals.get(deal.id), reason),
            "cancel": lambda: deals.cancel(deals.get(deal.id), reason),
            "deliver": lambda: deals.mark_delivered(deals.get(deal.id)),
        }[action]
        self._run(work)

    def _run(self, work) -> None:
        def done(deal: Deal) -> None:
            self.reason.clear()
            self.reload(select=deal.id)

        self._tasks.run(work, on_success=done, parent=self)

    def schedule_delivery(self) -> DeliveryDialog | None:
        deal = self.selected()
        if deal is None:
            return None
        dialog = DeliveryDialog(self._services.session.user.username, self)
        self.dialog = dialog
        deals = self._services.deals

        def accepted() -> None:
            schedule = dialog.schedule()
            self._run(lambda: deals.schedule_delivery(deals.get(deal.id), schedule))

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def handover(self) -> HandoverDialog | None:
        deal = self.selected()
        if deal is None:
            return None
        dialog = HandoverDialog(0, self)
        self.dialog = dialog
        deals = self._services.deals

        def accepted() -> None:
            checklist = dialog.checklist()
            self._run(lambda: deals.record_handover(deals.get(deal.id), checklist))

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def choose_certificate_file(self) -> None:
        deal = self.selected()
        if deal is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Handover certificate"), f"{deal.id}.pdf", "PDF (*.pdf)"
        )
        if name:
            self.save_certificate(Path(name))

    def save_certificate(self, path: Path) -> None:
        deal = self.selected()
        if deal is None:
            return
        services = self._services

        def work() -> Path:
            name = deal.client_id
            if services.session.can(Permission.CLIENT_READ):
                try:
                    name = services.clients.get(deal.client_id).display_name
                except (AlkoError, AttributeError):
                    pass
            path.write_bytes(services.deals.handover_certificate(deal, name))
            return path

        self._tasks.run(work, parent=self)
