"""Invoices (finance): the list with paid, balance and status, a preview of the stored PDF,
printing and saving those exact bytes, recording payments and issuing credit notes.

Every service call and every PDF rendering runs through the task runner; the preview and
the printer get the bytes stored at issue, whose SHA-256 the service checks first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QModelIndex, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
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
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.models.invoices import InvoiceAccount, InvoiceStatus, PaymentMethod
from alko_desk.models.money import Money
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import error_label, heading, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices

NUMBER_ROLE = Qt.ItemDataRole.UserRole + 1
_tr = QCoreApplication.translate


class InvoiceColumn(enum.IntEnum):
    NUMBER = 0
    ISSUED = 1
    CUSTOMER = 2
    TOTAL = 3
    PAID = 4
    BALANCE = 5
    STATUS = 6

    @property
    def header(self) -> str:
        return {
            InvoiceColumn.NUMBER: _tr("InvoicesModel", "Number"),
            InvoiceColumn.ISSUED: _tr("InvoicesModel", "Issued"),
            InvoiceColumn.CUSTOMER: _tr("InvoicesModel", "Customer"),
            InvoiceColumn.TOTAL: _tr("InvoicesModel", "Total"),
            InvoiceColumn.PAID: _tr("InvoicesModel", "Paid"),
            InvoiceColumn.BALANCE: _tr("InvoicesModel", "Balance"),
            InvoiceColumn.STATUS: _tr("InvoicesModel", "Status"),
        }[self]


def _amount(money: Money) -> str:
    from alko_desk.documents.invoice_pdf import format_money

    return format_money(money)


class InvoicesModel(ColumnsTableModel):
    """A small list (the finance desk's invoices), newest first."""

    columns = InvoiceColumn
    RIGHT = (InvoiceColumn.TOTAL, InvoiceColumn.PAID, InvoiceColumn.BALANCE)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[InvoiceAccount] = []

    def row_count(self) -> int:
        return len(self._rows)

    def set_accounts(self, accounts: list[InvoiceAccount]) -> None:
        self.beginResetModel()
        self._rows = list(accounts)
        self.endResetModel()

    def account(self, row: int) -> InvoiceAccount:
        return self._rows[row]

    def row_of(self, number: str) -> int:
        for i, account in enumerate(self._rows):
            if account.invoice.number == number:
                return i
        return -1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        account = self._rows[index.row()]
        invoice = account.invoice
        column = InvoiceColumn(index.column())
        if role == NUMBER_ROLE:
            return invoice.number
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self.RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column is InvoiceColumn.NUMBER:
            return invoice.number
        if column is InvoiceColumn.ISSUED:
            return invoice.issue_date.isoformat()
        if column is InvoiceColumn.CUSTOMER:
            return invoice.draft.customer.name
        if column is InvoiceColumn.TOTAL:
            sign = "-" if invoice.is_credit_note else ""
            return sign + _amount(invoice.totals.gross)
        if invoice.is_credit_note:
            return _tr("InvoicesModel", "credit note") if column is InvoiceColumn.STATUS else ""
        if column is InvoiceColumn.PAID:
            return _amount(account.paid)
        if column is InvoiceColumn.BALANCE:
            return _amount(account.balance)
        return account.status.value


class PaymentDialog(QDialog):
    def __init__(self, number: str, balance: Money, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Record payment on %s") % number)
        self.currency = balance.currency
        form = QFormLayout(self)
        self.amount = QLineEdit(f"{max(balance.amount, Decimal(0)):.2f}")
        self.method = QComboBox()
        for method in PaymentMethod:
            self.method.addItem(method.value, method)
        self.reference = QLineEdit()
        self.overpayment = QCheckBox(self.tr("The customer paid more than the balance"))
        form.addRow(self.tr("Amount (%s)") % balance.currency, self.amount)
        form.addRow(self.tr("Method"), self.method)
        form.addRow(self.tr("Reference"), self.reference)
        form.addRow("", self.overpayment)
        self.error = error_label()
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def money(self) -> Money:
        try:
            return Money(Decimal(self.amount.text().replace(",", "").strip()), self.currency)
        except (InvalidOperation, ValueError):
            raise ValidationError(self.tr("Enter the amount like 1250.00.")) from None


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
        text = self.amount.text().replace(",", "").strip()
        if not text:
            return None
        try:
            return Money(Decimal(text), self.currency)
        except (InvalidOperation, ValueError):
            raise ValidationError(self.tr("Enter the amount like 1250.00.")) from None


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
    def __init__(self, context: AppContext, services: SessionServices, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        self.invoices = services.invoices
        self.tasks = tasks
        self.loading = False
        self.preview_number = ""
        self.select_after_load = ""  # a newly issued invoice, selected once the list has it
        # Injected prompts: tests replace these instead of clicking native dialogs.
        self.ask_printer: Callable[[QPrinter], bool] = self._print_dialog
        self.ask_save_path: Callable[[str], str] = self._save_dialog
        self.ask_deal_id: Callable[[], str] = self._deal_dialog
        self.dialog: QDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Invoices")))
        top.addStretch(1)
        self.filter = QComboBox()
        self.filter.addItem(self.tr("All invoices and credit notes"), "all")
        self.filter.addItem(self.tr("Open and overdue"), "open")
        self.filter.currentIndexChanged.connect(self.refresh)
        top.addWidget(self.filter)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        layout.addLayout(top)

        self.model = InvoicesModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

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
        left_layout.addWidget(self.totals)
        splitter.addWidget(left)
        splitter.addWidget(self.pdf_view)
        splitter.setSizes([600, 400])
        layout.addWidget(splitter, 1)

        buttons = QHBoxLayout()
        self.issue_button = QPushButton(self.tr("Issue for deal…"))
        self.issue_button.clicked.connect(self.issue_for_deal)
        buttons.addWidget(self.issue_button)
        self.print_button = QPushButton(self.tr("Print…"))
        self.save_button = QPushButton(self.tr("Save as PDF…"))
        self.pay_button = QPushButton(self.tr("Record payment…"))
        self.credit_button = QPushButton(self.tr("Credit note…"))
        self.print_button.clicked.connect(self.print_selected)
        self.save_button.clicked.connect(self.save_selected)
        self.pay_button.clicked.connect(self.open_payment_dialog)
        self.credit_button.clicked.connect(self.open_credit_dialog)
        for button in (self.print_button, self.save_button, self.pay_button, self.credit_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._update_buttons()
        self.refresh()

    # list -----------------------------------------------------------------------------

    def refresh(self) -> None:
        self.loading = True
        only_open = self.filter.currentData() == "open"
        invoicing = self.invoices

        def load():
            if only_open:
                return invoicing.open_items()
            return invoicing.list_invoices(), None

        self.tasks.run(load, on_success=self._loaded, on_finished=self._done, parent=self)

    def _done(self) -> None:
        self.loading = False

    def _loaded(self, result) -> None:
        accounts, totals = result
        selected = self.selected_numbers()
        self.model.set_accounts(accounts)
        if totals:
            self.totals.setText(
                " · ".join(f"{key}: {_amount(value)}" for key, value in totals.items())
            )
        else:
            owed = [a.balance for a in accounts if a.status is not InvoiceStatus.CREDITED]
            owed = [b for b in owed if b.amount > 0]
            total = sum(owed[1:], owed[0]) if owed else None
            self.totals.setText(
                self.tr("Outstanding: %s") % _amount(total) if total else self.tr("Nothing open.")
            )
        for number in selected:
            self.select(number, clear=False)
        if self.select_after_load:
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
        return [self.model.account(r).invoice.number for r in rows]

    def selected_account(self) -> InvoiceAccount | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.account(rows[0].row()) if len(rows) == 1 else None

    def _selection_changed(self, *_args) -> None:
        self._update_buttons()
        account = self.selected_account()
        if account and account.invoice.number != self.preview_number:
            self.show_preview(account.invoice.number)

    def _update_buttons(self) -> None:
        numbers = self.selected_numbers()
        account = self.selected_account()
        self.print_button.setEnabled(bool(numbers))
        self.save_button.setEnabled(account is not None)
        is_invoice = account is not None and not account.invoice.is_credit_note
        self.pay_button.setEnabled(is_invoice)
        self.credit_button.setEnabled(is_invoice and account.status is not InvoiceStatus.CREDITED)

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
            self, self.tr("Save invoice as PDF"), suggested, self.tr("PDF files (*.pdf)")
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
        invoicing = self.invoices
        self.print_button.setEnabled(False)
        self.last_printed = None

        def work():
            documents = [invoicing.pdf(number, "print") for number in numbers]
            return print_pdfs(printer, documents)

        def printed(pages: int) -> None:
            self.last_printed = pages

        self.tasks.run(work, on_success=printed, on_finished=self._update_buttons, parent=self)

    def save_selected(self) -> None:
        account = self.selected_account()
        if account is None:
            return
        number = account.invoice.number
        path = self.ask_save_path(f"{number}.pdf")
        if not path:
            return
        invoicing = self.invoices
        self.tasks.run(
            lambda: Path(path).write_bytes(invoicing.pdf(number, "save")),
            parent=self,
        )

    # issuing -------------------------------------------------------------------------------

    def _deal_dialog(self) -> str:
        from PySide6.QtWidgets import QInputDialog

        text, ok = QInputDialog.getText(self, self.tr("Issue invoice"), self.tr("Deal ID:"))
        return text.strip() if ok else ""

    def issue_for_deal(self) -> None:
        deal_id = self.ask_deal_id()
        if not deal_id:
            return
        invoicing = self.invoices
        self.issue_button.setEnabled(False)
        self.tasks.run(
            lambda: invoicing.issue_for_deal(deal_id),
            on_success=self._issued,
            on_finished=lambda: self.issue_button.setEnabled(True),
            parent=self,
        )

    def _issued(self, invoice) -> None:
        self.select_after_load = invoice.number
        self.refresh()

    # payment and credit ------------------------------------------------------------------

    def open_payment_dialog(self) -> PaymentDialog | None:
        account = self.selected_account()
        if account is None or account.invoice.is_credit_note:
            return None
        number = account.invoice.number
        dialog = PaymentDialog(number, account.balance, self)
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
        overpayment = dialog.overpayment.isChecked()
        invoicing = self.invoices
        dialog.buttons.setEnabled(False)
        self.tasks.run(
            lambda: invoicing.record_payment(
                number, amount, method, reference=reference, overpayment=overpayment
            ),
            on_success=lambda _payment: (dialog.accept(), self.refresh()),
            on_failure=lambda exc: self._show_in(dialog, exc),
            on_finished=lambda: dialog.buttons.setEnabled(True),
            parent=dialog,
        )

    def open_credit_dialog(self) -> CreditDialog | None:
        account = self.selected_account()
        if account is None or account.invoice.is_credit_note:
            return None
        number = account.invoice.number
        dialog = CreditDialog(number, account.invoice.currency, self)
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
