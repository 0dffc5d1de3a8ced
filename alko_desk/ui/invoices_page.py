"""Invoices (finance): the list with paid, balance and status, a preview of the stored PDF,
printing and saving those exact bytes, issuing from a deal, recording payments and issuing
credit notes.

The list is a `PagedTableModel` over `InvoicingService.list_page` (the app-kept list index:
sorted by number, issue date, status or balance in the service, open/overdue as a filter).
The page subscribes to the window's `ChangeWatcher` for `invoices` and `payments`: a write on
any desk marks it stale and the rows shown are read again in one batch, keeping selection
and scroll position. Every service call and every PDF rendering runs through the task
runner; the preview and the printer get the bytes stored at issue, whose SHA-256 the
service checks first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QDate,
    QIODevice,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.models.invoices import InvoiceRequest, InvoiceRow, InvoiceStatus, PaymentMethod
from alko_desk.models.money import Money
from alko_desk.models.users import Permission
from alko_desk.ui.list_pages import Column, ListColumn, ListModel
from alko_desk.ui.table_models import (
    ROW_ID_ROLE,
    ViewAnchor,
    bind_header,
    rows_from,
)
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import error_label, heading, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

NUMBER_ROLE = ROW_ID_ROLE
REFRESH_DELAY_MS = 250  # changes arriving close together are applied in one refresh
WATCHED = ("invoices", "payments")
_tr = QCoreApplication.translate


class InvoiceColumn(ListColumn, context="InvoicesModel"):
    """Sorts: InvoicingService.INVOICE_SORTS."""

    NUMBER = Column("Number", "number", sample="ALKO-CN-2026-000000")
    ISSUED = Column("Issued", "issue_date", sample="2026-12-31")
    CUSTOMER = Column("Customer", stretch=True)
    TOTAL = Column("Total", sample="-00,000.00 EUR", right=True)
    PAID = Column("Paid", sample="00,000.00 EUR", right=True)
    BALANCE = Column("Balance", "balance", sample="-00,000.00 EUR", right=True)
    STATUS = Column("Status", "status", sample="partly paid")


def _amount(money: Money) -> str:
    from alko_desk.documents.invoice_pdf import format_money

    return format_money(money)


def typed_amount(text: str) -> Decimal | None:
    """An amount as finance types it, with a decimal comma (1250,50) or point (1250.50), with
    or without thousands separators (1.250,50 · 1,250.50 · 1 250,50); None when empty.

    A lone separator followed by exactly three digits (1,250 or 1.250) could be a thousand or
    one and a quarter, so it is refused rather than guessed: an amount entered a hundred or a
    thousand times too large (or small) is an immutable credit note or a wrong balance.
    Raises ValueError with a message for the user."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not cleaned:
        return None
    example = _tr("InvoicesPage", "Enter the amount like 1250,50 or 1250.50.")
    if not re.fullmatch(r"-?[0-9.,]*[0-9][0-9.,]*", cleaned):  # no 1e3, NaN, letters
        raise ValueError(example)
    if cleaned.count(",") and cleaned.count("."):
        decimal_mark = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        whole, _, cents = cleaned.rpartition(decimal_mark)
        if grouping in cents or not all(len(g) == 3 for g in whole.split(grouping)[1:]):
            raise ValueError(example)
        cleaned = whole.replace(grouping, "") + "." + cents
    else:
        mark = "," if "," in cleaned else "."
        parts = cleaned.split(mark)
        if len(parts) > 2:  # 1.250.000: thousands separators only
            if not all(len(g) == 3 for g in parts[1:]):
                raise ValueError(example)
            cleaned = "".join(parts)
        elif len(parts) == 2 and len(parts[1]) == 3:
            raise ValueError(
                _tr(
                    "InvoicesPage",
                    "“{text}” could be a thousand times more or less: write the cents too, "
                    "e.g. 1250,00 or 1,25.",
                ).format(text=text.strip())
            )
        else:
            cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(example) from None
    if not value.is_finite():
        raise ValueError(example)
    return value


class InvoicesModel(ListModel[InvoiceRow]):
    """Invoices and credit notes a page at a time, in the order the service returns them."""

    columns = InvoiceColumn
    title = "Invoices"
    first_sort = InvoiceColumn.NUMBER
    extra_roles = ListModel.extra_roles | {Qt.ItemDataRole.ForegroundRole}  # overdue in red

    def display(self, row: InvoiceRow, column: InvoiceColumn) -> str:
        if column is InvoiceColumn.NUMBER:
            return row.number
        if column is InvoiceColumn.ISSUED:
            return row.issue_date.isoformat()
        if column is InvoiceColumn.CUSTOMER:
            return row.customer
        if column is InvoiceColumn.TOTAL:
            return ("-" if row.is_credit_note else "") + _amount(row.gross)
        if row.is_credit_note:
            return _tr("InvoicesModel", "Credit note") if column is InvoiceColumn.STATUS else ""
        if column is InvoiceColumn.PAID:
            return _amount(row.paid)
        if column is InvoiceColumn.BALANCE:
            return _amount(row.balance)
        return _tr("InvoiceStatus", row.status.label)

    def cell(self, row: InvoiceRow, column: InvoiceColumn, role: int) -> Any:
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column is InvoiceColumn.STATUS
            and row.status is InvoiceStatus.OVERDUE
            and not row.is_credit_note
        ):
            return QBrush(QColor("#b3261e"))  # overdue stands out in the list
        if role == Qt.ItemDataRole.ToolTipRole and row.is_credit_note:
            return _tr("InvoicesModel", "Credit note for %s") % row.corrects
        return super().cell(row, column, role)


class PaymentDialog(QDialog):
    def __init__(
        self,
        number: str,
        balance: Money,
        parent: QWidget | None = None,
        *,
        refund: bool = False,
        today: date | None = None,
    ) -> None:
        """`refund`: money paid back against credit note `number`; `balance` is what the
        customer is owed back (the amount offered). `today`: the desk's day (the latest date
        offered, and the one chosen first)."""
        super().__init__(parent)
        self.refund = refund
        self.setWindowTitle(
            (self.tr("Record refund against %s") if refund else self.tr("Record payment on %s"))
            % number
        )
        self.currency = balance.currency
        form = QFormLayout(self)
        self.amount = QLineEdit(f"{max(balance.amount, Decimal(0)):.2f}")
        self.method = QComboBox()
        for method in PaymentMethod:
            self.method.addItem(method.value, method)
        if refund:
            self.method.setCurrentIndex(self.method.findData(PaymentMethod.BANK_TRANSFER))
        self.reference = QLineEdit()
        day = today or date.today()
        self.date = QDateEdit(QDate(day.year, day.month, day.day), calendarPopup=True)
        self.date.setDisplayFormat("dd.MM.yyyy")
        self.date.setMaximumDate(self.date.date())  # money is not received in the future
        self.overpayment = QCheckBox(self.tr("The customer paid more than the balance"))
        form.addRow(self.tr("Amount (%s)") % balance.currency, self.amount)
        form.addRow(self.tr("Date"), self.date)
        form.addRow(self.tr("Method"), self.method)
        form.addRow(self.tr("Reference"), self.reference)
        form.addRow("", self.overpayment)
        self.overpayment.setVisible(not refund)
        self.error = error_label()
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def money(self) -> Money:
        try:
            value = typed_amount(self.amount.text())
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if value is None:
            raise ValidationError(self.tr("Enter the amount, e.g. 1250,00."))
        return Money(value, self.currency)

    def paid_on(self) -> date:
        """The day the money changed hands (a transfer seen on yesterday's statement)."""
        d = self.date.date()
        return date(d.year(), d.month(), d.day())


class CreditDialog(QDialog):
    def __init__(self, number: str, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Credit note for %s") % number)
        self.currency = currency
        form = QFormLayout(self)
        self.amount = QLineEdit()
        self.amount.setPlaceholderText(self.tr("empty: the whole invoice"))
        self.reason = QLineEdit()
        form.addRow(self.tr("Amount incl. VAT (%s)") % currency, self.amount)
        form.addRow(self.tr("Reason"), self.reason)
        self.error = error_label()
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def money(self) -> Money | None:
        try:
            value = typed_amount(self.amount.text())
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return Money(value, self.currency) if value is not None else None


def request_label(request: InvoiceRequest) -> str:
    """`D-2611-0A0A0A · sam, 25.11.2026: client collects on Friday`: the deal ID first."""
    asked = f"{request.requested_by}, {request.requested_at.astimezone():%d.%m.%Y}"
    return " · ".join((request.deal_id, f"{asked}: {request.note}" if request.note else asked))


def _entry_label(payment) -> str:
    """`ALKO-2026-000001/2 · 26.11.2026 · refund · bank transfer · 250.00 EUR`"""
    return " · ".join(
        (
            payment.id,
            payment.paid_on.strftime("%d.%m.%Y"),
            payment.kind.value,
            payment.method.value,
            _amount(payment.amount),
        )
    )


def print_pdfs(printer: QPrinter, documents: list[bytes]) -> int:
    """Paints the pages of the given PDFs onto the printer (any thread); returns pages printed.

    Honours the page range chosen in the print dialog (over the whole batch).
    """
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError("The printer could not be started.")
    printed = 0
    first_page, last_page = printer.fromPage(), printer.toPage()
    dpi = printer.resolution()
    try:
        overall = 0
        for data in documents:
            buffer = QBuffer()
            buffer.setData(QByteArray(data))
            buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            document = QPdfDocument()
            document.load(buffer)
            for page in range(document.pageCount()):
                overall += 1
                if first_page and not (first_page <= overall <= (last_page or overall)):
                    continue
                if printed:
                    printer.newPage()
                target = painter.viewport()
                points = document.pagePointSize(page)
                size = QSize(int(points.width() * dpi / 72), int(points.height() * dpi / 72))
                image = document.render(page, size)
                scaled = size.scaled(target.size(), Qt.AspectRatioMode.KeepAspectRatio)
                painter.drawImage(target.x(), target.y(), image.scaled(scaled))
                printed += 1
            document.close()
    finally:
        painter.end()
    return printed


class InvoicesPage(QWidget):
    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        *,
        changes: ChangeWatcher | None = None,
        only: str = "",
    ) -> None:
        """`only`: "open" or "overdue" to start filtered (the Payments section: open first)."""
        super().__init__()
        self.services = services
        self.invoices = services.invoices
        clock = getattr(context, "clock", None)
        self.today: Callable[[], date] = (
            (lambda: clock.now().astimezone().date()) if clock else date.today
        )
        self.tasks = tasks
        self.preview_number = ""
        self.select_after_load = ""  # a newly issued invoice, selected once the list has it
        self.stale = False  # a change arrived; the refresh timer applies it
        self.totals_loading = False
        # Injected prompts: tests replace these instead of clicking native dialogs.
        self.ask_printer: Callable[[QPrinter], bool] = self._print_dialog
        self.ask_save_path: Callable[[str], str] = self._save_dialog
        # (the deals sales asked to invoice, oldest first) -> the deal ID chosen or typed
        self.ask_deal_id: Callable[[list[InvoiceRequest]], str] = self._deal_dialog
        self.dialog: QDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Payments: open invoices") if only else self.tr("Invoices")))
        top.addStretch(1)
        self.filter = QComboBox()
        self.filter.addItem(self.tr("All invoices and credit notes"), "")
        self.filter.addItem(self.tr("Open and overdue"), "open")
        self.filter.addItem(self.tr("Overdue"), "overdue")
        self.filter.setCurrentIndex(max(0, self.filter.findData(only)))
        top.addWidget(self.filter)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        layout.addLayout(top)

        self.model = InvoicesModel(rows_from(self.invoices.list_page), tasks, owner=self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(InvoiceColumn.CUSTOMER, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        fm, pad = self.table.fontMetrics(), 14
        for column, sample in InvoiceColumn.samples().items():
            header_text = column.header
            width = max(fm.horizontalAdvance(sample), fm.horizontalAdvance(header_text) + 12)
            self.table.setColumnWidth(column, width + pad)
        self.table.verticalHeader().hide()
        bind_header(self.table, self.model)
        self.anchor = ViewAnchor(self.table, self.model)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.loaded.connect(self._loaded)
        self.model.modelReset.connect(self._update_buttons)

        self.pdf_document = QPdfDocument(self)
        self.pdf_view = QPdfView()
        self.pdf_view.setDocument(self.pdf_document)
        self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self._pdf_buffer: QBuffer | None = None

        splitter = QSplitter()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table)
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        left_layout.addWidget(self.totals)
        splitter.addWidget(left)
        splitter.addWidget(self.pdf_view)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([860, 340])
        layout.addWidget(splitter, 1)

        buttons = QHBoxLayout()
        self.issue_button = QPushButton(self.tr("Issue for deal…"))
        self.issue_button.clicked.connect(self.issue_for_deal)
        buttons.addWidget(self.issue_button)
        self.print_button = QPushButton(self.tr("Print…"))
        self.save_button = QPushButton(self.tr("Save as PDF…"))
        self.pay_button = QPushButton(self.tr("Record payment…"))
        self.refund_button = QPushButton(self.tr("Record refund…"))
        self.receipt_button = QPushButton(self.tr("Receipt…"))
        self.credit_button = QPushButton(self.tr("Credit note…"))
        self.print_button.clicked.connect(self.print_selected)
        self.save_button.clicked.connect(self.save_selected)
        self.pay_button.clicked.connect(self.open_payment_dialog)
        self.refund_button.clicked.connect(self.start_refund)
        self.receipt_button.clicked.connect(self.save_receipt)
        self.credit_button.clicked.connect(self.open_credit_dialog)
        for button in (
            self.print_button,
            self.save_button,
            self.pay_button,
            self.refund_button,
            self.receipt_button,
            self.credit_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        can_issue = services.session.can(Permission.INVOICE_WRITE)
        self.issue_button.setVisible(can_issue)
        self.credit_button.setVisible(can_issue)
        can_pay = services.session.can(Permission.PAYMENT_WRITE)
        self.pay_button.setVisible(can_pay)
        self.refund_button.setVisible(can_pay)
        self.receipt_button.setVisible(services.session.can(Permission.PAYMENT_READ))
        self.last_receipt = ""  # the path of the receipt saved last

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self._refresh_stale)
        self.changes = changes
        if changes is not None:
            for entity in WATCHED:
                changes.subscribe(entity, self.changes_arrived)
            self.destroyed.connect(lambda *_: self._unsubscribe(changes))
        self.filter.currentIndexChanged.connect(self._filter_changed)
        self._update_buttons()
        self.model.set_filters(self._filters())
        self._load_totals()

    @property
    def loading(self) -> bool:
        return self.model.loading or not self.model.ever_loaded or self.totals_loading

    # list -----------------------------------------------------------------------------

    def _filters(self) -> dict[str, str]:
        wanted = self.filter.currentData()
        return {"status": wanted} if wanted else {}

    def _filter_changed(self) -> None:
        self.model.set_filters(self._filters())

    def refresh(self) -> None:
        """F5 and after a write of this desk: the rows shown read again, and the totals."""
        self.model.refresh(self._visible_end())
        self._load_totals()

    def _visible_end(self) -> int:
        bottom = self.table.rowAt(self.table.viewport().height() - 1)
        return (bottom if bottom >= 0 else self.model.rowCount()) + 1

    def changes_arrived(self, _changes) -> None:
        """Another desk (or this one) wrote invoices or payments: refresh in one batch."""
        self.stale = True
        self._refresh_timer.start()

    def _refresh_stale(self) -> None:
        if self.stale and self.isVisible():  # a hidden page refreshes when shown again
            self.stale = False
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.stale:
            self._refresh_timer.start()

    def _unsubscribe(self, changes: ChangeWatcher) -> None:
        for entity in WATCHED:
            changes.unsubscribe(entity, self.changes_arrived)

    def _load_totals(self) -> None:
        self.totals_loading = True
        self.tasks.run(
            self.invoices.open_totals,
            on_success=self._show_totals,
            on_finished=self._totals_done,
            parent=self,
        )

    def _totals_done(self) -> None:
        self.totals_loading = False

    def _show_totals(self, totals: dict[str, Money]) -> None:
        if not totals:
            self.totals.setText(self.tr("Nothing open."))
            return
        self.totals.setText(
            self.tr("Outstanding: %s") % _amount(totals["total"])
            + " ("
            + " · ".join(f"{k}: {_amount(v)}" for k, v in totals.items() if k != "total")
            + ")"
        )

    def _loaded(self) -> None:
        if self.select_after_load and self.model.row_of(self.select_after_load) >= 0:
            self.select(self.select_after_load)
            self.select_after_load = ""
        self._update_buttons()

    def select(self, number: str, *, clear: bool = True) -> None:
        row = self.model.row_of(number)
        if row < 0:
            return
        if clear:
            self.table.clearSelection()
        self.table.selectionModel().select(
            self.model.index(row, 0),
            self.table.selectionModel().SelectionFlag.Select
            | self.table.selectionModel().SelectionFlag.Rows,
        )

    def selected_numbers(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.row(r).number for r in rows if self.model.row(r) is not None]

    def selected_account(self) -> InvoiceRow | None:
        """The one selected row (None with none or several)."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if len(rows) == 1 else None

    def _selection_changed(self, *_args) -> None:
        self._update_buttons()
        row = self.selected_account()
        if row and row.number != self.preview_number:
            self.show_preview(row.number)

    def _update_buttons(self) -> None:
        numbers = self.selected_numbers()
        row = self.selected_account()
        self.print_button.setEnabled(bool(numbers))
        self.save_button.setEnabled(row is not None)
        is_invoice = row is not None and not row.is_credit_note
        self.pay_button.setEnabled(is_invoice)
        self.refund_button.setEnabled(row is not None and row.is_credit_note)
        self.receipt_button.setEnabled(row is not None)
        self.credit_button.setEnabled(is_invoice and row.status is not InvoiceStatus.CREDITED)

    # preview ---------------------------------------------------------------------------

    def show_preview(self, number: str) -> None:
        self.preview_number = number
        invoicing = self.invoices
        self.tasks.run(
            lambda: invoicing.pdf(number, "preview"),
            on_success=lambda data: self._show_pdf(number, data),
            parent=self,
        )

    def _show_pdf(self, number: str, data: bytes) -> None:
        if number != self.preview_number:
            return  # the user moved on
        self.pdf_document.close()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.pdf_document.load(buffer)
        if self._pdf_buffer is not None:
            self._pdf_buffer.deleteLater()
        self._pdf_buffer = buffer

    # print and save ----------------------------------------------------------------------

    def _print_dialog(self, printer: QPrinter) -> bool:
        dialog = QPrintDialog(printer, self)
        return dialog.exec() == QDialog.DialogCode.Accepted

    def _save_dialog(self, suggested: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save as PDF"), suggested, self.tr("PDF files (*.pdf)")
        )
        return path

    def print_selected(self, printer: QPrinter | None = None) -> None:
        """Prints the selected invoices in one job, after the print dialog (or a given printer)."""
        numbers = self.selected_numbers()
        if not numbers:
            return
        printer = printer or QPrinter(QPrinter.PrinterMode.HighResolution)
        if not self.ask_printer(printer):
            return
        self.last_printed = None

        def printed(pages: int) -> None:
            self.last_printed = pages

        self._send_stored_pdfs(
            numbers, "print", lambda documents: print_pdfs(printer, documents), printed
        )

    def save_selected(self) -> None:
        """Saves the highlighted invoice's stored PDF to a file the user chooses."""
        row = self.selected_account()
        if row is None:
            return
        path = self.ask_save_path(f"{row.number}.pdf")
        if not path:
            return
        self._send_stored_pdfs(
            [row.number], "save", lambda documents: Path(path).write_bytes(documents[0])
        )

    def _send_stored_pdfs(
        self,
        numbers: list[str],
        purpose: str,
        send: Callable[[list[bytes]], Any],
        on_sent: Callable[[Any], None] | None = None,
    ) -> None:
        """Print and save alike: in a worker, the stored PDFs (hash-checked, and audited as
        `purpose` by the service) go to `send`; the buttons wait until it is done."""
        invoicing = self.invoices
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.tasks.run(
            lambda: send([invoicing.pdf(number, purpose) for number in numbers]),
            on_success=on_sent,
            on_finished=self._update_buttons,
            parent=self,
        )

    # issuing -------------------------------------------------------------------------------

    def _deal_dialog(self, requests: list[InvoiceRequest]) -> str:
        from PySide6.QtWidgets import QInputDialog

        if not requests:
            text, ok = QInputDialog.getText(self, self.tr("Issue invoice"), self.tr("Deal ID:"))
            return text.strip() if ok else ""
        text, ok = QInputDialog.getItem(
            self,
            self.tr("Issue invoice"),
            self.tr("Deal ID (sales asked for these; or type another):"),
            [request_label(r) for r in requests],
            0,
            True,
        )
        return text.split(" · ", 1)[0].strip() if ok else ""

    def issue_for_deal(self) -> None:
        """Asks which deal, offering those sales asked finance to invoice, then issues."""
        invoicing = self.invoices
        self.issue_button.setEnabled(False)

        def unread(_exc: BaseException) -> bool:
            self._ask_and_issue([])  # the requests could not be read: a deal ID can be typed
            return True

        self.tasks.run(
            invoicing.requests, on_success=self._ask_and_issue, on_failure=unread, parent=self
        )

    def _ask_and_issue(self, requests: list[InvoiceRequest]) -> None:
        deal_id = self.ask_deal_id(requests)
        question = self.tr(
            "Issue the invoice for deal {id}?\n\nAn issued invoice is numbered and cannot be "
            "changed; a mistake is corrected by a credit note."
        ).format(id=deal_id)
        if not deal_id or not self.tasks.dialogs.confirm(
            self, self.tr("Issue invoice"), question, self.tr("Issue invoice")
        ):
            self.issue_button.setEnabled(True)
            return
        invoicing = self.invoices
        self.tasks.run(
            lambda: invoicing.issue_for_deal(deal_id),
            on_success=self._issued,
            on_finished=lambda: self.issue_button.setEnabled(True),
            parent=self,
        )

    def _issued(self, invoice) -> None:
        self.select_after_load = invoice.number
        self.last_issued = invoice.number
        if self.filter.currentData() == "overdue":
            self.filter.setCurrentIndex(0)  # a new invoice is never overdue: show it
        self.refresh()

    # payment and credit ------------------------------------------------------------------

    def open_payment_dialog(self) -> PaymentDialog | None:
        row = self.selected_account()
        if row is None or row.is_credit_note:
            return None
        number = row.number
        dialog = PaymentDialog(number, row.balance, self, today=self.today())
        dialog.buttons.accepted.connect(lambda: self._submit_payment(dialog, number))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _submit_payment(self, dialog: PaymentDialog, number: str) -> None:
        try:
            amount = dialog.money()
        except ValidationError as exc:
            set_error(dialog.error, exc.message)
            return
        method = dialog.method.currentData()
        reference = dialog.reference.text()
        paid_on = dialog.paid_on()
        overpayment = dialog.overpayment.isChecked()
        invoicing = self.invoices
        dialog.buttons.setEnabled(False)
        self.tasks.run(
            lambda: invoicing.record_payment(
                number,
                amount,
                method,
                paid_on=paid_on,
                reference=reference,
                overpayment=overpayment,
            ),
            on_success=lambda _payment: (dialog.accept(), self.refresh()),
            on_failure=lambda exc: self._show_in(dialog, exc),
            on_finished=lambda: dialog.buttons.setEnabled(True),
            parent=dialog,
        )

    def start_refund(self) -> None:
        """Against the highlighted credit note: asks what the customer is owed back first."""
        row = self.selected_account()
        if row is None or not row.is_credit_note:
            return
        note, invoicing = row.number, self.invoices
        self.tasks.run(
            lambda: invoicing.account(row.corrects).balance,
            on_success=lambda balance: self.open_refund_dialog(note, -balance),
            parent=self,
        )

    def open_refund_dialog(self, credit_note: str, owed_back: Money) -> PaymentDialog:
        dialog = PaymentDialog(credit_note, owed_back, self, refund=True, today=self.today())
        dialog.buttons.accepted.connect(lambda: self._submit_refund(dialog, credit_note))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _submit_refund(self, dialog: PaymentDialog, credit_note: str) -> None:
        try:
            amount = dialog.money()
        except ValidationError as exc:
            set_error(dialog.error, exc.message)
            return
        method, reference = dialog.method.currentData(), dialog.reference.text()
        paid_on = dialog.paid_on()
        invoicing = self.invoices
        dialog.buttons.setEnabled(False)
        self.tasks.run(
            lambda: invoicing.record_refund(
                credit_note, amount, method, paid_on=paid_on, reference=reference
            ),
            on_success=lambda _refund: (dialog.accept(), self.refresh()),
            on_failure=lambda exc: self._show_in(dialog, exc),
            on_finished=lambda: dialog.buttons.setEnabled(True),
            parent=dialog,
        )

    # receipts ------------------------------------------------------------------------------

    def save_receipt(self) -> None:
        """The receipt PDF of a payment on the highlighted invoice (or of a refund against the
        highlighted credit note), saved where the user chooses; the service audits it."""
        row = self.selected_account()
        if row is None:
            return
        invoicing = self.invoices
        number = row.corrects if row.is_credit_note else row.number

        def entries():
            payments = invoicing.account(number).payments
            if row.is_credit_note:
                return [p for p in payments if p.credit_note == row.number]
            return list(payments)

        self.tasks.run(
            entries, on_success=lambda found: self._receipt_for(row.number, found), parent=self
        )

    def _receipt_for(self, number: str, payments: list) -> None:
        dialogs = self.tasks.dialogs
        if not payments:
            dialogs.info(
                self,
                self.tr("Receipt"),
                self.tr("No payment or refund is recorded on %s yet.") % number,
            )
            return
        chosen = payments[-1]
        if len(payments) > 1:
            labels = [_entry_label(p) for p in payments]
            picked = dialogs.choose(
                self, self.tr("Receipt"), self.tr("Receipt for:"), labels, len(labels) - 1
            )
            if picked is None:
                return
            chosen = payments[labels.index(picked)]
        path = self.ask_save_path(f"{chosen.id.replace('/', '-')}-receipt.pdf")
        if not path:
            return
        invoicing, payment_id = self.invoices, chosen.id
        self.tasks.run(
            lambda: Path(path).write_bytes(invoicing.receipt_pdf(payment_id)),
            on_success=lambda _size: setattr(self, "last_receipt", path),
            parent=self,
        )

    def open_credit_dialog(self) -> CreditDialog | None:
        row = self.selected_account()
        if row is None or row.is_credit_note:
            return None
        number = row.number
        dialog = CreditDialog(number, row.currency, self)
        dialog.buttons.accepted.connect(lambda: self._submit_credit(dialog, number))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _submit_credit(self, dialog: CreditDialog, number: str) -> None:
        try:
            amount = dialog.money()
        except ValidationError as exc:
            set_error(dialog.error, exc.message)
            return
        reason = dialog.reason.text()
        invoicing = self.invoices
        dialog.buttons.setEnabled(False)
        self.tasks.run(
            lambda: invoicing.credit(number, reason, amount),
            on_success=lambda _note: (dialog.accept(), self.refresh()),
            on_failure=lambda exc: self._show_in(dialog, exc),
            on_finished=lambda: dialog.buttons.setEnabled(True),
            parent=dialog,
        )

    @staticmethod
    def _show_in(dialog, exc: BaseException) -> bool:
        if isinstance(exc, ValidationError):
            detail = "; ".join(exc.field_errors.values())
            set_error(dialog.error, exc.message + (f" ({detail})" if detail else ""))
            return True
        return False
