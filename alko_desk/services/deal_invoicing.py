"""From a deal to an invoice: the mapping into invoice lines, and the `DealSource` adapter.

`draft_from_deal` turns a deal's terms and figures (prices gross, VAT included) into the
lines of an `InvoiceDraft`; it reads the deal by attribute only.

`DealInvoiceSource` is what `InvoicingService` issues from (`invoicing.DealSource`), built
per session in bootstrap over the session's `DealService` and `ClientService`:

- `draft_for(deal_id)` refuses a deal that is not ready (issue 9's state machine: approved,
  or reserved with no approval needed; a lapsed reservation is refused too) and reads the
  client's name and address through `ClientService.billing_details`, with the caller's
  client-read permission, audited as a read of those fields;
- `mark_invoiced(deal_id, number)` moves the deal to invoiced (the vehicle becomes sold),
  idempotently, since a crash's recovery calls it again;
- `invoice_credited(deal_id, number, credit_note)` reopens an invoiced deal once its invoice
  is credited in full, so that it can be cancelled or invoiced again.

Trade-in equity and the lender's payout are how the customer pays, not what they buy: they
are named in the notes and recorded afterwards as payments (methods `trade-in credit` and
`financing payout`). A registration fee paid on the buyer's behalf is a disbursement
(Art. 79(c) of Directive 2006/112/EC), outside the taxable amount, so it is not an invoice
line either; it is named in the notes.

A deal with a business buyer (`DealTerms.business_buyer`) is invoiced to the company: its
name, its address (the client's when none was typed) and its VAT ID; the client is named
in the notes as the contact. When the deal's figures say intra-community supply, every
line is category K at 0 % with the net price (the gross price less the VAT it contains,
amount by amount, as services/deal_calc.py takes it off), and the invoice prints the
exemption wording (VATEX-EU-IC).
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
    scheme = getattr(figures.scheme, "value", figures.scheme)
    margin = scheme == "margin"
    vehicle_gross = figures.vehicle_price
    if scheme == "intra_community":
        return _intra_community_draft(deal)
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
    return lines, *_payments_and_notes(deal, notes)


def _intra_community_draft(deal: Any) -> tuple[list[InvoiceLine], tuple[Deposit, ...], str]:
    """Every VAT-bearing amount charged net, category K (no VAT: Art. 138)."""
    from alko_desk.services.deal_calc import net_of_gross

    terms, figures = deal.terms, deal.figures
    rate = Decimal(terms.vat_rate)
    k = VatCategory.INTRA_COMMUNITY
    vehicle = net_of_gross(figures.vehicle_price, rate)
    lines = [InvoiceLine(deal.vehicle_title, Decimal(1), vehicle, k, Decimal(0), deal.vehicle_vin)]
    notes = []
    if figures.discount_total:
        notes.append(
            f"List price {figures.list_price} incl. VAT, discount {figures.discount_total}; "
            f"charged net of VAT {vehicle}."
        )
    for item in terms.items:
        if item.vat_applies:
            net = net_of_gross(item.amount.rounded(), rate)
            lines.append(InvoiceLine(item.description, Decimal(1), net, k, Decimal(0)))
        else:
            notes.append(
                f"{item.description}: {item.amount} paid on your behalf (disbursement, "
                "outside the taxable amount), payable with this invoice."
            )
    return lines, *_payments_and_notes(deal, notes)


def _payments_and_notes(deal: Any, notes: list[str]) -> tuple[tuple[Deposit, ...], str]:
    terms, figures = deal.terms, deal.figures
    deposits = ()
    if terms.deposit:
        # no reference: the invoice names the deal already, and the totals column is narrow
        deposits = (Deposit(terms.deposit, deal.created_at.date()),)
    if terms.trade_in is not None and figures.trade_in_equity:
        notes.append(
            f"Trade-in {terms.trade_in.description} (VIN {terms.trade_in.vin}): "
            f"{figures.trade_in_equity} credited as a payment."
        )
    if terms.financing is not None and figures.amount_financed:
        notes.append(f"{figures.amount_financed} financed by {terms.financing.lender}.")
    return deposits, " ".join(notes)


# ----------------------------------------------------------------------------- countries

# Client addresses keep the country as typed ("Hrvatska", "Deutschland", "HR"); an invoice
# needs ISO 3166-1 alpha-2 (EN 16931 BT-55). Names in English and in the countries' own
# languages, for the countries the showroom sells to; anything else must be a code.
_COUNTRY_NAMES = {
    "AT": ("austria", "osterreich"),
    "BA": ("bosnia and herzegovina", "bosna i hercegovina", "bih"),
    "BE": ("belgium", "belgique", "belgie"),
    "BG": ("bulgaria", "българия", "bulgarija"),
    "CH": ("switzerland", "schweiz", "suisse", "svizzera"),
    "CZ": ("czechia", "czech republic", "cesko", "ceska republika"),
    "DE": ("germany", "deutschland", "njemacka"),
    "DK": ("denmark", "danmark"),
    "EE": ("estonia", "eesti"),
    "ES": ("spain", "espana"),
    "FI": ("finland", "suomi"),
    "FR": ("france",),
    "GB": ("united kingdom", "uk", "great britain", "england", "scotland", "wales"),
    "GR": ("greece", "ellada", "ελλαδα"),
    "HR": ("croatia", "hrvatska", "republika hrvatska"),
    "HU": ("hungary", "magyarorszag"),
    "IE": ("ireland", "eire"),
    "IT": ("italy", "italia"),
    "LT": ("lithuania", "lietuva"),
    "LU": ("luxembourg",),
    "LV": ("latvia", "latvija"),
    "ME": ("montenegro", "crna gora"),
    "MK": ("north macedonia", "macedonia", "makedonija"),
    "NL": ("netherlands", "nederland", "the netherlands"),
    "PL": ("poland", "polska"),
    "PT": ("portugal",),
    "RO": ("romania",),
    "RS": ("serbia", "srbija", "србија"),
    "RU": ("russia", "russian federation", "россия", "rusija"),
    "SE": ("sweden", "sverige"),
    "SI": ("slovenia", "slovenija"),
    "SK": ("slovakia", "slovensko"),
    "UA": ("ukraine", "украина", "україна", "ukrajina"),
    "US": ("united states", "usa", "united states of america"),
}


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_BY_NAME = {_fold(name): code for code, names in _COUNTRY_NAMES.items() for name in names}


def country_code(text: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country as typed, or "" when it is not recognised."""
    folded = _fold(text)
    if len(folded) == 2 and folded.isascii() and folded.isalpha():
        return "GR" if folded == "el" else folded.upper()
    return _BY_NAME.get(folded, "")


def business_customer(buyer: Any, client: Any) -> Any:
    """The invoice's customer for a business buyer: the company, at its address or else at
    the client's (`client`: the client as a `Party`), with its VAT ID."""
    from alko_desk.models.invoices import Address, Party
    from alko_desk.services.business_buyer import compact_vat_id, vat_country

    if buyer.street.strip():
        country = country_code(buyer.country) if buyer.country.strip() else ""
        address = Address(
            buyer.street.strip(),
            buyer.city.strip(),
            buyer.postal_code.strip(),
            country or vat_country(buyer.vat_id),
        )
    else:
        address = client.address
    return Party(
        buyer.company.strip(),
        address,
        vat_id=compact_vat_id(buyer.vat_id),
        email=client.email,
        client_id=client.client_id,
    )


# ----------------------------------------------------------------------------- the adapter


class DealInvoiceSource:
    """`invoicing.DealSource` over the session's deal and client services."""

    def __init__(self, deals, clients, new_draft, clock) -> None:
        """`deals`: DealService; `clients`: ClientService; `new_draft`: the invoicing
        service's `new_draft` (supplier, bank and terms from Settings)."""
        self._deals = deals
        self._clients = clients
        self._new_draft = new_draft
        self._clock = clock

    def draft_for(self, deal_id: str):
        from alko_desk.models.deals import DealState
        from alko_desk.models.errors import NotFound, ValidationError
        from alko_desk.models.invoices import Address, Party

        deal_id = deal_id.strip()
        try:
            deal = self._deals.get(deal_id)
        except NotFound:
            raise NotFound(f"There is no deal {deal_id}.", hint="Check the deal ID.") from None
        if deal.state is DealState.INVOICED or deal.state is DealState.DELIVERED:
            raise ValidationError(
                f"Deal {deal.id} is already invoiced: {deal.invoice_number}.",
                {"deal": "Credit that invoice in full to invoice the deal again."},
            )
        if not self._deals.ready_to_invoice(deal):
            if deal.needs_approval:
                raise ValidationError(
                    f"Deal {deal.id} cannot be invoiced yet: its discount needs a manager's "
                    "approval first."
                )
            raise ValidationError(
                f"Deal {deal.id} is {deal.state.label.lower()}: only an approved deal (or a "
                "reserved one needing no approval) can be invoiced."
            )
        now = self._clock.now()
        if deal.reserved_until is not None and deal.reserved_until <= now:
            raise ValidationError(
                f"The reservation of deal {deal.id} has run out: reserve the vehicle again "
                "before invoicing."
            )
        name, address, email = self._clients.billing_details(deal.client_id)
        country = country_code(address.country)
        if not address.street.strip() or not country:
            raise ValidationError(
                f"The client of deal {deal.id} needs a full address to be invoiced.",
                {
                    "customer.address": "Enter the client's street, and the country as a name "
                    "or a two-letter code (e.g. HR), in the client's details."
                },
            )
        customer = Party(
            name,
            Address(address.street, address.city, address.postal_code, country),
            email=email,
            client_id=deal.client_id,
        )
        lines, deposits, notes = draft_from_deal(deal)
        buyer = deal.terms.business_buyer
        if buyer is not None:
            customer = business_customer(buyer, customer)
            notes = " ".join(part for part in (f"Contact: {name}.", notes) if part)
        supply = deal.delivery.day if deal.delivery else now.date()
        return self._new_draft(
            customer, lines, supply, deposits=deposits, deal_id=deal.id, notes=notes
        )

    def mark_invoiced(self, deal_id: str, invoice_number: str) -> None:
        from alko_desk.models.deals import DealState
        from alko_desk.models.errors import ConcurrentModification, NotFound

        for _ in range(5):
            try:
                deal = self._deals.get(deal_id)
            except NotFound:
                return  # an invoice that names no deal of this database (issued by hand)
            if deal.invoice_number == invoice_number and deal.state in (
                DealState.INVOICED,
                DealState.DELIVERED,
            ):
                return  # done before a crash, or by another desk's recovery
            try:
                self._deals.mark_invoiced(deal, invoice_number)
                return
            except ConcurrentModification:
                continue  # the deal was saved meanwhile (a delivery planned): read it again
        raise ConcurrentModification(f"Deal {deal_id} keeps changing; please try again.")

    def invoice_credited(self, deal_id: str, invoice_number: str, credit_note: str) -> None:
        from alko_desk.models.errors import ConcurrentModification

        for _ in range(5):
            try:
                self._deals.invoice_credited(self._deals.get(deal_id), invoice_number, credit_note)
                return
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"Deal {deal_id} keeps changing; please try again.")
