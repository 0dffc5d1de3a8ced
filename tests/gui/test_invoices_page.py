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
from alko_desk.models.deals import DealState
from alko_desk.models.errors import ValidationError
from alko_desk.models.invoices import InvoiceStatus, PaymentMethod
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.ui.invoices_page import CreditDialog, InvoiceColumn, InvoicesModel, PaymentDialog
from alko_desk.ui.table_models import rows_from
from alko_desk.ui.tasks import TaskRunner
from tests.invoice_data import RUSSIAN, car_line
from tests.vehicles_data import client_with_deal

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


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


def test_invoices_model_passes_the_qt_model_tester(
    qtbot, qtmodeltester, context, issued, finance_session, tasks
):
    invoicing = context.services_for(finance_session).invoices
    model = InvoicesModel(rows_from(invoicing.list_page), tasks)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    qtbot.waitUntil(lambda: model.ever_loaded and not model.loading, timeout=15_000)
    assert model.rowCount() == 2
    assert model.data(model.index(0, InvoiceColumn.TOTAL)) == "30,000.00 EUR"
    model.sort(InvoiceColumn.NUMBER, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: model.ever_loaded and not model.loading, timeout=15_000)
    assert model.row(0).number == issued[1].number
    qtmodeltester.check(model, force_py=True)


def test_finance_previews_prints_saves_pays_and_credits(
    qtbot, open_main, finance_session, issued, context, admin_session, tmp_path, dialogs
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
        lambda: page.model.row(page.model.row_of(first)).status is InvoiceStatus.PARTLY_PAID,
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
    assert page.model.row(page.model.row_of(first)).status is InvoiceStatus.CREDITED
    assert context.services_for(finance_session).invoices.account(first).paid == Money.of("10000")

    # the 10,000 paid is refunded against the credit note: the dialog offers what is owed back
    note = next(
        page.model.row(r).number
        for r in range(page.model.rowCount())
        if page.model.row(r).is_credit_note
    )
    page.select(first)
    assert not page.refund_button.isEnabled() and page.receipt_button.isEnabled()
    page.select(note)
    assert page.refund_button.isEnabled() and not page.pay_button.isEnabled()
    page.dialog = None
    qtbot.mouseClick(page.refund_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=15_000)
    refund = page.dialog
    assert refund.refund and refund.amount.text() == "10000.00"
    assert not refund.overpayment.isVisibleTo(refund)
    refund.buttons.accepted.emit()
    qtbot.waitUntil(lambda: not refund.isVisible(), timeout=15_000)
    account = context.services_for(finance_session).invoices.account(first)
    assert account.refunded == Money.of("10000") and account.balance == Money.zero()

    # receipts: the payment on the invoice (chosen among its two entries), the refund on the note
    page.select(first)
    receipt = tmp_path / "receipt.pdf"
    suggested_names = []
    page.ask_save_path = lambda suggested: suggested_names.append(suggested) or str(receipt)
    dialogs.choose = _pick(dialogs, f"{first}/1 · ")
    qtbot.mouseClick(page.receipt_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_receipt == str(receipt), timeout=15_000)
    assert len(dialogs.choices_offered) == 2 and "refund" in dialogs.choices_offered[1]
    assert suggested_names == [f"{first}-1-receipt.pdf"]
    text = PdfReader(str(receipt)).pages[0].extract_text()
    assert "Payment receipt" in text and "10,000.00 EUR" in text and RUSSIAN.name in text
    page.select(note)
    refund_receipt = tmp_path / "refund.pdf"
    page.ask_save_path = lambda suggested: str(refund_receipt)
    qtbot.mouseClick(page.receipt_button, Qt.MouseButton.LeftButton)  # one entry: no question
    qtbot.waitUntil(lambda: page.last_receipt == str(refund_receipt), timeout=15_000)
    assert "Refund receipt" in PdfReader(str(refund_receipt)).pages[0].extract_text()
    page.select(issued[1].number)  # nothing paid on it: said, and no file asked for
    page.ask_save_path = lambda suggested: pytest.fail("no receipt to save")
    qtbot.mouseClick(page.receipt_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialogs.infos), timeout=15_000)
    assert dialogs.infos == [f"No payment or refund is recorded on {issued[1].number} yet."]

    audit = context.services_for(admin_session).audit.entries(AuditFilter())
    actions = [e.action for e in audit]
    for expected in (
        "invoice.preview",
        "invoice.print",
        "invoice.save",
        "invoice.credited",
        "payment.refunded",
        "payment.receipt",
    ):
        assert expected in actions
    assert actions.count("payment.receipt") == 2


def _pick(dialogs, prefix: str):
    """A scripted choice: the item starting with `prefix` (the labels carry the entry's id)."""

    def choose(parent, title, label, items, current=0):
        dialogs.choices_offered = list(items)
        return next(item for item in items if item.startswith(prefix))

    return choose


def test_another_desks_payment_shows_without_a_refresh(
    qtbot, open_main, finance_session, issued, context, make_user
):
    window = open_main(finance_session)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.loading, timeout=15_000)
    other = context.services_for(make_user("fred", Role.FINANCE)).invoices
    other.record_payment(issued[0].number, Money.of("30000"), PaymentMethod.CARD)
    row = page.model.row_of(issued[0].number)
    qtbot.waitUntil(
        lambda: page.model.row(row).status is InvoiceStatus.PAID, timeout=15_000
    )  # the window's change watcher announced it; the page refreshed itself


def test_finance_flow_from_a_saved_deal_to_a_credited_payment(
    qtbot, open_main, context, make_user, tmp_path, admin_session, dialogs
):
    # a sales user builds and saves a deal with a discount that needs a manager
    sam, deal = client_with_deal(context, make_user, percent="8", first="Пётр", last="Петров")
    manager = context.services_for(make_user("mia", Role.MANAGER))
    fiona = make_user("fiona", Role.FINANCE)
    window = open_main(fiona)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: not page.loading, timeout=15_000)
    assert page.model.rowCount() == 0

    # not approved yet: refused with the reason, no number taken
    page.ask_deal_id = lambda requests: deal.id
    qtbot.mouseClick(page.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=15_000)
    assert "approval" in dialogs.errors[-1]
    qtbot.waitUntil(page.issue_button.isEnabled, timeout=15_000)

    manager.deals.approve(manager.deals.get(deal.id), "end of quarter")
    dialogs.confirm_answer = False  # "cannot be changed": the clerk thinks again
    qtbot.mouseClick(page.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.issue_button.isEnabled, timeout=15_000)
    assert "cannot be changed" in dialogs.confirms[-1] and deal.id in dialogs.confirms[-1]
    assert sam.deals.get(deal.id).state is not DealState.INVOICED
    dialogs.confirm_answer = True
    qtbot.mouseClick(page.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=15_000)
    qtbot.waitUntil(lambda: bool(page.selected_numbers()), timeout=15_000)
    [number] = page.selected_numbers()
    assert page.model.row(0).customer == "Пётр Петров"
    assert sam.deals.get(deal.id).state is DealState.INVOICED
    assert sam.deals.get(deal.id).invoice_number == number

    # preview, then print to a PDF printer without a dialog
    qtbot.waitUntil(lambda: page.pdf_document.status() == QPdfDocument.Status.Ready, timeout=15_000)
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    page.ask_printer = lambda p: True
    page.print_selected(printer)
    qtbot.waitUntil(lambda: getattr(page, "last_printed", None) == 1, timeout=30_000)
    assert len(PdfReader(io.BytesIO(out.read_bytes())).pages) == 1

    # a payment of part of it
    dialog = page.open_payment_dialog()
    dialog.amount.setText("")
    qtbot.keyClicks(dialog.amount, "5000")
    dialog.method.setCurrentIndex(dialog.method.findData(PaymentMethod.BANK_TRANSFER))
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    qtbot.waitUntil(lambda: page.model.row(0).status is InvoiceStatus.PARTLY_PAID, timeout=15_000)

    # credit part of it: the deal stays invoiced
    page.select(number)
    credit = page.open_credit_dialog()
    qtbot.keyClicks(credit.amount, "1000")
    qtbot.keyClicks(credit.reason, "floor mats not delivered")
    credit.buttons.accepted.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=15_000)
    invoice_row = page.model.row(page.model.row_of(number))
    invoicing = context.services_for(fiona).invoices
    account = invoicing.account(number)
    assert account.credited == Money.of("1000") and account.paid == Money.of("5000")
    qtbot.waitUntil(
        lambda: page.model.row(page.model.row_of(number)).balance == account.balance,
        timeout=15_000,
    )
    assert invoice_row.status is InvoiceStatus.PARTLY_PAID
    assert sam.deals.get(deal.id).state is DealState.INVOICED

    # the Deals page shows the deal invoiced
    deals_page = window.show_section("deals")
    qtbot.waitUntil(
        lambda: any(
            "Invoiced" in (deals_page.model.index(r, c).data() or "")
            for r in range(deals_page.model.rowCount())
            for c in range(deals_page.model.columnCount())
        ),
        timeout=15_000,
    )
    actions = [
        e.action
        for e in context.services_for(admin_session).audit.entries(AuditFilter(actor="fiona"))
    ]
    for expected in ("client.viewed", "invoice.issued", "invoice.preview", "invoice.print"):
        assert expected in actions


def test_finance_desk_invoices_screen_at_1366x768(
    qtbot, open_main, context, make_user, issued, finance_session, shots
):
    from tests.gui.layout_checks import clipped, overlaps

    sam, deal = client_with_deal(context, make_user, first="Željko", last="Kovačević-Horvat")
    invoicing = context.services_for(finance_session).invoices
    invoice = invoicing.issue_for_deal(deal.id)
    invoicing.record_payment(invoice.number, Money.of("2500"), PaymentMethod.CARD)
    invoicing.credit(issued[0].number, "price corrected", Money.of("300"))
    window = open_main(finance_session)
    window.resize(1366, 768)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: page.model.rowCount() == 4 and not page.loading, timeout=15_000)
    page.select(invoice.number)
    qtbot.waitUntil(lambda: page.pdf_document.status() == QPdfDocument.Status.Ready, timeout=15_000)
    qtbot.wait(1500)  # QPdfView renders its pages in the background
    window.grab().save(str(shots / "finance-1366-invoices.png"))
    fm = page.table.fontMetrics()
    for row in range(page.model.rowCount()):  # every cell's text fits (names may elide)
        for column in range(page.model.columnCount()):
            text = page.model.index(row, column).data() or ""
            if column != InvoiceColumn.CUSTOMER:
                assert fm.horizontalAdvance(text) < page.table.columnWidth(column), text
    assert page.table.columnWidth(InvoiceColumn.CUSTOMER) >= fm.horizontalAdvance("Пётр Петров")
    assert clipped(page) == [], clipped(page)
    assert overlaps(page) == [], overlaps(page)


def test_payments_section_lists_open_invoices_only(
    qtbot, open_main, finance_session, issued, context
):
    invoicing = context.services_for(finance_session).invoices
    invoicing.record_payment(issued[1].number, Money.of("30000"), PaymentMethod.CASH)
    window = open_main(finance_session)
    page = window.show_section("payments")
    qtbot.waitUntil(lambda: page.model.ever_loaded and not page.loading, timeout=15_000)
    assert page.filter.currentData() == "open"
    assert [page.model.row(r).number for r in range(page.model.rowCount())] == [issued[0].number]
    assert "30,000.00 EUR" in page.totals.text()
    page.filter.setCurrentIndex(page.filter.findData(""))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.loading, timeout=15_000)


def test_statuses_read_like_the_other_lists_and_overdue_stands_out(qtbot):
    from PySide6.QtGui import QBrush

    from alko_desk.models.invoices import DocumentKind, InvoiceRow, InvoiceStatus
    from alko_desk.ui.invoices_page import InvoiceColumn, InvoicesModel
    from alko_desk.ui.tasks import TaskRunner
    from tests.gui.helpers import ScriptedDialogs

    def row(status: InvoiceStatus, kind=DocumentKind.INVOICE) -> InvoiceRow:
        eur = Money.of("100.00")
        return InvoiceRow(
            "ALKO-2026-000001",
            kind,
            date(2026, 11, 1),
            date(2026, 11, 9),
            "Ana",
            "D-1",
            eur,
            Money.of("0.00"),
            eur,
            status,
        )

    model = InvoicesModel(lambda request, progress: None, TaskRunner(ScriptedDialogs()))
    assert model.display(row(InvoiceStatus.PARTLY_PAID), InvoiceColumn.STATUS) == "Partly paid"
    credit = row(InvoiceStatus.OPEN, DocumentKind.CREDIT_NOTE)
    assert model.display(credit, InvoiceColumn.STATUS) == "Credit note"
    overdue = model.cell(
        row(InvoiceStatus.OVERDUE), InvoiceColumn.STATUS, Qt.ItemDataRole.ForegroundRole
    )
    assert isinstance(overdue, QBrush)
    assert (
        model.cell(row(InvoiceStatus.OPEN), InvoiceColumn.STATUS, Qt.ItemDataRole.ForegroundRole)
        is None
    )
    # and the view is given it: the list serves the colour through data()
    from alko_desk.models.listing import Page

    listed = InvoicesModel(
        lambda request, progress: Page((row(InvoiceStatus.OVERDUE),), 1, 0),
        TaskRunner(ScriptedDialogs()),
    )
    listed.reload()
    qtbot.waitUntil(lambda: listed.rowCount() == 1, timeout=10_000)
    status = listed.index(0, InvoiceColumn.STATUS)
    assert isinstance(listed.data(status, Qt.ItemDataRole.ForegroundRole), QBrush)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("250,50", "250.50"),  # a Croatian keyboard's decimal comma: not 25,050.00
        ("250.50", "250.50"),
        ("1.250,50", "1250.50"),
        ("1,250.50", "1250.50"),
        ("1 250,50", "1250.50"),
        ("1.250.000", "1250000"),
        ("30000", "30000"),
        ("0,5", "0.5"),
    ],
)
def test_payment_and_credit_amounts_read_a_decimal_comma_or_point(qtbot, typed, amount):
    payment = PaymentDialog("ALKO-2026-000001", Money.of("30000"))
    qtbot.addWidget(payment)
    payment.amount.setText(typed)
    assert payment.money() == Money.of(amount)
    credit = CreditDialog("ALKO-2026-000001", "EUR")
    qtbot.addWidget(credit)
    credit.amount.setText(typed)
    assert credit.money() == Money.of(amount)


@pytest.mark.parametrize("typed", ["1,250", "1.250", "12,50.00", "1.25,0", "abc", "1e3", "NaN"])
def test_an_amount_that_could_be_read_two_ways_is_refused_with_a_message(qtbot, typed):
    credit = CreditDialog("ALKO-2026-000001", "EUR")
    qtbot.addWidget(credit)
    credit.amount.setText(typed)
    with pytest.raises(ValidationError) as err:
        credit.money()
    assert "1250" in err.value.user_text()
    credit.amount.setText("")
    assert credit.money() is None  # empty: the whole invoice


def test_a_payment_is_recorded_on_the_day_chosen_in_the_dialog(
    qtbot, open_main, finance_session, issued, context, clock
):
    window = open_main(finance_session)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.loading, timeout=15_000)
    first = issued[0].number
    page.select(first)
    dialog = page.open_payment_dialog()
    today = clock.now().astimezone().date()
    assert dialog.paid_on() == today and dialog.date.maximumDate().toPython() == today
    dialog.date.setDate(dialog.date.date().addDays(-3))
    dialog.amount.setText("1250,50")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    (payment,) = context.services_for(finance_session).invoices.account(first).payments
    assert payment.amount == Money.of("1250.50")
    assert payment.paid_on == date.fromordinal(today.toordinal() - 3)


def test_sales_request_an_invoice_and_finance_issues_it_from_the_request_or_the_deal(
    qtbot, open_main, context, make_user, dialogs
):
    sam, asked = client_with_deal(context, make_user)
    _, other = client_with_deal(
        context,
        sales=sam,
        n=2,
        email="drugi@example.hr",
        phone="091 234 5699",
        id_number="112233499",
        licence="HR778899",
    )
    sales_page = open_main(sam.session).show_section("deals")
    qtbot.waitUntil(
        lambda: not sales_page.loading and sales_page.model.rowCount() == 2, timeout=10_000
    )
    sales_page.select(asked.id)
    qtbot.waitUntil(lambda: sales_page.selected() is not None, timeout=10_000)
    assert sales_page.request_button.isVisibleTo(sales_page)
    assert not sales_page.invoice_button.isVisibleTo(sales_page)  # only finance issues
    assert sales_page.request_button.isEnabled()
    dialogs.text_answers.append("client collects on Friday")
    qtbot.mouseClick(sales_page.request_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialogs.infos), timeout=10_000)
    assert asked.id in dialogs.infos[-1]

    fiona = make_user("fiona", Role.FINANCE)
    window = open_main(fiona)
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: not page.loading, timeout=15_000)
    offered = []
    page.ask_deal_id = lambda requests: offered.extend(requests) or requests[0].deal_id
    qtbot.mouseClick(page.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=15_000)
    assert [(r.deal_id, r.note, r.requested_by) for r in offered] == [
        (asked.id, "client collects on Friday", "sam")
    ]
    assert sam.deals.get(asked.id).state is DealState.INVOICED
    assert context.services_for(fiona).invoices.requests() == []  # answered

    # the other deal, from the Deals page: finance is told the invoice cannot be changed
    deals = window.show_section("deals")
    qtbot.waitUntil(lambda: not deals.loading and deals.model.rowCount() == 2, timeout=15_000)
    deals.select(asked.id)
    qtbot.waitUntil(lambda: deals.selected() is not None, timeout=10_000)
    assert deals.invoice_button.isVisibleTo(deals) and not deals.invoice_button.isEnabled()
    assert not deals.request_button.isVisibleTo(deals)
    deals.select(other.id)
    qtbot.waitUntil(lambda: deals.invoice_button.isEnabled(), timeout=10_000)
    qtbot.mouseClick(deals.invoice_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sam.deals.get(other.id).state is DealState.INVOICED, timeout=15_000)
    assert "cannot be changed" in dialogs.confirms[-1] and other.id in dialogs.confirms[-1]
    qtbot.waitUntil(lambda: "is issued" in dialogs.infos[-1], timeout=10_000)
    assert sam.deals.get(other.id).invoice_number in dialogs.infos[-1]
