"""Sample invoice drafts for the tests and benchmarks: the cases a car dealer has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alko_desk.models.invoices import (
    Address,
    BankDetails,
    Deposit,
    DocumentKind,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    Party,
    VatCategory,
)
from alko_desk.models.money import Money

SUPPLIER = Party(
    "ALKO Cars d.o.o.",
    Address("Ilica 1", "Zagreb", "10000", "HR"),
    vat_id="HR12345678901",
)
BANK = BankDetails("HR1210010051863000160", "PBZGHR2X", "Privredna banka Zagreb")
CROATIAN = Party("Željko Kovačević", Address("Vukovarska 12", "Split", "21000", "HR"))
RUSSIAN = Party("Пётр Петров", Address("Savska 5", "Zagreb", "10000", "HR"))
GERMAN_BUSINESS = Party(
    "Müller Autohandel GmbH",
    Address("Hauptstraße 5", "München", "80331", "DE"),
    vat_id="DE123456789",
)
NEW_CAR_VIN = "WVWZZZ1JZXW000001"
USED_CAR_VIN = "VF1RFB00X56789012"


def car_line(
    category: VatCategory = VatCategory.STANDARD,
    price: str = "24000.00",
    vin: str = NEW_CAR_VIN,
    description: str = "Volkswagen Golf 1.5 TSI Life, new, white",
) -> InvoiceLine:
    rate = Decimal(25) if category is VatCategory.STANDARD else Decimal(0)
    return InvoiceLine(description, Decimal(1), Money.of(price), category, rate, vin)


def draft(
    customer: Party = CROATIAN,
    lines: tuple[InvoiceLine, ...] | None = None,
    deposits: tuple[Deposit, ...] = (),
    deal_id: str = "",
) -> InvoiceDraft:
    return InvoiceDraft(
        supplier=SUPPLIER,
        customer=customer,
        lines=lines
        or (
            car_line(),
            InvoiceLine(
                "Registration and delivery",
                Decimal(1),
                Money.of("350.00"),
                VatCategory.STANDARD,
                Decimal(25),
            ),
        ),
        supply_date=date(2026, 11, 24),
        deposits=deposits,
        bank=BANK,
        payment_terms_days=8,
        deal_id=deal_id,
    )


def margin_draft() -> InvoiceDraft:
    return draft(
        lines=(
            car_line(
                VatCategory.MARGIN_SCHEME,
                "12500.00",
                USED_CAR_VIN,
                "Renault Clio 1.2, used, 2019, 61,000 km",
            ),
        )
    )


def intra_community_draft() -> InvoiceDraft:
    return draft(customer=GERMAN_BUSINESS, lines=(car_line(VatCategory.INTRA_COMMUNITY),))


def deposit_draft() -> InvoiceDraft:
    return draft(deposits=(Deposit(Money.of("3000.00"), date(2026, 11, 2), "DEP-77"),))


def issued(d: InvoiceDraft, number: str = "ALKO-2026-000001") -> Invoice:
    """An invoice as issuing makes it, without a database (for document tests)."""
    return _document(DocumentKind.INVOICE, d, number, date(2026, 11, 25), d.payment_terms_days)


def credit_note_of(
    original: Invoice, amount: Money | None = None, number: str = "ALKO-CN-2026-000001"
) -> Invoice:
    from dataclasses import replace

    from alko_desk.models.invoices import InvoiceRef, credit_lines

    d = replace(
        original.draft, lines=credit_lines(original, amount, "price reduction"), deposits=()
    )
    return _document(
        DocumentKind.CREDIT_NOTE,
        d,
        number,
        date(2026, 11, 26),
        corrects=InvoiceRef(original.number, original.issue_date),
        reason="price reduction",
    )


def _document(
    kind: DocumentKind, d: InvoiceDraft, number: str, day: date, due_days: int = 0, **more
) -> Invoice:
    series, _, seq = number.rpartition("-")
    return Invoice(
        number=number,
        series=series,
        sequence=int(seq),
        kind=kind,
        issue_date=day,
        due_date=day + timedelta(days=due_days),
        draft=d,
        totals=d.totals(),
        issued_by="fiona",
        issued_at=datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC),
        **more,
    )


def one_of_each_kind() -> dict[str, Invoice]:
    """A document of every kind the e-invoice must describe (the EN 16931 rules and the
    PDF/A-3 checks go through the same set); the credit notes correct the first invoice."""
    original = issued(draft(customer=RUSSIAN))
    return {
        "standard_rated_new_car": original,
        "margin_scheme_used_car": issued(margin_draft()),
        "intra_community_business_buyer": issued(intra_community_draft()),
        "deposit_already_paid": issued(deposit_draft()),
        "full_credit_note": credit_note_of(original),
        "partial_credit_note": credit_note_of(original, Money.of("1000.00")),
    }
