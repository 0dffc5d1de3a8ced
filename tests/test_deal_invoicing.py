"""The deal-to-invoice mapping, on a stand-in with the attributes of the `Deal` of issue 9.

When deals land on main this test should build a real `Deal` instead (see
alko_desk/services/deal_invoicing.py for the fields it reads).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace as NS

from alko_desk.models.invoices import InvoiceDraft, VatCategory
from alko_desk.models.money import Money
from alko_desk.services.deal_invoicing import draft_from_deal
from tests.invoice_data import BANK, CROATIAN, SUPPLIER


def deal(scheme: str, vehicle_price: str, *, items=(), deposit=None, trade_in=None):
    return NS(
        id="D-7",
        vehicle_vin="WVWZZZ1JZXW000001",
        vehicle_title="Volkswagen Golf 1.5 TSI",
        created_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        terms=NS(
            vat_rate=Decimal(25),
            currency="EUR",
            deposit=deposit,
            trade_in=trade_in,
            financing=None,
            items=tuple(items),
        ),
        figures=NS(
            vehicle_price=Money.of(vehicle_price),
            scheme=NS(value=scheme),
            list_price=Money.of("31000"),
            discount_total=Money.of("1000"),
            trade_in_equity=Money.of("4000") if trade_in else Money.zero(),
            amount_financed=Money.zero(),
        ),
    )


def as_draft(lines, deposits, notes) -> InvoiceDraft:
    return InvoiceDraft(
        SUPPLIER, CROATIAN, tuple(lines), date(2026, 11, 24), "EUR", deposits, BANK, notes=notes
    )


def test_standard_deal_invoice_totals_match_the_gross_price():
    mats = NS(description="Floor mats", amount=Money.of("125.00"), vat_applies=True)
    registration = NS(description="Registration", amount=Money.of("80.00"), vat_applies=False)
    d = deal("standard", "30000.00", items=[mats, registration], deposit=Money.of("2000"))
    lines, deposits, notes = draft_from_deal(d)
    draft = as_draft(lines, deposits, notes)
    totals = draft.totals()
    assert lines[0].vin == "WVWZZZ1JZXW000001" and lines[0].unit_price == Money.of("24000.00")
    assert totals.gross == Money.of("30125.00")
    assert totals.due == Money.of("28125.00")
    assert deposits[0].received_on == date(2026, 11, 3)
    assert "Registration" in notes and "disbursement" in notes
    assert "discount 1,000.00 EUR" in notes


def test_margin_scheme_deal_shows_no_vat_on_the_car():
    trade_in = NS(description="Opel Corsa 2015", vin="W0L0SDL0812345678")
    lines, deposits, notes = draft_from_deal(deal("margin", "12500.00", trade_in=trade_in))
    totals = as_draft(lines, deposits, notes).totals()
    assert lines[0].vat_category is VatCategory.MARGIN_SCHEME
    assert totals.vat == Money.zero() and totals.gross == Money.of("12500.00")
    assert "4,000.00 EUR credited as a payment" in notes
