"""Invoices, credit notes and payments: plain domain types.

An `InvoiceDraft` is everything an invoice says before it has a number: the supplier
(from the company profile), the customer, the lines and the VAT treatment. Issuing
gives it a number in a series and turns it into an `Invoice`, which never changes
again; corrections are credit notes (their own `Invoice` of kind CREDIT_NOTE that
refers to the original). What was paid lives in `Payment` records beside it.

The fields follow Article 226 of Council Directive 2006/112/EC (the EU VAT
Directive): see `ARTICLE_226_FIELDS` for where each requirement is met.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from alko_desk.models.errors import AlkoError
from alko_desk.models.money import Money

# Article 226 of Directive 2006/112/EC, point by point, and the field that carries it.
ARTICLE_226_FIELDS = {
    "(1) date of issue": "Invoice.issue_date",
    "(2) sequential number in one or more series": "Invoice.number (series + sequence)",
    "(3) supplier's VAT identification number": "InvoiceDraft.supplier.vat_id",
    "(4) customer's VAT ID (intra-community supply, reverse charge)": "InvoiceDraft.customer.vat_id",
    "(5) full name and address of supplier and customer": "Party.name, Party.address",
    "(6) quantity and nature of the goods (vehicle with VIN)": "InvoiceLine.description, .vin, .quantity",
    "(7) date of supply": "InvoiceDraft.supply_date",
    "(7a) date of a payment on account (deposit)": "Deposit.received_on",
    "(8) taxable amount per rate, unit price exclusive of VAT, discounts": "VatBreakdown.taxable, InvoiceLine.unit_price",
    "(9) VAT rate applied": "VatBreakdown.rate",
    "(10) VAT amount payable": "VatBreakdown.vat, InvoiceTotals.vat",
    "(11) exemption reference": "VatCategory.exemption_text",
    "(14) margin scheme for second-hand goods": "VatCategory.MARGIN_SCHEME.exemption_text",
}


class VatCategory(enum.Enum):
    """The VAT treatment of a line. `code` is the EN 16931 category (UNCL5305)."""

    STANDARD = "S"
    EXEMPT = "E"
    INTRA_COMMUNITY = "K"
    MARGIN_SCHEME = "margin"

    @property
    def code(self) -> str:
        # EN 16931 has no category of its own for the margin scheme: it is exempt (E)
        # with exemption reason VATEX-EU-F (second-hand goods).
        return "E" if self is VatCategory.MARGIN_SCHEME else self.value

    @property
    def label(self) -> str:
        return {
            VatCategory.STANDARD: "Standard rate",
            VatCategory.EXEMPT: "Exempt",
            VatCategory.INTRA_COMMUNITY: "Intra-community supply",
            VatCategory.MARGIN_SCHEME: "Margin scheme",
        }[self]

    @property
    def charges_vat(self) -> bool:
        return self is VatCategory.STANDARD

    @property
    def exemption_code(self) -> str:
        return {
            VatCategory.EXEMPT: "VATEX-EU-132",
            VatCategory.INTRA_COMMUNITY: "VATEX-EU-IC",
            VatCategory.MARGIN_SCHEME: "VATEX-EU-F",
        }.get(self, "")

    @property
    def exemption_text(self) -> str:
        """The wording Article 226 (11) and (14) require on the invoice."""
        return {
            VatCategory.EXEMPT: "Exempt from VAT (Article 132 of Directive 2006/112/EC)",
            VatCategory.INTRA_COMMUNITY: "Intra-community supply — reverse charge/exempt, "
            "Art. 138 Directive 2006/112/EC",
            VatCategory.MARGIN_SCHEME: "Margin scheme - Second-hand goods "
            "(Article 313 of Directive 2006/112/EC)",
        }.get(self, "")


class DocumentKind(enum.Enum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def type_code(self) -> str:
        """UNTDID 1001: 380 commercial invoice, 381 credit note."""
        return "380" if self is DocumentKind.INVOICE else "381"

    @property
    def title(self) -> str:
        return "Invoice" if self is DocumentKind.INVOICE else "Credit note"


class InvoiceStatus(enum.Enum):
    OPEN = "open"
    PARTLY_PAID = "partly paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CREDITED = "credited"

    @property
    def label(self) -> str:
        """As lists show it ("Partly paid"), like the other entities' states."""
        return self.value.capitalize()


class PaymentMethod(enum.Enum):
    CASH = "cash"
    CARD = "card"
    BANK_TRANSFER = "bank transfer"
    FINANCING_PAYOUT = "financing payout"
    TRADE_IN_CREDIT = "trade-in credit"

    @property
    def means_code(self) -> str:
        """UNTDID 4461 payment means code, for the e-invoice."""
        return {
            PaymentMethod.CASH: "10",
            PaymentMethod.CARD: "48",
            PaymentMethod.BANK_TRANSFER: "58",
            PaymentMethod.FINANCING_PAYOUT: "30",
            PaymentMethod.TRADE_IN_CREDIT: "97",
        }[self]

    @classmethod
    def parse(cls, text: str) -> PaymentMethod:
        wanted = text.strip().lower().replace("_", " ").replace("-", " ")
        for method in cls:
            if (
                method.value.replace("-", " ") == wanted
                or method.name.lower().replace("_", " ") == wanted
            ):
                return method
        raise ValueError(text)


class PaymentKind(enum.Enum):
    PAYMENT = "payment"  # money received against an invoice
    OVERPAYMENT = "overpayment"  # received beyond the balance, entered explicitly
    REFUND = "refund"  # money paid back to the customer, against a credit note


@dataclass(frozen=True)
class Address:
    street: str
    city: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2

    def lines(self) -> list[str]:
        town = " ".join(p for p in (self.postcode, self.city) if p)
        return [p for p in (self.street, town, self.country) if p]

    def one_line(self) -> str:
        return ", ".join(self.lines())


@dataclass(frozen=True)
class Party:
    name: str
    address: Address
    vat_id: str = ""
    email: str = ""
    client_id: str = ""  # the client record behind a customer, when there is one

    @property
    def country(self) -> str:
        return self.address.country


@dataclass(frozen=True)
class BankDetails:
    iban: str
    bic: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Money  # exclusive of VAT (for the margin scheme: the price, VAT inside it)
    vat_category: VatCategory
    vat_rate: Decimal  # percent; 0 for every category but STANDARD
    vin: str = ""

    @property
    def net(self) -> Money:
        return (self.unit_price * self.quantity).rounded()

    @property
    def text(self) -> str:
        return f"{self.description}, VIN {self.vin}" if self.vin else self.description


@dataclass(frozen=True)
class Deposit:
    """A payment on account received before the invoice (Art. 226 (7a))."""

    amount: Money  # VAT included
    received_on: date
    reference: str = ""


@dataclass(frozen=True)
class InvoiceDraft:
    supplier: Party
    customer: Party
    lines: tuple[InvoiceLine, ...]
    supply_date: date
    currency: str = "EUR"
    deposits: tuple[Deposit, ...] = ()
    bank: BankDetails | None = None
    payment_terms_days: int = 8
    deal_id: str = ""
    notes: str = ""

    def totals(self) -> InvoiceTotals:
        return compute_totals(self.lines, self.currency, self.deposits)


@dataclass(frozen=True)
class VatBreakdown:
    category: VatCategory
    rate: Decimal
    taxable: Money
    vat: Money


@dataclass(frozen=True)
class InvoiceTotals:
    lines_net: Money
    taxable: Money
    vat: Money
    gross: Money
    prepaid: Money
    due: Money
    breakdown: tuple[VatBreakdown, ...]


def compute_totals(
    lines: tuple[InvoiceLine, ...] | list[InvoiceLine],
    currency: str,
    deposits: tuple[Deposit, ...] = (),
) -> InvoiceTotals:
    """Taxable amount and VAT per category and rate, VAT rounded per group (EN 16931 BR-CO-17)."""
    groups: dict[tuple[VatCategory, Decimal], Money] = {}
    for line in lines:
        key = (line.vat_category, line.vat_rate if line.vat_category.charges_vat else Decimal(0))
        groups[key] = groups.get(key, Money.zero(currency)) + line.net
    breakdown = []
    for (category, rate), taxable in sorted(
        groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1])
    ):
        vat = (taxable * (rate / Decimal(100))).rounded()
        breakdown.append(VatBreakdown(category, rate, taxable.rounded(), vat))
    zero = Money.zero(currency)
    net = sum((b.taxable for b in breakdown), zero)
    vat = sum((b.vat for b in breakdown), zero)
    prepaid = sum((d.amount for d in deposits), zero).rounded()
    gross = net + vat
    return InvoiceTotals(net, net, vat, gross, prepaid, gross - prepaid, tuple(breakdown))


@dataclass(frozen=True)
class InvoiceRef:
    """The invoice a credit note corrects (EN 16931 BT-25/BT-26)."""

    number: str
    issue_date: date


@dataclass(frozen=True)
class Invoice:
    """An issued invoice or credit note. Immutable: corrections are new credit notes."""

    number: str
    series: str
    sequence: int
    kind: DocumentKind
    issue_date: date
    due_date: date
    draft: InvoiceDraft
    totals: InvoiceTotals
    issued_by: str
    issued_at: datetime
    corrects: InvoiceRef | None = None  # credit notes only
    reason: str = ""  # credit notes only
    pdf_sha256: str = ""  # empty until the PDF is stored (a crash in between is completed)

    @property
    def currency(self) -> str:
        return self.draft.currency

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


@dataclass(frozen=True)
class Payment:
    id: str
    invoice_number: str  # for a refund: the credit note's number
    kind: PaymentKind
    method: PaymentMethod
    amount: Money  # always positive
    paid_on: date
    reference: str
    recorded_by: str
    recorded_at: datetime
    credit_note: str = ""  # refunds: the credit note that gave the customer money back


@dataclass(frozen=True)
class InvoiceAccount:
    """An invoice with what was credited, paid and refunded against it, on a given day."""

    invoice: Invoice
    credited: Money
    paid: Money
    refunded: Money
    status: InvoiceStatus
    payments: tuple[Payment, ...] = field(default=())
    credit_notes: tuple[str, ...] = field(default=())

    @property
    def owed(self) -> Money:
        """What the customer owes in all: the amount due less credit notes."""
        return self.invoice.totals.due - self.credited

    @property
    def balance(self) -> Money:
        """Still to pay; negative when the customer has money to get back."""
        return self.owed - self.paid + self.refunded


def account_status(
    invoice: Invoice, credited: Money, paid: Money, refunded: Money, today: date
) -> InvoiceStatus:
    totals = invoice.totals
    if credited and credited >= totals.gross:
        return InvoiceStatus.CREDITED
    balance = totals.due - credited - paid + refunded
    if balance.amount <= 0:
        return InvoiceStatus.PAID
    if today > invoice.due_date:
        return InvoiceStatus.OVERDUE
    if paid:
        return InvoiceStatus.PARTLY_PAID
    return InvoiceStatus.OPEN


@dataclass(frozen=True)
class InvoiceSettings:
    """How invoices are numbered and what they print besides the company profile."""

    invoice_series: str = "ALKO-{year}"  # {year} is the year of issue
    credit_note_series: str = "ALKO-CN-{year}"
    digits: int = 6
    payment_terms_days: int = 8
    bic: str = ""
    bank_name: str = ""
    logo_path: str = ""  # a PNG or JPEG printed at the top; none when empty

    def series_for(self, kind: DocumentKind, year: int) -> str:
        pattern = self.invoice_series if kind is DocumentKind.INVOICE else self.credit_note_series
        return pattern.replace("{year}", str(year))

    def number(self, series: str, sequence: int) -> str:
        return f"{series}-{sequence:0{self.digits}d}"


def credit_lines(original: Invoice, amount: Money | None, reason: str) -> tuple[InvoiceLine, ...]:
    """The lines of a credit note for `amount` (VAT included) of `original`; None: all of it.

    A full credit repeats the original lines. A partial one credits each VAT group of the
    original in proportion to its gross amount, so the VAT taken back matches the VAT charged.
    """
    if amount is None:
        return original.draft.lines
    groups = [g for g in original.totals.breakdown if g.taxable]
    weights = [(g.taxable + g.vat).amount for g in groups]
    shares = amount.allocate(weights)
    lines = []
    for group, gross in zip(groups, shares, strict=True):
        if not gross:
            continue
        net = (gross * (Decimal(100) / (Decimal(100) + group.rate))).rounded()
        vins = ", ".join(
            sorted(
                {
                    ln.vin
                    for ln in original.draft.lines
                    if ln.vat_category is group.category and ln.vin
                }
            )
        )
        lines.append(
            InvoiceLine(
                f"Partial credit of invoice {original.number}: {reason}",
                Decimal(1),
                net,
                group.category,
                group.rate,
                vins,
            )
        )
    return tuple(lines)


@dataclass(frozen=True)
class InvoiceRequest:
    """Sales asking finance to invoice a deal."""

    deal_id: str
    note: str
    requested_by: str
    requested_at: datetime


class DocumentTampered(AlkoError):
    """A stored PDF whose bytes no longer match the SHA-256 recorded when it was issued."""


@dataclass(frozen=True)
class InvoiceRow:
    """One row of the invoice list, as the list index keeps it (figures as of the last write;
    `status` becomes overdue when read after the due date)."""

    id: str  # the number
    kind: DocumentKind
    issue_date: date
    due_date: date
    customer: str
    deal_id: str
    gross: Money
    paid: Money
    balance: Money
    status: InvoiceStatus
    corrects: str = ""  # a credit note: the invoice it corrects
    # How many payments and credit notes the figures include: the list keeps the row with
    # the most (two desks writing it at once, the one that read less loses).
    version: int | None = field(default=None, compare=False)

    @property
    def number(self) -> str:
        return self.id

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE

    @property
    def currency(self) -> str:
        return self.gross.currency


@dataclass(frozen=True)
class PaymentRow:
    """One row of the payments list."""

    id: str  # invoice number + "/" + entry
    invoice_number: str
    kind: PaymentKind
    method: PaymentMethod
    amount: Money
    paid_on: date
    reference: str = ""
    credit_note: str = ""
