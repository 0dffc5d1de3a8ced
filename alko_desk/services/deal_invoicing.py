"""From a deal to an invoice draft: the adapter to finish once deals are on main.

Deals (issue 9, branch `vehicles`) keep every figure in `deal.terms` / `deal.figures`, with
prices gross (VAT included). `draft_from_deal` turns one into the lines of an
`InvoiceDraft`; it reads the deal by attribute only, so this module imports nothing of
deals and works on the `Deal` of models/deals.py as it is on that branch:

    deal.id, deal.vehicle_vin, deal.vehicle_title, deal.created_at
    deal.terms.vat_rate, .currency, .deposit, .trade_in, .financing, .items
        (items: .description, .amount (gross), .vat_applies)
    deal.figures.vehicle_price (gross, after discounts), .scheme (.value "standard"/"margin"),
        .list_price, .discount_total, .trade_in_equity, .amount_financed

What is left to wire (one small class implementing `invoicing.DealSource`):
`draft_for(deal_id)` loads the deal (refusing one that is not approved/reserved without a
pending approval), builds the customer `Party` from the client record, and calls
`InvoicingService.new_draft(customer, *draft_from_deal(deal))`; `mark_invoiced(deal_id,
number)` moves the deal to `invoiced` with the number, idempotently. Then
`AppContext.deal_source` gets an instance and `invoice issue --deal` works.

Trade-in equity and the lender's payout are how the customer pays, not what they buy: they
are named in the notes and recorded afterwards as payments (methods `trade-in credit` and
`financing payout`). A registration fee paid on the buyer's behalf is a disbursement
(Art. 79(c) of Directive 2006/112/EC), outside the taxable amount, so it is not an invoice
line either; it is named in the notes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alko_desk.models.invoices import Deposit, InvoiceLine, VatCategory
from alko_desk.models.money import Money


def _net(gross: Money, rate: Decimal) -> Money:
    return (gross * (Decimal(100) / (Decimal(100) + rate))).rounded()


def draft_from_deal(deal: Any) -> tuple[list[InvoiceLine], tuple[Deposit, ...], str]:
    """(lines, deposits, notes) of the invoice for a deal; supply date and customer are the caller's."""
    terms, figures = deal.terms, deal.figures
    rate = Decimal(terms.vat_rate)
    margin = getattr(figures.scheme, "value", figures.scheme) == "margin"
    vehicle_gross = figures.vehicle_price
    if margin:
        vehicle = InvoiceLine(
            deal.vehicle_title,
            Decimal(1),
            vehicle_gross,
            VatCategory.MARGIN_SCHEME,
            Decimal(0),
            deal.vehicle_vin,
        )
    else:
        vehicle = InvoiceLine(
            deal.vehicle_title,
            Decimal(1),
            _net(vehicle_gross, rate),
            VatCategory.STANDARD,
            rate,
            deal.vehicle_vin,
        )
    lines = [vehicle]
    notes = []
    if figures.discount_total:
        notes.append(f"List price {figures.list_price}, discount {figures.discount_total}.")
    for item in terms.items:
        if item.vat_applies:
            lines.append(
                InvoiceLine(
                    item.description,
                    Decimal(1),
                    _net(item.amount, rate),
                    VatCategory.STANDARD,
                    rate,
                )
            )
        else:
            notes.append(
                f"{item.description}: {item.amount} paid on your behalf (disbursement, "
                "outside the taxable amount), payable with this invoice."
            )
    deposits = ()
    if terms.deposit:
        deposits = (Deposit(terms.deposit, deal.created_at.date(), f"deal {deal.id}"),)
    if terms.trade_in is not None and figures.trade_in_equity:
        notes.append(
            f"Trade-in {terms.trade_in.description} (VIN {terms.trade_in.vin}): "
            f"{figures.trade_in_equity} credited as a payment."
        )
    if terms.financing is not None and figures.amount_financed:
        notes.append(f"{figures.amount_financed} financed by {terms.financing.lender}.")
    return lines, deposits, " ".join(notes)
