"""The Invoices page (finance): preview, print to a PDF printer, save, record payment, credit."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter

from alko_desk.models.audit import AuditFilter
from alko_desk.models.invoices import InvoiceStatus
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.ui.invoices_page import InvoiceColumn, InvoicesModel
from tests.invoice_data import RUSSIAN, car_line

pytestmark = pytest.mark.gui


@pytest.fixture
def finance_session(make_user):
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def issued(context, finance_session):
    invoicing = context.services_for(finance_session).invoices
    return [
        invoicing.issue(invoicing.new_draft(RUSSIAN, [car_line()], date(2026, 11, 24)))
        for _ in range(2)
    ]


def test_invoices_model_passes_the_qt_model_tester(qtmodeltester, context, issued, finance_session):
    model = InvoicesModel()
    model.set_accounts(context.services_for(finance_session).invoices.list_invoices())
    qtmodeltester.check(model, force_py=True)
    assert model.data(model.index(0, InvoiceColumn.TOTAL)) == "30,000.00 EUR"


def test_finance_previews_prints_saves_pays_and_credits(
    qtbot, open_main, finance_session, issued, context, admin_session, tmp_path
):
    window = open_main(finance_session)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.loading, timeout=15_000)
    first = issued[0].number

    # preview: the stored PDF in QPdfView
    page.select(first)
    qtbot.waitUntil(lambda: page.pdf_document.status() == QPdfDocument.Status.Ready, timeout=15_000)
    assert page.pdf_document.pageCount() == 1

    # print both invoices in one job to a PDF printer
    page.select(issued[1].number, clear=False)
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    page.ask_printer = lambda p: True
    page.print_selected(printer)
    qtbot.waitUntil(lambda: getattr(page, "last_printed", None) == 2, timeout=30_000)
    assert len(PdfReader(io.BytesIO(out.read_bytes())).pages) == 2

    # save as PDF: the stored bytes
    page.select(first)
    saved = tmp_path / "saved.pdf"
    page.ask_save_path = lambda suggested: str(saved)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(saved.exists, timeout=15_000)
    assert saved.read_bytes() == context.invoices_repo.pdf(first)

    # record a payment
    dialog = page.open_payment_dialog()
    dialog.amount.setText("")
    qtbot.keyClicks(dialog.amount, "10000")
    qtbot.mouseClick(
        dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    qtbot.waitUntil(
        lambda: page.model.account(page.model.row_of(first)).status is InvoiceStatus.PARTLY_PAID,
        timeout=15_000,
    )

    # too much is refused inside the dialog, which stays open
    page.select(first)
    dialog = page.open_payment_dialog()
    dialog.amount.setText("50000")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "more than the balance" in dialog.error.text(), timeout=15_000)
    assert dialog.isVisible()
    dialog.reject()

    # a full credit note
    page.select(first)
    credit = page.open_credit_dialog()
    qtbot.keyClicks(credit.reason, "sale cancelled")
    credit.buttons.accepted.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=15_000)
    assert page.model.account(page.model.row_of(first)).status is InvoiceStatus.CREDITED

    audit = context.services_for(admin_session).audit.entries(AuditFilter(action_prefix="invoice."))
    actions = [e.action for e in audit]
    for expected in ("invoice.preview", "invoice.print", "invoice.save", "invoice.credited"):
        assert expected in actions
    assert context.services_for(finance_session).invoices.account(first).paid == Money.of("10000")


def test_issuing_for_a_deal_says_deals_are_not_available_yet(
    qtbot, open_main, finance_session, dialogs
):
    window = open_main(finance_session)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: not page.loading, timeout=15_000)
    page.ask_deal_id = lambda: "D-42"
    qtbot.mouseClick(page.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=15_000)
    assert "Deals are not available" in dialogs.errors[0]
    assert page.issue_button.isEnabled()
