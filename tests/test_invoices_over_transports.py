"""Invoicing and deal invoicing over both transports: in-process and through the showroom
server (the `desk` fixture of conftest.py). Issue, list, the stored PDF's bytes (streamed by
the server in chunks), credit notes, payments, refunds, receipts and the domain errors all
arrive as they leave the service."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from pypdf import PdfReader

from alko_desk.models.deals import DealState
from alko_desk.models.errors import PermissionDenied, ValidationError
from alko_desk.models.invoices import (
    DocumentKind,
    DocumentTampered,
    InvoiceRow,
    InvoiceStatus,
    PaymentKind,
    PaymentMethod,
)
from alko_desk.models.listing import PageRequest
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleStatus
from alko_desk.remote.server import STREAM_CHUNK
from tests.invoice_data import RUSSIAN, car_line
from tests.vehicles_data import client_with_deal


@pytest.fixture
def finance(desk_user):
    return desk_user("fiona", Role.FINANCE)


def test_issue_list_pdf_credit_and_payments_over_each_transport(finance):
    invoicing = finance.invoices
    invoice = invoicing.issue(invoicing.new_draft(RUSSIAN, [car_line()], date(2026, 11, 24)))
    assert invoice.number == "ALKO-2026-000001" and invoice.kind is DocumentKind.INVOICE
    assert invoice.draft.customer.name == "Пётр Петров"
    assert invoice.totals.gross == Money.of("30000.00")

    pdf = invoicing.pdf(invoice.number, "export")
    assert len(pdf) > STREAM_CHUNK  # more than one chunk of the server's stream
    assert hashlib.sha256(pdf).hexdigest() == invoice.pdf_sha256
    assert "Пётр Петров" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

    note = invoicing.credit(invoice.number, "scratch on the door", Money.of("1000.00"))
    assert note.kind is DocumentKind.CREDIT_NOTE and note.corrects.number == invoice.number
    paid = invoicing.record_payment(
        invoice.number, Money.of("29000.00"), PaymentMethod.BANK_TRANSFER, reference="HR00 1"
    )
    assert paid.kind is PaymentKind.PAYMENT and paid.amount == Money.of("29000.00")
    with pytest.raises(ValidationError) as too_much:
        invoicing.record_payment(invoice.number, Money.of("5.00"), PaymentMethod.CASH)
    assert "overpayment" in too_much.value.field_errors["amount"]

    account = invoicing.account(invoice.number)
    assert (account.credited, account.paid) == (Money.of("1000.00"), Money.of("29000.00"))
    assert account.balance == Money.zero("EUR") and account.status is InvoiceStatus.PAID
    receipt = invoicing.receipt_pdf(paid.id)
    assert receipt.startswith(b"%PDF") and "29,000.00 EUR" in _text(receipt)

    page = invoicing.list_page(PageRequest(0, 10, "number"))
    assert page.total == 2 and all(isinstance(r, InvoiceRow) for r in page.rows)
    rows = {r.number: r for r in page.rows}
    assert rows[invoice.number].status is InvoiceStatus.PAID
    assert rows[note.number].corrects == invoice.number
    listed = invoicing.list_invoices()
    assert [a.invoice.number for a in listed] == [note.number, invoice.number]


def test_refund_against_a_credit_note_over_each_transport(finance):
    invoicing = finance.invoices
    invoice = invoicing.issue(invoicing.new_draft(RUSSIAN, [car_line()], date(2026, 11, 24)))
    invoicing.record_payment(invoice.number, Money.of("30000.00"), PaymentMethod.CARD)
    note = invoicing.credit(invoice.number, "price reduction", Money.of("500.00"))
    refund = invoicing.record_refund(note.number, Money.of("500.00"), PaymentMethod.BANK_TRANSFER)
    assert refund.kind is PaymentKind.REFUND and refund.credit_note == note.number
    assert refund.invoice_number == invoice.number  # in the ledger of the invoice credited
    assert invoicing.account(invoice.number).balance == Money.zero("EUR")


def test_a_tampered_pdf_is_refused_over_each_transport(finance, store):
    invoicing = finance.invoices
    invoice = invoicing.issue(invoicing.new_draft(RUSSIAN, [car_line()], date(2026, 11, 24)))
    pdfs = store.collection("invoice_pdfs")
    data = bytes(pdfs.find_one({"_id": invoice.number})["pdf"])
    forged = data[:2000] + bytes([data[2000] ^ 0x01]) + data[2001:]  # one bit changed
    pdfs.update_one({"_id": invoice.number}, {"$set": {"pdf": forged}})
    with pytest.raises(DocumentTampered) as refused:
        invoicing.pdf(invoice.number, "print")
    assert invoice.number in refused.value.message


def test_a_deal_is_invoiced_and_credited_over_each_transport(context, desk_user, finance):
    sam, deal = client_with_deal(context, sales=desk_user("sam", Role.SALES))
    with pytest.raises(PermissionDenied):
        sam.invoices.issue_for_deal(deal.id)
    sam.invoices.request_invoice(deal.id, "client collects on Friday")
    assert [r.deal_id for r in finance.invoices.requests()] == [deal.id]

    invoice = finance.invoices.issue_for_deal(deal.id)
    assert invoice.draft.deal_id == deal.id and invoice.draft.lines[0].vin == deal.vehicle_vin
    assert invoice.draft.customer.name == "Željko Kovačević"
    assert invoice.totals.due == deal.figures.total_price - Money.of("2000")
    invoiced = sam.deals.get(deal.id)
    assert (invoiced.state, invoiced.invoice_number) == (DealState.INVOICED, invoice.number)
    assert sam.vehicles.get(deal.vehicle_id).status is VehicleStatus.SOLD
    assert finance.invoices.requests() == []
    with pytest.raises(ValidationError, match="already invoiced"):
        finance.invoices.issue_for_deal(deal.id)

    finance.invoices.credit(invoice.number, "sale cancelled")
    reopened = sam.deals.get(deal.id)
    assert reopened.state is DealState.RESERVED and reopened.invoice_number == ""
    again = finance.invoices.issue_for_deal(deal.id)
    assert again.sequence == 2 and sam.deals.get(deal.id).invoice_number == again.number


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
