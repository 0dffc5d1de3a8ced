"""Issuing, crediting, printing and paying invoices through the service, on the real database."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from alko_desk.models.audit import AuditFilter
from alko_desk.models.errors import PermissionDenied, ValidationError
from alko_desk.models.invoices import (
    DocumentKind,
    DocumentTampered,
    InvoiceStatus,
    PaymentKind,
    PaymentMethod,
    VatCategory,
)
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.storage.invoices_repo import invoice_to_doc
from tests.invoice_data import CROATIAN, GERMAN_BUSINESS, RUSSIAN, car_line, deposit_draft

CAR = car_line()
TOTAL = Money.of("30000.00")  # 24,000 + 25 % VAT


@pytest.fixture
def finance(context, make_user):
    return context.services_for(make_user("fiona", Role.FINANCE)).invoices


@pytest.fixture
def audit(context, admin_session):
    return lambda prefix: context.services_for(admin_session).audit.entries(
        AuditFilter(action_prefix=prefix)
    )


def new_car_invoice(finance, customer=CROATIAN):
    return finance.issue(finance.new_draft(customer, [CAR], date(2026, 11, 24)))


def test_invoices_are_numbered_in_a_yearly_series_from_one(finance):
    numbers = [new_car_invoice(finance).number for _ in range(3)]
    assert numbers == ["ALKO-2026-000001", "ALKO-2026-000002", "ALKO-2026-000003"]


def test_supplier_bank_and_terms_come_from_settings(finance):
    invoice = new_car_invoice(finance)
    assert invoice.draft.supplier.name == "ALKO Cars d.o.o."
    assert invoice.draft.supplier.vat_id == "HR33392005961"  # the test company (conftest)
    assert invoice.draft.supplier.country == "HR"
    assert invoice.draft.bank.iban == "HR1210010051863000160"
    assert invoice.totals.gross == TOTAL
    assert invoice.due_date == date(2026, 12, 3)


def test_stored_pdf_is_returned_unchanged_with_its_hash_and_audited(finance, audit):
    invoice = new_car_invoice(finance, RUSSIAN)
    pdf = finance.pdf(invoice.number, "print")
    assert hashlib.sha256(pdf).hexdigest() == invoice.pdf_sha256
    assert finance.pdf(invoice.number, "save") == pdf
    assert RUSSIAN.name in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert [e.action for e in audit("invoice.")][:3] == [
        "invoice.save",
        "invoice.print",
        "invoice.issued",
    ]


def test_tampered_stored_pdf_is_detected(finance, store, audit):
    invoice = new_car_invoice(finance)
    stored = store.collection("invoice_pdfs").find_one({"_id": invoice.number})
    data = bytes(stored["pdf"])
    forged = data[:2000] + bytes([data[2000] ^ 0x01]) + data[2001:]  # one bit changed
    store.collection("invoice_pdfs").update_one({"_id": invoice.number}, {"$set": {"pdf": forged}})
    with pytest.raises(DocumentTampered) as err:
        finance.pdf(invoice.number)
    assert invoice.number in err.value.message
    assert audit("invoice.tampered")[0].target == invoice.number


def test_issued_invoice_never_changes_through_the_service(finance, store):
    invoice = new_car_invoice(finance)
    before = store.collection("invoices").find_one({"_id": invoice.number})
    finance.record_payment(invoice.number, Money.of("1000"), PaymentMethod.CASH)
    note = finance.credit(invoice.number, "discount agreed later", Money.of("500"))
    finance.pdf(invoice.number)
    after = store.collection("invoices").find_one({"_id": invoice.number})
    derived = {"credit_notes"}  # the one link written after issue
    assert {k: v for k, v in after.items() if k not in derived} == before
    assert after["credit_notes"] == [note.number]
    assert finance.get(invoice.number) == invoice
    assert not [m for m in dir(finance) if m.startswith(("update_invoice", "edit", "delete"))]


def test_full_credit_note_marks_the_original_credited(finance):
    invoice = new_car_invoice(finance)
    note = finance.credit(invoice.number, "sale cancelled")
    assert note.number == "ALKO-CN-2026-000001"
    assert note.corrects.number == invoice.number
    assert note.totals.gross == TOTAL
    account = finance.account(invoice.number)
    assert account.status is InvoiceStatus.CREDITED
    assert account.credit_notes == (note.number,)
    with pytest.raises(ValidationError):
        finance.credit(invoice.number, "again")


def test_partial_credit_payments_and_refund_balance(finance):
    invoice = new_car_invoice(finance)
    finance.record_payment(invoice.number, Money.of("10000"), PaymentMethod.FINANCING_PAYOUT)
    assert finance.account(invoice.number).status is InvoiceStatus.PARTLY_PAID
    finance.record_payment(invoice.number, Money.of("20000"), PaymentMethod.BANK_TRANSFER)
    assert finance.account(invoice.number).status is InvoiceStatus.PAID
    note = finance.credit(invoice.number, "floor mats not delivered", Money.of("250.00"))
    assert note.totals.taxable == Money.of("200.00") and note.totals.vat == Money.of("50.00")
    account = finance.account(invoice.number)
    assert account.credited == Money.of("250.00")
    assert account.balance == Money.of("-250.00")  # the customer gets 250 back
    with pytest.raises(ValidationError):
        finance.record_refund(note.number, Money.of("250.01"), PaymentMethod.BANK_TRANSFER)
    refund = finance.record_refund(note.number, Money.of("250.00"), PaymentMethod.BANK_TRANSFER)
    assert refund.kind is PaymentKind.REFUND and refund.credit_note == note.number
    account = finance.account(invoice.number)
    assert account.balance == Money.zero() and account.status is InvoiceStatus.PAID
    assert [p.amount for p in account.payments] == [
        Money.of("10000"),
        Money.of("20000"),
        Money.of("250"),
    ]


def test_overpayment_needs_an_explicit_entry(finance):
    invoice = new_car_invoice(finance)
    with pytest.raises(ValidationError) as err:
        finance.record_payment(invoice.number, Money.of("30000.01"), PaymentMethod.CARD)
    assert "overpayment" in err.value.user_text() or "overpayment" in str(err.value.field_errors)
    entry = finance.record_payment(
        invoice.number, Money.of("30100"), PaymentMethod.CASH, overpayment=True
    )
    assert entry.kind is PaymentKind.OVERPAYMENT
    assert finance.account(invoice.number).balance == Money.of("-100")


def test_amounts_must_be_positive_cents_in_the_invoice_currency(finance):
    invoice = new_car_invoice(finance)
    for bad in (Money.of("0"), Money.of("-5"), Money("1.005"), Money.of("5", "USD")):
        with pytest.raises(ValidationError):
            finance.record_payment(invoice.number, bad, PaymentMethod.CASH)


def test_a_payment_keeps_the_day_it_was_received_and_cannot_be_dated_ahead(finance, clock):
    invoice = new_car_invoice(finance)
    today = clock.now().date()
    earlier = finance.record_payment(
        invoice.number, Money.of("100"), PaymentMethod.BANK_TRANSFER, paid_on=date(2026, 11, 20)
    )
    assert earlier.paid_on == date(2026, 11, 20)
    with pytest.raises(ValidationError) as err:
        finance.record_payment(
            invoice.number,
            Money.of("100"),
            PaymentMethod.CASH,
            paid_on=today.replace(day=today.day + 2),
        )
    assert "in the future" in err.value.user_text()
    assert [p.amount for p in finance.account(invoice.number).payments] == [Money.of("100")]


def test_overdue_and_open_items_with_totals(finance, clock):
    first = new_car_invoice(finance)
    second = new_car_invoice(finance)
    finance.record_payment(second.number, Money.of("5000"), PaymentMethod.CARD)
    paid = new_car_invoice(finance)
    finance.record_payment(paid.number, TOTAL, PaymentMethod.CARD)
    clock.advance(days=9)
    third = new_car_invoice(finance)
    items, totals = finance.open_items()
    assert [a.invoice.number for a in items] == [first.number, second.number, third.number]
    assert [a.status for a in items] == [
        InvoiceStatus.OVERDUE,
        InvoiceStatus.OVERDUE,
        InvoiceStatus.OPEN,
    ]
    assert totals["overdue"] == Money.of("55000.00")
    assert totals["open"] == TOTAL
    assert totals["total"] == Money.of("85000.00")


def test_deposit_reduces_the_amount_due(finance):
    d = deposit_draft()
    invoice = finance.issue(
        finance.new_draft(d.customer, d.lines, d.supply_date, deposits=d.deposits)
    )
    assert invoice.totals.due == Money.of("27437.50")
    finance.record_payment(invoice.number, Money.of("27437.50"), PaymentMethod.BANK_TRANSFER)
    assert finance.account(invoice.number).status is InvoiceStatus.PAID


def test_intra_community_supply_needs_a_foreign_vat_id(finance):
    line = car_line(VatCategory.INTRA_COMMUNITY)
    no_vat = GERMAN_BUSINESS.__class__(GERMAN_BUSINESS.name, GERMAN_BUSINESS.address)
    with pytest.raises(ValidationError) as err:
        finance.issue(finance.new_draft(no_vat, [line], date(2026, 11, 24)))
    assert "customer.vat_id" in err.value.field_errors
    invoice = finance.issue(finance.new_draft(GERMAN_BUSINESS, [line], date(2026, 11, 24)))
    assert invoice.totals.vat == Money.zero()


def test_roles_sales_request_finance_issue_manager_reads(context, make_user, finance, audit):
    sales = context.services_for(make_user("sam", Role.SALES)).invoices
    manager = context.services_for(make_user("mia", Role.MANAGER)).invoices
    draft = finance.new_draft(CROATIAN, [CAR], date(2026, 11, 24))
    with pytest.raises(PermissionDenied):
        sales.issue(draft)
    sales.request_invoice("deal-17", "customer collects on Friday")
    assert audit("invoice.requested")[0].target == "deal-17"
    [request] = finance.requests()
    assert (request.deal_id, request.requested_by) == ("deal-17", "sam")
    finance.issue(replace(draft, deal_id="deal-17"))
    assert finance.requests() == []
    invoice = finance.get("ALKO-2026-000001")
    assert [a.invoice.number for a in manager.list_invoices()] == [invoice.number]
    assert invoice.draft.deal_id == "deal-17"
    assert manager.pdf(invoice.number)
    with pytest.raises(PermissionDenied):
        manager.record_payment(invoice.number, Money.of("1"), PaymentMethod.CASH)
    with pytest.raises(PermissionDenied):
        manager.credit(invoice.number, "no")
    with pytest.raises(PermissionDenied):
        sales.list_invoices()


def test_interrupted_invoice_is_completed_at_next_login(context, finance, store, audit):
    invoice = finance._insert_numbered(  # a desk that died right after the insert
        DocumentKind.INVOICE,
        finance.new_draft(CROATIAN, [CAR], date(2026, 11, 24)),
        finance.settings(),
    )
    assert store.collection("invoice_pdfs").find_one({"_id": invoice.number}) is None
    assert context.finish_interrupted_invoices() == 1
    assert finance.get(invoice.number).pdf_sha256
    assert finance.pdf(invoice.number)
    assert audit("invoice.completed")[0].target == invoice.number
    assert context.finish_interrupted_invoices() == 0
    assert new_car_invoice(finance).sequence == invoice.sequence + 1


def test_receipt_pdf_for_a_payment(finance):
    invoice = new_car_invoice(finance, RUSSIAN)
    payment = finance.record_payment(invoice.number, Money.of("1000"), PaymentMethod.CARD)
    text = PdfReader(io.BytesIO(finance.receipt_pdf(payment.id))).pages[0].extract_text()
    assert RUSSIAN.name in text and "29,000.00 EUR" in text


def test_documents_round_trip_through_storage(finance):
    invoice = new_car_invoice(finance)
    assert invoice_to_doc(finance.get(invoice.number)) == invoice_to_doc(invoice)


def test_each_year_starts_its_series_at_one(finance, clock):
    clock._now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert new_car_invoice(finance).number == "ALKO-2026-000001"
    clock.advance(hours=2)
    assert new_car_invoice(finance).number == "ALKO-2027-000001"
    assert new_car_invoice(finance).number == "ALKO-2027-000002"


def test_admin_configures_the_series(context, admin_session, finance):
    from alko_desk.models.invoices import InvoiceSettings

    admin = context.services_for(admin_session).invoices
    admin.update_settings(InvoiceSettings(invoice_series="AC{year}", digits=4))
    assert new_car_invoice(finance).number == "AC2026-0001"
    with pytest.raises(PermissionDenied):
        finance.update_settings(InvoiceSettings())


def test_invoice_settings_are_checked_field_by_field_and_the_change_audited(
    context, admin_session, finance, tmp_path
):
    from alko_desk.models.invoices import InvoiceSettings

    admin = context.services_for(admin_session).invoices
    bad = InvoiceSettings(
        invoice_series=" ",
        credit_note_series="CN/{year}",
        payment_terms_days=400,
        bic="ZABA",
        logo_path=str(tmp_path / "missing.png"),
    )
    with pytest.raises(ValidationError) as err:
        admin.update_settings(bad)
    assert set(err.value.field_errors) == {
        "invoice_series",
        "credit_note_series",
        "payment_terms_days",
        "bic",
        "logo_path",
    }
    with pytest.raises(ValidationError) as err:
        admin.update_settings(InvoiceSettings(credit_note_series="ALKO-{year}"))
    assert "of their own" in err.value.field_errors["credit_note_series"]
    assert admin.settings() == InvoiceSettings()
    logo = tmp_path / "logo.png"
    from PIL import Image

    Image.new("RGB", (40, 20), "navy").save(logo)
    admin.update_settings(
        InvoiceSettings(payment_terms_days=15, bic=" zabahr2x ", logo_path=str(logo))
    )
    assert admin.settings().bic == "ZABAHR2X"
    invoice = new_car_invoice(finance)
    assert (invoice.due_date - invoice.issue_date).days == 15
    (entry,) = context.audit_log.query(AuditFilter(action_prefix="settings.invoices_changed"))
    assert entry.details["fields"] == ["bic", "logo_path", "payment_terms_days"]


def test_one_desk_at_a_time_credits_an_invoice_and_a_crashed_claim_lapses(context, finance, clock):
    from alko_desk.models.errors import ConcurrentModification

    invoice = new_car_invoice(finance)
    other_desk = "another-session:crashed"
    assert context.invoices_repo.claim(
        f"credit:{invoice.number}", other_desk, clock.now(), clock.now()
    )
    with pytest.raises(ConcurrentModification):
        finance.credit(invoice.number, "price reduction", Money.of("100"))
    clock.advance(minutes=3)
    note = finance.credit(invoice.number, "price reduction", Money.of("100"))
    assert note.totals.gross == Money.of("100.00")


def test_credit_counts_a_credit_note_a_crash_left_unlinked(finance):
    from alko_desk.models.invoices import InvoiceRef, credit_lines

    invoice = new_car_invoice(finance)
    lines = credit_lines(invoice, Money.of("29000"), "damaged")
    finance._insert_numbered(  # a desk died right after inserting this credit note
        DocumentKind.CREDIT_NOTE,
        replace(invoice.draft, lines=lines),
        finance.settings(),
        corrects=InvoiceRef(invoice.number, invoice.issue_date),
        reason="damaged",
    )
    with pytest.raises(ValidationError) as err:
        finance.credit(invoice.number, "more", Money.of("1000.01"))
    assert "1,000.00 EUR" in err.value.message
    assert finance.credit(invoice.number, "the rest").totals.gross == Money.of("1000.00")
    assert finance.account(invoice.number).status is InvoiceStatus.CREDITED


def test_credit_notes_never_add_up_to_more_than_the_invoice(finance):
    odd = car_line(price="9999.99")
    invoice = finance.issue(finance.new_draft(CROATIAN, [odd], date(2026, 11, 24)))
    for _ in range(3):
        finance.credit(invoice.number, "instalment of goodwill", Money.of("3333.33"))
    account = finance.account(invoice.number)
    assert account.credited <= invoice.totals.gross
    last = finance.credit(invoice.number, "the rest")
    assert finance.account(invoice.number).credited == invoice.totals.gross
    assert last.totals.gross > Money.zero()


def test_invoice_list_pages_sorts_and_filters_through_the_list_index(context, finance):
    from alko_desk.models.listing import PageRequest

    first, second, third = (new_car_invoice(finance) for _ in range(3))
    finance.record_payment(second.number, Money.of("30000"), PaymentMethod.BANK_TRANSFER)
    finance.record_payment(third.number, Money.of("1000"), PaymentMethod.CARD)
    note = finance.credit(first.number, "price corrected", Money.of("500"))

    page = finance.list_page(PageRequest(0, 2, "number"))
    assert page.total == 4 and [r.number for r in page.rows] == [first.number, second.number]
    by_balance = finance.list_page(PageRequest(0, 10, "balance", descending=True))
    assert [r.number for r in by_balance.rows][:3] == [first.number, third.number, note.number]
    row = {r.number: r for r in by_balance.rows}
    assert row[first.number].balance == Money.of("29500")
    assert row[second.number].status is InvoiceStatus.PAID
    assert row[third.number].status is InvoiceStatus.PARTLY_PAID
    assert row[note.number].is_credit_note and row[note.number].corrects == first.number

    open_ = finance.list_page(PageRequest(0, 10, "balance", filters={"status": "open"}))
    assert [r.number for r in open_.rows] == [third.number, first.number]
    assert finance.list_page(PageRequest(filters={"status": "overdue"})).total == 0
    context.clock.advance(days=30)  # past the due date: read as overdue, nothing rewritten
    overdue = finance.list_page(PageRequest(filters={"status": "overdue"}))
    assert overdue.total == 2 and {r.status for r in overdue.rows} == {InvoiceStatus.OVERDUE}
    assert finance.open_totals()["total"] == Money.of("29500") + Money.of("29000")
    with pytest.raises(ValidationError):
        finance.list_page(PageRequest(sort="customer"))

    payments = finance.payments_page(PageRequest(0, 10, "amount", descending=True))
    assert [p.id for p in payments.rows] == [f"{second.number}/1", f"{third.number}/1"]
    entities = [c.entity for c in context.change_log.since(0).changes]
    assert entities.count("payments") == 2 and "invoices" in entities


def test_invoices_issued_before_the_list_index_are_listed_at_the_next_start(
    context, finance, store
):
    from alko_desk.models.listing import PageRequest

    issued = [new_car_invoice(finance).number for _ in range(2)]
    for name in store.db.list_collection_names():
        if name.startswith("ix_invoices"):
            store.db.drop_collection(name)  # as on a database from before the index
    context.invoice_list_repo.clear_cache()
    assert finance.list_page(PageRequest()).total == 0
    finance.finish_interrupted()  # a login lists nothing: only the start-up step does
    assert finance.list_page(PageRequest()).total == 0
    assert context.list_unlisted_invoices() == 2  # what open_context runs at start
    assert [r.number for r in finance.list_page(PageRequest()).rows] == issued
    assert context.list_unlisted_invoices() == 0
