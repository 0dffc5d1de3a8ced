"""The Deals page: the deal list, the deal builder that recomputes as the user types, manager
approval, delivery planning, the handover checklist and certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QDate,
    QMargins,
    Qt,
    QTime,
    QTimer,
    Signal,
)
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
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
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.clients import ClientRow
from alko_desk.models.deals import (
    ApprovalStatus,
    BusinessBuyer,
    Deal,
    DealDraft,
    DealFigures,
    DealSort,
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
from alko_desk.models.errors import AlkoError, NotFound, ValidationError
from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.models.money import Money
from alko_desk.models.users import Permission
from alko_desk.models.vehicles import Vehicle, VehicleFilter, VehicleStatus
from alko_desk.services.business_buyer import (
    buyer_vat_problem,
    compact_vat_id,
    company_country,
    vat_country,
)
from alko_desk.services.deal_calc import compute
from alko_desk.services.deals import terms_for
from alko_desk.ui.changes import SETTINGS
from alko_desk.ui.forms import FormDialog
from alko_desk.ui.invoices_page import typed_amount
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
    ROW_ID_ROLE,
    RowSource,
    rows_from,
)
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.vehicles_page import parse_decimal
from alko_desk.ui.widgets import error_label, heading, note, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

_tr = QCoreApplication.translate
DEALS = "deals"  # the entities in change announcements
CLIENTS = "clients"
DEAL_ID_ROLE = ROW_ID_ROLE
DELIVERY_DAYS = 14  # the calendar of handovers looks this far ahead
FIRST_CLIENTS = 200  # offered before anything is typed; typing searches all of them
VEHICLE_CHOICE_MAX = 640  # px: the widest the vehicle choice makes the deal builder
UNLIMITED = 16_777_215  # QWIDGETSIZE_MAX, which PySide6 does not export
CLIENT_SEARCH_DELAY_MS = 250  # typing pauses this long before the search runs
# Asked when the button is pressed (title, label, required, the button that does it), so the
# audit entry has its why.
REASON_PROMPTS = {
    "approve": (
        QT_TRANSLATE_NOOP("DealsPage", "Approve the discount of {id}"),
        QT_TRANSLATE_NOOP("DealsPage", "Reason (optional):"),
        False,
        QT_TRANSLATE_NOOP("DealsPage", "Approve"),
    ),
    "reject": (
        QT_TRANSLATE_NOOP("DealsPage", "Reject the discount of {id}"),
        QT_TRANSLATE_NOOP("DealsPage", "Why is it rejected? The salesperson sees this."),
        True,
        QT_TRANSLATE_NOOP("DealsPage", "Reject"),
    ),
    "cancel": (
        QT_TRANSLATE_NOOP("DealsPage", "Cancel deal {id}"),
        QT_TRANSLATE_NOOP("DealsPage", "Why is the deal cancelled? The car goes back in stock."),
        True,
        QT_TRANSLATE_NOOP("DealsPage", "Cancel the deal"),
    ),
}
MONEY = "000,000.00 EUR"  # the widest usual amount: sizes the columns of amounts


class DealColumn(ListColumn, context="DealsModel"):
    ID = Column(
        "Deal",
        DealSort.CREATED,
        sample="D-2612-0A0A0A",
        tooltip="Sorted by when the deal was made.",
    )
    CLIENT = Column(
        "Client",
        sample="Вероника Лобанова",
        tooltip="The list cannot be sorted by client: names are kept encrypted.",
    )
    VEHICLE = Column("Vehicle", DealSort.VEHICLE, stretch=True)
    STATE = Column(
        "State", DealSort.STATE, sample="Reserved · rejected", sample_context="DealsModel"
    )
    APPROVAL = Column("Approval", DealSort.APPROVAL, sample="Approved", sample_context="DealsModel")
    TOTAL = Column("Total", DealSort.TOTAL, sample=MONEY, right=True)
    BALANCE = Column("Balance due", sample=MONEY, right=True)


@dataclass(frozen=True)
class DealRow:
    """A deal as the list shows it: with its client's name (read with the page)."""

    deal: Deal
    client_name: str = ""


def deal_rows(services: SessionServices, today: Callable[[], date]) -> RowSource[DealRow]:
    """The deal list's rows: `DealService.list_page`, or with the filter `deliveries` the
    calendar of handovers (soonest first); each page with its clients' names when the user
    may read clients (one lookup per client on the page, audited as a list view)."""
    deals, clients, session = services.deals, services.clients, services.session
    list_rows = rows_from(deals.list_page)

    def read(request: PageRequest, progress: Progress) -> Page[DealRow]:
        if request.filters.get("deliveries"):
            upcoming = deals.upcoming_deliveries(today(), DELIVERY_DAYS)
            shown = upcoming[request.start : request.start + request.count]
            page = Page(tuple(shown), len(upcoming), request.start)
        else:
            page = list_rows(request, progress)
        names: dict[str, str] = {}
        if page.rows and session.can(Permission.CLIENT_READ):
            try:
                rows = clients.rows_for([d.client_id for d in page.rows])
                names = {r.id: r.display_name for r in rows}
            except AlkoError:
                names = {}
        return Page(
            tuple(DealRow(d, names.get(d.client_id, "")) for d in page.rows),
            page.total,
            page.start,
        )

    return read


class DealsModel(ListModel[DealRow]):
    """The deal list in the service's order (newest first until a header is clicked)."""

    columns = DealColumn
    title = "Deals"
    first_sort = DealColumn.ID
    first_order = Qt.SortOrder.DescendingOrder

    @staticmethod
    def key_of(row: DealRow) -> str:
        return row.deal.id

    def deal(self, row: int) -> Deal | None:
        found = self.row(row)
        return found.deal if found else None

    @property
    def calendar(self) -> bool:
        """The calendar of handovers is shown: the State column gives each one's slot."""
        return bool(self.filters.get("deliveries"))

    def set_filters(self, filters: dict[str, Any]) -> None:
        super().set_filters(filters)
        state = int(DealColumn.STATE)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, state, state)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            self.calendar
            and orientation == Qt.Orientation.Horizontal
            and section == int(DealColumn.STATE)
            and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
        ):
            return _tr("DealsModel", "Delivery")
        return super().headerData(section, orientation, role)

    def display(self, row: DealRow, column: Any) -> str:
        d = row.deal
        if column is DealColumn.ID:
            return d.id
        if column is DealColumn.CLIENT:
            return row.client_name or d.client_id
        if column is DealColumn.VEHICLE:
            return d.vehicle_title
        if column is DealColumn.STATE and self.calendar and d.delivery:
            return delivery_text(d, staff=False)
        if column is DealColumn.STATE:
            return state_text(d, short=True)
        if column is DealColumn.APPROVAL:
            return approval_short(d)
        if column is DealColumn.TOTAL:
            return str(d.figures.total_price)
        return str(d.figures.balance_due)

    def cell(self, row: DealRow, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            d = row.deal
            if column is DealColumn.APPROVAL:
                return approval_text(d) or None
            if column is DealColumn.STATE and self.calendar and d.delivery:
                return f"{delivery_text(d)}. {state_text(d)}"
            if column is DealColumn.STATE and d.approval.status is ApprovalStatus.REJECTED:
                return f"{state_text(d)}. {approval_text(d)}"
            if column is DealColumn.VEHICLE:
                return f"{d.vehicle_title} · {d.vehicle_vin}"
        return super().cell(row, column, role)


def delivery_text(d: Deal, *, staff: bool = True) -> str:
    """When and where the car is handed over (and by whom, with `staff`: the tooltip); the
    calendar's column leaves out the year (it looks two weeks ahead) to keep the place."""
    slot = d.delivery
    day = f"{slot.day:%d.%m.%Y}" if staff else f"{slot.day:%d.%m.}"
    text = _tr("DealsModel", "{day} {at} · {place}").format(
        day=day, at=f"{slot.at:%H:%M}", place=slot.place
    )
    return f"{text} ({slot.staff})" if staff and slot.staff else text


def ready_to_invoice(d: Deal) -> bool:
    """As `DealService.ready_to_invoice`: approved, or reserved with no approval needed."""
    return d.state is DealState.APPROVED or (
        d.state is DealState.RESERVED and d.approval.status is ApprovalStatus.NOT_NEEDED
    )


def approval_short(d: Deal) -> str:
    """The approval in a word or two, for the list column (the detail says who and why)."""
    return {
        ApprovalStatus.NOT_NEEDED: "",
        ApprovalStatus.PENDING: _tr("DealsModel", "Waiting"),
        ApprovalStatus.APPROVED: _tr("DealsModel", "Approved"),
        ApprovalStatus.REJECTED: _tr("DealsModel", "Rejected"),
    }[d.approval.status]


def state_text(d: Deal, until: str = "", *, short: bool = False) -> str:
    """The deal's state as the detail (`until`: the reservation's end) and, `short`, the list
    show it: a deal whose discount a manager rejected says so, for sales to change it (it
    stays reserved meanwhile; the list's tooltip and the detail give the reason)."""
    state = _tr("DealState", d.state.label) + until
    if d.approval.status is ApprovalStatus.REJECTED and d.state.open:
        if short:  # the list's column is narrow; the Approval column beside it says more
            return _tr("DealsModel", "{state} · rejected").format(state=state)
        return _tr("DealsModel", "{state} · approval rejected").format(state=state)
    return state


def approval_text(d: Deal) -> str:
    return {
        ApprovalStatus.NOT_NEEDED: "",
        ApprovalStatus.PENDING: _tr("DealsModel", "Waiting for a manager"),
        ApprovalStatus.APPROVED: (
            _tr("DealsModel", "Approved by {who}: {why}")
            if d.approval.reason
            else _tr("DealsModel", "Approved by {who}")
        ).format(who=d.approval.by, why=d.approval.reason),
        ApprovalStatus.REJECTED: _tr("DealsModel", "Rejected: {why}").format(why=d.approval.reason),
    }[d.approval.status]


def approval_summary(d: Deal, client: str, threshold: Decimal | None) -> str:
    """What a manager approves or rejects: the deal's client and car, and its discount (amount
    and percent of the list price) against the threshold from Settings (when it could be read)."""
    f = d.figures
    lines = [
        _tr("DealsPage", "Client: {client}").format(client=client),
        _tr("DealsPage", "Vehicle: {vehicle} · {vin}").format(
            vehicle=d.vehicle_title, vin=d.vehicle_vin
        ),
        _tr("DealsPage", "Discount: {amount} ({percent} %) off the list price {price}").format(
            amount=f.discount_total, percent=f.discount_percent, price=f.list_price
        ),
    ]
    if threshold is not None:
        lines.append(
            _tr("DealsPage", "A discount above {threshold} % needs a manager's approval.").format(
                threshold=threshold
            )
        )
    return "\n".join(lines)


def _less(amount: Money) -> str:
    """An amount taken off the price: with a minus sign, unless there is nothing to take."""
    return f"−{amount}" if amount.amount else str(amount)


def figures_lines(f: DealFigures, tr=lambda s: s) -> list[tuple[str, str]]:
    """The figures as the builder and the detail panel show them, in order."""
    lines = [
        (tr("List price"), str(f.list_price)),
        (tr("Discounts"), f"{_less(f.discount_total)} ({f.discount_percent} %)"),
        (tr("Vehicle price"), str(f.vehicle_price)),
        (tr("Accessories"), str(f.accessories_total)),
        (tr("Fees"), str(f.fees_total)),
    ]
    if f.vat_not_charged is not None:  # intra-community: the buyer pays the net price
        lines.append((tr("VAT not charged (intra-community)"), _less(f.vat_not_charged)))
    lines += [
        (tr("Total price"), str(f.total_price)),
        (tr("VAT scheme"), f.scheme.label),
    ]
    if f.vat_shown.vat or f.scheme.value == "standard":
        lines.append(
            (tr("of which VAT {rate} %").format(rate=f.vat_shown.rate), str(f.vat_shown.vat))
        )
    lines += [
        (tr("Trade-in"), _less(f.trade_in_value)),
        (tr("Loan to settle"), str(f.trade_in_loan)),
        (tr("Deposit"), _less(f.deposit)),
        (tr("Financed"), _less(f.amount_financed)),
    ]
    if f.monthly_payment is not None:
        lines.append((tr("Monthly payment"), str(f.monthly_payment)))
        lines.append((tr("Total cost of credit"), str(f.cost_of_credit)))
    lines.append((tr("Balance due"), str(f.balance_due)))
    return lines


def client_choice(row: ClientRow) -> tuple[str, str]:
    """A client as the deal builder offers them: the name, and the city and masked phone
    that tell apart two clients of the same name (the list shows the same)."""
    extra = [part for part in (row.city, row.phone_masked) if part]
    return row.id, " · ".join([row.display_name, *extra])


def _folding(group: QGroupBox) -> QWidget:
    """The fields of a checkable group, shown only while it is checked."""
    fields = QWidget()
    layout = QVBoxLayout(group)
    layout.addWidget(fields)
    margins = layout.contentsMargins()

    def show(checked: bool) -> None:
        fields.setVisible(checked)
        # folded: its title only (the style would draw an empty frame under it)
        layout.setContentsMargins(margins if checked else QMargins(0, 0, 0, 0))
        group.setMaximumHeight(UNLIMITED if checked else group.fontMetrics().height() + 4)

    show(group.isChecked())
    group.toggled.connect(show)
    return fields


class DealBuilder(QWidget):
    """The deal form: every change recomputes the figures at once, on the GUI thread (the
    arithmetic is pure and takes well under a millisecond)."""

    client_search_requested = Signal(str)  # typed text, after a pause; "" for the first clients

    def __init__(
        self,
        vat_rate: Decimal,
        currency: str,
        parent: QWidget | None = None,
        seller_country: str = "",
    ) -> None:
        super().__init__(parent)
        self.vat_rate = vat_rate
        self.currency = currency
        self.seller_country = seller_country  # the dealer's, for the intra-community test
        self.vehicles: dict[str, Vehicle] = {}
        self.figures: DealFigures | None = None
        outer = QHBoxLayout(self)
        # The fields scroll when the groups opened make them taller than the screen (a
        # business buyer with a trade-in and financing: ~900 px on a 768 px screen).
        self.fields = QWidget()
        left = QVBoxLayout(self.fields)
        left.setContentsMargins(0, 0, 0, 0)
        self.fields_scroll = QScrollArea()
        self.fields_scroll.setWidgetResizable(True)
        self.fields_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.fields_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fields_scroll.setWidget(self.fields)
        self.fields_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no invisible tab stop
        form = QFormLayout()
        self.client_search = QLineEdit(
            placeholderText=self.tr("Find a client: name, or a full email, phone or ID number")
        )
        self.client_search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=CLIENT_SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(
            lambda: self.client_search_requested.emit(self.client_search.text().strip())
        )
        self.client_search.textEdited.connect(lambda _: self._search_timer.start())
        self.client = QComboBox()
        self.client.setEditable(False)
        # No buyer is chosen for the salesperson: a first client preselected went into
        # deals unnoticed. Searching picks the best match; the service refuses none.
        self.client.setPlaceholderText(self.tr("Choose the client, or search for them above"))
        self.client.setAccessibleName(self.tr("Client"))
        self.vehicle = QComboBox()
        # Like the client, no car is chosen for the salesperson on a new deal (the first in
        # stock went into deals unnoticed); a deal started for a given car keeps it.
        self.vehicle.setPlaceholderText(self.tr("Choose the vehicle"))
        self.vehicle.setAccessibleName(self.tr("Vehicle"))
        # the whole choice shows, VIN included (two cars of one model differ only by it)
        self.vehicle.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        form.addRow(self.tr("Client"), self.client_search)
        form.addRow("", self.client)
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
        tform = QFormLayout(_folding(trade))
        tform.setContentsMargins(0, 0, 0, 0)
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
        fform = QFormLayout(_folding(fin))
        fform.setContentsMargins(0, 0, 0, 0)
        self.lender = QLineEdit()
        self.financed = QLineEdit(placeholderText="0,00")
        self.term = QSpinBox(minimum=1, maximum=120, value=60)
        self.rate = QLineEdit(placeholderText="%")
        fform.addRow(self.tr("Lender"), self.lender)
        fform.addRow(self.tr("Amount financed"), self.financed)
        fform.addRow(self.tr("Term (months)"), self.term)
        fform.addRow(self.tr("Annual rate %"), self.rate)
        left.addWidget(fin)
        business = QGroupBox(self.tr("Business buyer"))
        business.setCheckable(True)
        business.setChecked(False)
        business.setToolTip(self.tr("A company buys the car; the client stays the contact person."))
        self.business_box = business
        # folded away until checked: most buyers are people, and the form is tall already
        self.business_fields = _folding(business)
        bform = QFormLayout(self.business_fields)
        bform.setContentsMargins(0, 0, 0, 0)
        self.company = QLineEdit()
        self.company.setAccessibleName(self.tr("Company"))
        self.vat_id = QLineEdit(placeholderText="DE136695976")
        self.vat_id.setAccessibleName(self.tr("VAT ID"))
        self.vat_check = error_label()  # what is wrong with the VAT ID, as typed
        self.vat_valid = note("")  # or whose it is
        self.company_street = QLineEdit(placeholderText=self.tr("The client's address if empty"))
        self.company_postal_code = QLineEdit()
        self.company_city = QLineEdit()
        self.company_country = QLineEdit(placeholderText=self.tr("From the VAT ID if empty"))
        bform.addRow(self.tr("Company"), self.company)
        bform.addRow(self.tr("VAT ID"), self.vat_id)
        bform.addRow("", self.vat_check)
        bform.addRow("", self.vat_valid)
        bform.addRow(self.tr("Street"), self.company_street)
        bform.addRow(self.tr("Postal code"), self.company_postal_code)
        bform.addRow(self.tr("City"), self.company_city)
        bform.addRow(self.tr("Country"), self.company_country)
        left.addWidget(business)
        self.input_error = error_label()
        left.addWidget(self.input_error)
        left.addStretch(1)
        # the choices and fields take the width; figures keep theirs
        outer.addWidget(self.fields_scroll, 1)
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
        outer.addLayout(right, 0)
        for edit in self.findChildren(QLineEdit):
            edit.textChanged.connect(self.recompute)
        self.term.valueChanged.connect(self.recompute)
        self.vehicle.currentIndexChanged.connect(self.recompute)
        self.prefer_standard.toggled.connect(self.recompute)
        trade.toggled.connect(self.recompute)
        fin.toggled.connect(self.recompute)
        business.toggled.connect(self.recompute)
        self._fit_fields_width()

    def _fit_fields_width(self) -> None:
        """The scrolled fields never scroll sideways: the column is as wide as they need."""
        bar = self.fields_scroll.verticalScrollBar().sizeHint().width()
        self.fields.adjustSize()
        self.fields_scroll.setMinimumWidth(self.fields.sizeHint().width() + bar)

    def fields_height(self) -> int:
        """The height the fields need, all shown (the dialog grows to it, screen allowing)."""
        return self.fields.sizeHint().height()

    # -- choices --------------------------------------------------------------------------------

    def set_clients(self, clients: list[tuple[str, str]], *, pick_first: bool = True) -> None:
        """Offers `clients` (id, label); picks the first after a search (`pick_first`), else
        keeps the client chosen before if offered, or none. When a search finds nobody, the
        client chosen before stays chosen rather than leaving the deal without a buyer."""
        chosen_id, chosen_name = self.client.currentData(), self.client.currentText()
        self.client.clear()
        for client_id, name in clients:
            self.client.addItem(name, client_id)
        kept = self.client.findData(chosen_id) if chosen_id else -1
        if kept < 0 and chosen_id and (not clients or not pick_first):
            self.client.insertItem(0, chosen_name, chosen_id)
            kept = 0
        if pick_first and clients:
            self.client.setCurrentIndex(0)
        else:
            self.client.setCurrentIndex(kept)

    def set_vehicles(self, vehicles: list[Vehicle], chosen: str = "") -> None:
        """Offers `vehicles`; chooses `chosen` (a vehicle id) if given, else none."""
        self.vehicles = {v.id: v for v in vehicles}
        self.vehicle.blockSignals(True)  # the first car added is current for a moment
        self.vehicle.clear()
        for v in vehicles:
            self.vehicle.addItem(f"{v.title} · {v.list_price} · {v.vin}", v.id)
        self.vehicle.setCurrentIndex(self.vehicle.findData(chosen) if chosen else -1)
        self.vehicle.blockSignals(False)
        self.recompute()
        # as wide as the longest choice (the dialog grows to it), within reason
        self.vehicle.setMinimumWidth(min(self.vehicle.sizeHint().width(), VEHICLE_CHOICE_MAX))
        self._fit_fields_width()

    def load_deal(self, deal: Deal, vehicle: Vehicle, label: str = "") -> None:
        """Fills the form from an existing deal (editing); `label`: its client as the list
        of clients names them, when they are not among those offered."""
        self.set_vehicles([vehicle], chosen=vehicle.id)
        index = self.client.findData(deal.client_id)
        if index < 0:
            self.client.addItem(label or deal.client_id, deal.client_id)
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
        if t.business_buyer:
            b = t.business_buyer
            self.business_box.setChecked(True)
            self.company.setText(b.company)
            self.vat_id.setText(b.vat_id)
            self.company_street.setText(b.street)
            self.company_postal_code.setText(b.postal_code)
            self.company_city.setText(b.city)
            self.company_country.setText(b.country)
        self.recompute()

    # -- the draft and its figures ----------------------------------------------------------------

    def _amount(self, edit: QLineEdit, label: str) -> Money | None:
        """As the payment dialogs read amounts (ui/invoices_page.typed_amount): a decimal comma
        or point, thousands separators; 1.500 (fifteen hundred, or one and a half?) refused."""
        try:
            value = typed_amount(edit.text())
        except ValueError as exc:
            raise ValueError(
                self.tr("{label}: {problem}").format(label=label, problem=str(exc))
            ) from None
        return Money.of(value, self.currency) if value is not None else None

    def business_buyer(self) -> BusinessBuyer | None:
        if not self.business_box.isChecked():
            return None
        return BusinessBuyer(
            self.company.text().strip(),
            compact_vat_id(self.vat_id.text()),
            self.company_street.text().strip(),
            self.company_postal_code.text().strip(),
            self.company_city.text().strip(),
            self.company_country.text().strip(),
        )

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
            business_buyer=self.business_buyer(),
        )

    def _check_vat_id(self) -> None:
        """The VAT ID checked as typed: what is wrong with it, or whose it is."""
        text = self.vat_id.text()
        typed = self.business_box.isChecked() and bool(text.strip())
        problem = buyer_vat_problem(text) if typed else None
        set_error(self.vat_check, problem or "")
        valid = typed and problem is None
        self.vat_valid.setText(
            self.tr("✓ A valid VAT ID ({country}).").format(country=vat_country(text))
            if valid
            else ""
        )

    def recompute(self) -> None:
        set_error(self.input_error, "")
        self._check_vat_id()
        vehicle = self.vehicles.get(self.vehicle.currentData() or "")
        if vehicle is None:  # no car chosen yet: no figures, rather than another car's
            self.figures = None
            for label in self.figure_labels.values():
                label.setText("")
            self.scheme_reason.setText("")
            set_error(self.problems, "")
            return
        try:
            draft = self.draft()
        except ValueError as exc:
            set_error(self.input_error, str(exc) or self.tr("A number is not valid."))
            return
        self.figures = compute(
            terms_for(vehicle, draft, self.vat_rate, self.currency, self.seller_country)
        )
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
        vehicle_id: str = "",
        seller_country: str = "",
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._tasks = tasks
        self.base = base
        self.vehicle_id = vehicle_id  # a new deal for this car (else the user chooses one)
        self.saved: Deal | None = None
        self.setWindowTitle(
            self.tr("Edit deal {id}").format(id=base.id) if base else self.tr("New deal")
        )
        self.resize(900, 640)
        layout = QVBoxLayout(self)
        self.builder = b = DealBuilder(vat_rate, currency, self, seller_country)
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
        for group in (b.trade_in_box, b.financing_box, b.business_box):
            # once the layout has taken the opened group in
            group.toggled.connect(lambda _on: QTimer.singleShot(0, self._fit_height))
        self.loaded = False
        self._load()

    def _fit_height(self) -> None:
        """Taller as groups open, up to the screen; the fields scroll beyond that."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        title = self.frameGeometry().height() - self.height()
        extra = self.height() - self.builder.fields_scroll.height()
        wanted = self.builder.fields_height() + extra
        if wanted <= self.height():
            return
        self.resize(self.width(), min(wanted, area.height() - title))
        frame = self.frameGeometry()
        if frame.bottom() > area.bottom():  # grown past the screen's foot: up, Save in view
            self.move(frame.x(), max(area.top(), area.bottom() - frame.height() + 1))

    def _load(self) -> None:
        services = self._services
        base = self.base
        chosen = self.vehicle_id

        self.builder.client_search_requested.connect(self._search_clients)

        def work():
            # The company's VAT rate, currency and country as they are now: the page that
            # opened the builder may not have read them yet (New deal for this car).
            company = services.settings.company()
            terms = (company.vat_rate, company.currency, company_country(company))
            clients = [client_choice(r) for r in services.clients.page(0, FIRST_CLIENTS)]
            if base:
                buyer = services.clients.rows_for([base.client_id])
                label = client_choice(buyer[0])[1] if buyer else ""
                return terms, clients, [services.vehicles.get(base.vehicle_id)], label
            stock = list(
                services.vehicles.page(
                    VehicleFilter(status=VehicleStatus.IN_STOCK), count=2000
                ).rows
            )
            if chosen and chosen not in {v.id for v in stock}:  # past the first 2,000 cars
                try:
                    car = services.vehicles.get(chosen)
                except NotFound:  # removed meanwhile: said when the builder opens
                    car = None
                if car is not None and car.status is VehicleStatus.IN_STOCK:
                    stock.insert(0, car)
            return terms, clients, stock, ""

        def done(result) -> None:
            terms, clients, vehicles, label = result
            b = self.builder
            b.vat_rate, b.currency, b.seller_country = terms
            if chosen and chosen not in {v.id for v in vehicles}:
                self.error.setText(
                    self.tr(
                        "That car is no longer in stock (another deal reserved it or it "
                        "was sold). Choose another."
                    )
                )
            self.builder.set_clients(clients, pick_first=False)
            if base:
                self.builder.load_deal(base, vehicles[0], label)
            else:
                self.builder.set_vehicles(vehicles, chosen=self.vehicle_id)
            self.loaded = True

        self._tasks.run(work, on_success=done, parent=self)

    def _search_clients(self, text: str) -> None:
        """Every registered client can be found, not only the first ones in name order."""
        clients = self._services.clients

        def work() -> list[tuple[str, str]]:
            rows = clients.search(text) if text else clients.page(0, FIRST_CLIENTS)
            return [client_choice(r) for r in rows]

        self._tasks.run(
            work,
            on_success=lambda found: self.builder.set_clients(found, pick_first=bool(text)),
            parent=self,
            key=("deal-clients", id(self)),
        )

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


class DeliveryDialog(FormDialog):
    def __init__(self, staff: str, parent=None) -> None:
        super().__init__(
            _tr("DeliveryDialog", "Schedule the delivery"),
            _tr("DeliveryDialog", "Schedule"),
            None,
            parent,
            min_width=380,
        )
        self.day = QDateEdit(QDate.currentDate().addDays(1), calendarPopup=True)
        self.at = QTimeEdit(QTime(10, 0))
        self.place = QLineEdit()
        self.staff = QLineEdit(staff)
        self.fields.add("day", self.tr("Date"), self.day)
        self.fields.add("at", self.tr("Time"), self.at)
        self.fields.add("place", self.tr("Place"), self.place)
        self.fields.add("staff", self.tr("Handed over by"), self.staff)

    def typed(self) -> bool:
        return bool(self.place.text().strip())

    def schedule(self) -> DeliverySchedule:
        d, t = self.day.date(), self.at.time()
        return DeliverySchedule(
            date(d.year(), d.month(), d.day()),
            time(t.hour(), t.minute()),
            self.place.text().strip(),
            self.staff.text().strip(),
        )


class HandoverDialog(FormDialog):
    def __init__(self, mileage: int, parent=None) -> None:
        super().__init__(
            _tr("HandoverDialog", "Handover checklist"),
            _tr("HandoverDialog", "Record handover"),
            None,
            parent,
        )
        self.documents = QCheckBox(
            self.tr("Registration papers, certificate of conformity, service book")
        )
        self.keys = QSpinBox(minimum=0, maximum=10, value=2)
        self.plates = QCheckBox(self.tr("Plates fitted"))
        self.fuel = QSpinBox(minimum=0, maximum=100, value=50, suffix=" %")
        self.mileage = QSpinBox(minimum=0, maximum=2_000_000, value=mileage, suffix=" km")
        self.damage = QPlainTextEdit()
        self.damage.setFixedHeight(self.damage.fontMetrics().lineSpacing() * 4 + 12)
        for name, label, widget in (
            ("documents", self.tr("Documents"), self.documents),
            ("keys", self.tr("Keys"), self.keys),
            ("plates", self.tr("Plates"), self.plates),
            ("fuel", self.tr("Fuel / charge"), self.fuel),
            ("mileage", self.tr("Mileage"), self.mileage),
        ):
            self.fields.add(name, label, widget)
        self.form.addRow(self.tr("Damage notes"), self.damage)

    def fill(self, recorded: HandoverChecklist) -> None:
        """What was recorded at an earlier visit, to complete rather than type again."""
        self.documents.setChecked(recorded.documents)
        self.keys.setValue(recorded.keys)
        self.plates.setChecked(recorded.plates)
        self.fuel.setValue(recorded.fuel_level_percent)
        if recorded.mileage_km:
            self.mileage.setValue(recorded.mileage_km)
        self.damage.setPlainText(recorded.damage_notes)

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
    """The deal list with filters; the highlighted deal's figures beside it; the actions a
    role may take on it."""

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Deals"))
        self._services = services
        self._tasks = tasks
        self.vat_rate, self.currency = Decimal(25), "EUR"
        self.seller_country = ""  # the dealer's country, from Settings
        self.dialog: QDialog | None = None
        self._select_after = ""  # a deal to highlight once the rows holding it arrive
        self._acting = 0  # writes in flight
        clock = getattr(context, "clock", None)
        today = (lambda: clock.now().astimezone().date()) if clock else date.today
        self.model = DealsModel(deal_rows(services, today), tasks, owner=self)
        session = services.session
        layout = page_layout(self, self.tr("Deals"))
        self.state = QComboBox()
        self.state.addItem(self.tr("All deals"), None)
        self.state.addItem(self.tr("Waiting for approval"), "pending")
        self.state.addItem(self.tr("Deliveries, next 14 days"), "deliveries")
        for state in DealState:
            self.state.addItem(_tr("DealState", state.label), state)
        self.count_label = note("")
        self.count_label.setObjectName("dealsStatus")
        self.refresh_button = QPushButton(self.tr("Refresh"))
        layout.addLayout(button_row(self.state, self.count_label, end=(self.refresh_button,)))
        self.new_button = QPushButton(self.tr("New deal…"))
        self.edit_button = QPushButton(self.tr("Edit…"))
        self.delivery_button = QPushButton(self.tr("Schedule delivery…"))
        self.handover_button = QPushButton(self.tr("Handover…"))
        self.deliver_button = QPushButton(self.tr("Mark delivered"))
        self.certificate_button = QPushButton(self.tr("Certificate PDF…"))
        writes = session.can(Permission.DEAL_WRITE)
        for button in (
            self.new_button,
            self.edit_button,
            self.delivery_button,
            self.handover_button,
            self.deliver_button,
        ):
            button.setVisible(writes)
        # Only finance issues an invoice; sales ask for one (issue 10), from the deal itself.
        self.invoice_button = QPushButton(self.tr("Issue invoice…"))
        invoicing = getattr(services, "invoices", None) is not None
        self.invoice_button.setVisible(invoicing and session.can(Permission.INVOICE_WRITE))
        self.request_button = QPushButton(self.tr("Request invoice…"))
        self.request_button.setVisible(
            invoicing
            and session.can(Permission.INVOICE_REQUEST)
            and not session.can(Permission.INVOICE_WRITE)
        )
        self.approve_button = QPushButton(self.tr("Approve discount…"))
        self.reject_button = QPushButton(self.tr("Reject discount…"))
        self.cancel_button = QPushButton(self.tr("Cancel deal…"))
        approves = session.can(Permission.DEAL_APPROVE)
        self.approve_button.setVisible(approves)
        self.reject_button.setVisible(approves)
        self.cancel_button.setVisible(writes)
        layout.addLayout(
            button_row(
                self.new_button,
                self.edit_button,
                self.delivery_button,
                self.handover_button,
                self.deliver_button,
                self.certificate_button,
                self.request_button,
                self.invoice_button,
                self.approve_button,
                self.reject_button,
                end=(self.cancel_button,),
            )
        )
        self.table = list_view(self.model, name=self.tr("Deal list"))
        self.detail, self.splitter, self.paged = list_with_detail(
            self.table,
            self.model,
            self._show_deal,
            empty_text=self.tr("Highlight a deal to see its figures here."),
            detail_width=320,
            changes=changes,
            entities=(DEALS, CLIENTS),  # a renamed client: the names shown follow
        )
        layout.addWidget(self.splitter, 1)
        self.state.currentIndexChanged.connect(self._filter_changed)
        self.refresh_button.clicked.connect(self.refresh)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, self.refresh)
        self.new_button.clicked.connect(lambda: self.new_deal())
        self.edit_button.clicked.connect(self.edit_deal)
        self.approve_button.clicked.connect(lambda: self._act("approve"))
        self.reject_button.clicked.connect(lambda: self._act("reject"))
        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.delivery_button.clicked.connect(self.schedule_delivery)
        self.handover_button.clicked.connect(self.handover)
        self.deliver_button.clicked.connect(lambda: self._act("deliver"))
        self.certificate_button.clicked.connect(self.choose_certificate_file)
        self.invoice_button.clicked.connect(self.issue_invoice)
        self.request_button.clicked.connect(self.request_invoice)
        self.model.loaded.connect(self._rows_arrived)
        self._tasks.run(self._load_settings, on_success=self._settings_loaded, parent=self)
        if changes is not None:  # the VAT rate for new deals, when an admin changes it
            reload_settings = self._settings_changed
            changes.subscribe(SETTINGS, reload_settings)
            self.destroyed.connect(lambda *_: changes.unsubscribe(SETTINGS, reload_settings))
        self._show_deal(None)
        self.model.reload()
        self._lapse()
        self.paged.show_count(
            self.count_label,
            {
                "loading": self.tr("Loading deals…"),
                "failed": self.tr("The deal list could not be read. Nothing was changed."),
                "partial": self.tr("{shown} of {total} deals shown; scroll for more"),
                "one": self.tr("1 deal"),
                "many": self.tr("{n} deals"),
            },
        )

    # -- loading ----------------------------------------------------------------------------------

    def _load_settings(self):
        company = self._services.settings.company()
        return company.vat_rate, company.currency, company_country(company)

    def _settings_loaded(self, result) -> None:
        self.vat_rate, self.currency, self.seller_country = result

    def _settings_changed(self, _changes) -> None:
        self._tasks.run(
            self._load_settings,
            key=(id(self), "settings"),
            on_success=self._settings_loaded,
            on_failure=lambda _exc: True,  # the rate read at opening stays
            parent=self,
        )

    def _lapse(self) -> None:
        """Reservations that ran out go back to draft (a write: once per open and Refresh)."""
        deals = self._services.deals
        if not self._services.session.can(Permission.DEAL_WRITE):
            return

        def lapsed(count: int) -> None:
            if count:
                self.paged.refresh()

        self._tasks.run(
            deals.lapse_reservations,
            key=(id(self), "lapse"),
            on_success=lapsed,
            on_failure=lambda _exc: True,  # the list still shows; the next Refresh tries again
            parent=self,
        )

    @property
    def loading(self) -> bool:
        return self.model.loading or not self.model.ever_loaded or self._acting > 0

    def _filters(self) -> dict[str, Any]:
        choice = self.state.currentData()
        if choice == "pending":
            return {"pending_approval": True}
        if choice == "deliveries":
            return {"deliveries": True}
        return {"state": choice.value} if isinstance(choice, DealState) else {}

    def _filter_changed(self) -> None:
        calendar = self.state.currentData() == "deliveries"
        # the calendar of handovers is in date order: no column sorts it
        self.table.setSortingEnabled(not calendar)
        self.table.horizontalHeader().setSortIndicatorShown(not calendar)
        self.model.set_filters(self._filters())

    def refresh(self) -> None:
        """F5 and Refresh: the rows shown read again; lapsed reservations released."""
        self.paged.refresh()
        self._lapse()

    def reload(self, *_args, select: str = "") -> None:
        """Reads the list again from its first row; `select`: the deal to highlight."""
        self._select_after = select or (self.selected().id if self.selected() else "")
        self.model.reload()

    def _rows_arrived(self) -> None:
        if self._select_after and self.paged.select(self._select_after):
            self._select_after = ""

    def selected(self) -> Deal | None:
        row = self.paged.current_row()
        return row.deal if row else None

    def select(self, deal_id: str) -> None:
        self.paged.select(deal_id)

    def _show_deal(self, row: DealRow | None) -> None:
        deal = row.deal if row else None
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
        ready = bool(deal) and ready_to_invoice(deal)
        self.invoice_button.setEnabled(ready)
        self.request_button.setEnabled(ready)
        if row is None:
            self.detail.clear()
            return
        self.detail.show_record(
            deal.id,
            f"{deal.id} · {deal.vehicle_title}",
            self._facts(row) + figures_lines(deal.figures, self.tr),
            self._notes(deal),
            amounts_from=len(self._facts(row)),
        )

    def _facts(self, row: DealRow) -> list[tuple[str, str]]:
        deal = row.deal
        until = ""
        if deal.reserved_until and deal.state in (DealState.RESERVED, DealState.APPROVED):
            until = self.tr(" until {day}").format(
                day=f"{deal.reserved_until.astimezone():%d.%m.%Y}"
            )
        state = state_text(deal, until)
        facts = [
            (self.tr("Client"), row.client_name or deal.client_id),
        ]
        buyer = deal.terms.business_buyer
        if buyer is not None:  # the company buys; the client is its contact
            facts.append((self.tr("Business buyer"), f"{buyer.company} · {buyer.vat_id}"))
        facts += [
            (self.tr("VIN"), deal.vehicle_vin),
            (self.tr("State"), state),
            (self.tr("Salesperson"), deal.salesperson),
        ]
        if deal.state is DealState.CANCELLED and deal.cancel_reason:
            facts.append((self.tr("Why cancelled"), deal.cancel_reason))
        approval = approval_text(deal)
        if approval:
            facts.append((self.tr("Approval"), approval))
        if deal.delivery:
            d = deal.delivery
            facts.append(
                (
                    self.tr("Delivery"),
                    self.tr("{day} {at}, {place} ({staff})").format(
                        day=f"{d.day:%d.%m.%Y}", at=f"{d.at:%H:%M}", place=d.place, staff=d.staff
                    ),
                )
            )
        return facts

    def _notes(self, deal: Deal) -> str:
        return deal.figures.scheme_reason

    # -- actions ----------------------------------------------------------------------------------

    def new_deal(self, vehicle_id: str = "") -> DealBuilderDialog:
        """The builder for a new deal; with `vehicle_id` (e.g. from the Vehicles page) that car
        is chosen, otherwise the user chooses one."""
        return self._open_builder(None, vehicle_id)

    def edit_deal(self) -> DealBuilderDialog | None:
        deal = self.selected()
        return self._open_builder(deal) if deal else None

    def _open_builder(self, base: Deal | None, vehicle_id: str = "") -> DealBuilderDialog:
        dialog = DealBuilderDialog(
            self._services,
            self._tasks,
            self.vat_rate,
            self.currency,
            base,
            self,
            vehicle_id=vehicle_id,
            seller_country=self.seller_country,
        )
        self.dialog = dialog

        def closed(result: int) -> None:
            if dialog.saved:
                self._select_after = dialog.saved.id
                self.paged.refresh()

        dialog.finished.connect(closed)
        dialog.open()
        return dialog

    def _act(self, action: str) -> None:
        deal = self.selected()
        if deal is None:
            return
        if action in ("approve", "reject"):
            # The manager decides on what the prompt shows: the discount against the threshold
            # as Settings have it now (read first: another desk may have changed it).
            row = self.paged.current_row()
            client = (row.client_name if row else "") or deal.client_id
            deals = self._services.deals

            def failed(_exc: BaseException) -> bool:
                self._decide(action, deal, approval_summary(deal, client, None))
                return True

            self._tasks.run(
                lambda: deals.settings().approval_discount_percent,
                on_success=lambda threshold: self._decide(
                    action, deal, approval_summary(deal, client, threshold)
                ),
                on_failure=failed,
                parent=self,
            )
            return
        self._decide(action, deal)

    def _decide(self, action: str, deal: Deal, summary: str = "") -> None:
        deals = self._services.deals
        reason = ""
        if action in REASON_PROMPTS:
            title, label, required, ok_text = REASON_PROMPTS[action]
            text = _tr("DealsPage", label)
            answer = self._tasks.dialogs.text(
                self,
                _tr("DealsPage", title).format(id=deal.id),
                f"{summary}\n\n{text}" if summary else text,
                required,
                ok_text=_tr("DealsPage", ok_text),
            )
            if answer is None:
                return
            reason = answer
        work = {
            "approve": lambda: deals.approve(deals.get(deal.id), reason),
            "reject": lambda: deals.reject(deals.get(deal.id), reason),
            "cancel": lambda: deals.cancel(deals.get(deal.id), reason),
            "deliver": lambda: deals.mark_delivered(deals.get(deal.id)),
        }[action]
        self._run(work)

    def _run(self, work) -> None:
        def done(deal: Deal) -> None:
            self._select_after = deal.id
            self.paged.refresh()

        def over() -> None:
            self._acting -= 1

        self._acting += 1
        self._tasks.run(work, on_success=done, on_finished=over, parent=self)

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

    def handover(self) -> None:
        """The checklist, filled in with what was recorded before (a second visit keeps the
        damage notes) or, the first time, the car's mileage as in stock; opened once read."""
        deal = self.selected()
        if deal is None:
            return
        services = self._services

        def read() -> tuple[Deal, int]:
            current = services.deals.get(deal.id)
            try:
                mileage = services.vehicles.get(current.vehicle_id).draft.mileage_km
            except AlkoError:
                mileage = 0
            return current, mileage

        self._tasks.run(
            read,
            key=(id(self), "handover"),  # a double click opens one checklist
            on_success=lambda found: self._open_handover(*found),
            parent=self,
        )

    def _open_handover(self, deal: Deal, mileage: int) -> HandoverDialog:
        dialog = HandoverDialog(mileage, self)
        if deal.checklist is not None:
            dialog.fill(deal.checklist)
        self.dialog = dialog
        deals = self._services.deals

        def accepted() -> None:
            checklist = dialog.checklist()
            self._run(lambda: deals.record_handover(deals.get(deal.id), checklist))

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def issue_invoice(self) -> None:
        """Finance: the highlighted deal's invoice, after saying that it cannot be undone."""
        deal = self.selected()
        if deal is None:
            return
        row = self.paged.current_row()
        client = (row.client_name if row else "") or deal.client_id
        question = self.tr(
            "Issue the invoice for deal {id} to {client}: {vehicle}, {total}?\n\nAn issued "
            "invoice is numbered and cannot be changed; a mistake is corrected by a credit note."
        ).format(
            id=deal.id, client=client, vehicle=deal.vehicle_title, total=deal.figures.total_price
        )
        dialogs = self._tasks.dialogs
        if not dialogs.confirm(self, self.tr("Issue invoice"), question, self.tr("Issue invoice")):
            return
        invoices = self._services.invoices

        def issued(invoice) -> None:
            self.last_invoice = invoice.number
            self._select_after = deal.id
            self.paged.refresh()
            dialogs.info(
                self,
                self.tr("Invoice issued"),
                self.tr("Invoice {number} is issued. Print it from Invoices.").format(
                    number=invoice.number
                ),
            )

        self._acting += 1
        self._tasks.run(
            lambda: invoices.issue_for_deal(deal.id),
            on_success=issued,
            on_finished=self._acted,
            parent=self,
        )

    def request_invoice(self) -> None:
        """Sales: ask finance to invoice the highlighted deal, with a note for them."""
        deal = self.selected()
        if deal is None:
            return
        dialogs = self._tasks.dialogs
        note = dialogs.text(
            self,
            self.tr("Request an invoice for {id}").format(id=deal.id),
            self.tr("A note for finance (optional), e.g. when the client collects the car:"),
            False,
            ok_text=self.tr("Request invoice"),
        )
        if note is None:
            return
        invoices = self._services.invoices
        self._acting += 1
        self._tasks.run(
            lambda: invoices.request_invoice(deal.id, note),
            on_success=lambda _none: dialogs.info(
                self,
                self.tr("Invoice requested"),
                self.tr("Finance sees deal {id} among the deals to invoice.").format(id=deal.id),
            ),
            on_finished=self._acted,
            parent=self,
        )

    def _acted(self) -> None:
        self._acting -= 1

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

        def saved(written: Path) -> None:
            self.last_certificate = written
            self._tasks.dialogs.info(
                self,
                self.tr("Handover certificate"),
                self.tr("The handover certificate of {id} is saved as {path}.").format(
                    id=deal.id, path=written
                ),
            )

        self._tasks.run(work, on_success=saved, parent=self)
