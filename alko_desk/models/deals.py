"""Deals: a client, a vehicle, the terms of the sale, and its way to delivery.

`DealTerms` holds every input of the arithmetic (prices are copied into it when the deal is
made), so every figure of a deal is reproducible from the deal document alone:
`services.deal_calc.compute(deal.terms)` gives `deal.figures` again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from alko_desk.models.money import Money
from alko_desk.models.vehicles import Condition


class DealState(enum.Enum):
    """draft → reserved → approved (when needed) → invoiced → delivered; or cancelled."""

    DRAFT = "draft"
    RESERVED = "reserved"
    APPROVED = "approved"
    INVOICED = "invoiced"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def open(self) -> bool:
        return self not in (DealState.DELIVERED, DealState.CANCELLED)


class DiscountKind(enum.Enum):
    AMOUNT = "amount"
    PERCENT = "percent"  # of the vehicle's list price


@dataclass(frozen=True)
class Discount:
    kind: DiscountKind
    value: Decimal  # an amount in the deal's currency, or a percentage (10 = 10 %)
    description: str = ""


class ItemKind(enum.Enum):
    ACCESSORY = "accessory"
    FEE = "fee"  # registration, delivery, ...


@dataclass(frozen=True)
class LineItem:
    kind: ItemKind
    description: str
    amount: Money  # gross (VAT included where it applies)
    # A registration fee paid on the buyer's behalf is a disbursement, outside VAT.
    vat_applies: bool = True


@dataclass(frozen=True)
class TradeIn:
    """The client's car, taken in part exchange."""

    vin: str
    description: str
    mileage_km: int
    appraised_value: Money
    outstanding_loan: Money  # the dealer settles it; it comes off the trade-in's credit


@dataclass(frozen=True)
class Financing:
    lender: str
    amount: Money  # amount financed, paid to the dealer by the lender
    term_months: int
    annual_rate: Decimal  # nominal, percent per year (6.9 = 6.9 %)


class VatScheme(enum.Enum):
    STANDARD = "standard"
    MARGIN = "margin"  # EU margin scheme for second-hand goods: VAT on the margin only
    # to a business registered for VAT in another EU member state: no VAT (Art. 138)
    INTRA_COMMUNITY = "intra_community"

    @property
    def label(self) -> str:
        return {
            VatScheme.STANDARD: "Standard VAT",
            VatScheme.MARGIN: "Margin scheme",
            VatScheme.INTRA_COMMUNITY: "Intra-community supply (no VAT)",
        }[self]


@dataclass(frozen=True)
class BusinessBuyer:
    """A company buying through the deal's client (who stays the contact person).

    The address is the company's; left empty (no street), the invoice uses the client's.
    The country is as typed (a name or a two-letter code); empty, it is the VAT ID's."""

    company: str
    vat_id: str  # with its country prefix, e.g. DE136695976
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""

    @property
    def vat_country(self) -> str:
        """The VAT ID's prefix as an ISO country code (Greek VAT IDs start with EL)."""
        prefix = "".join(self.vat_id.split()).upper()[:2]
        return "GR" if prefix == "EL" else prefix


@dataclass(frozen=True)
class DealTerms:
    """Every input of a deal's arithmetic. Prices are gross: VAT included, as shown to buyers."""

    currency: str
    list_price: Money
    vat_rate: Decimal  # percent, from Settings when the deal was made
    condition: Condition = Condition.NEW
    purchase_cost: Money | None = None  # the dealer's cost, for the margin scheme
    acquired_without_vat: bool = False
    prefer_standard_vat: bool = False  # the dealer may opt out of the margin scheme
    discounts: tuple[Discount, ...] = ()
    items: tuple[LineItem, ...] = ()
    trade_in: TradeIn | None = None
    deposit: Money | None = None
    financing: Financing | None = None
    business_buyer: BusinessBuyer | None = None
    # the dealer's own country (ISO code, from Settings when the deal was made), kept with a
    # business buyer so that the intra-community test is reproducible from the deal alone
    seller_country: str = ""


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    taxable_gross: Money
    net: Money
    vat: Money


@dataclass(frozen=True)
class DealFigures:
    """What the deal builder shows; all rounded to the currency's minor unit."""

    list_price: Money
    discount_total: Money
    discount_percent: Decimal  # of the list price, for the approval threshold
    vehicle_price: Money  # list price less discounts
    accessories_total: Money
    fees_total: Money
    total_price: Money  # what the buyer pays for everything, VAT included
    scheme: VatScheme
    scheme_reason: str
    vat_shown: VatLine  # the VAT shown to the buyer (under the margin scheme: the extras only)
    margin: Money | None  # margin scheme: vehicle price less purchase cost
    vat_on_margin: Money | None  # margin scheme: for the dealer's books, never shown to the buyer
    trade_in_value: Money
    trade_in_loan: Money
    trade_in_equity: Money  # value less loan; negative equity adds to what is due
    deposit: Money
    amount_financed: Money
    monthly_payment: Money | None
    total_of_payments: Money | None
    cost_of_credit: Money | None
    balance_due: Money  # total price − trade-in equity − deposit − amount financed
    problems: tuple[str, ...] = ()
    # intra-community supply: the VAT contained in the gross prices, taken off (else None)
    vat_not_charged: Money | None = None


class ApprovalStatus(enum.Enum):
    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Approval:
    status: ApprovalStatus = ApprovalStatus.NOT_NEEDED
    by: str = ""
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class DeliverySchedule:
    day: date
    at: time
    place: str
    staff: str  # username of the staff member handing over


@dataclass(frozen=True)
class HandoverChecklist:
    documents: bool = False  # registration papers, certificate of conformity, service book
    keys: int = 0  # number of keys handed over
    plates: bool = False
    fuel_level_percent: int = 0
    mileage_km: int = 0
    damage_notes: str = ""
    completed_by: str = ""
    completed_at: datetime | None = None

    def missing(self) -> list[str]:
        """What still stops the handover, in words for the user."""
        out = []
        if not self.documents:
            out.append("the vehicle documents")
        if self.keys < 1:
            out.append("at least one key")
        if not self.plates:
            out.append("the plates")
        if not (0 <= self.fuel_level_percent <= 100):
            out.append("a fuel level between 0 and 100 %")
        if self.mileage_km <= 0:
            out.append("the mileage at handover")
        return out


@dataclass(frozen=True)
class DealDraft:
    """What the deal builder sends to be saved."""

    client_id: str
    vehicle_id: str
    discounts: tuple[Discount, ...] = ()
    items: tuple[LineItem, ...] = ()
    trade_in: TradeIn | None = None
    deposit: Money | None = None
    financing: Financing | None = None
    prefer_standard_vat: bool = False
    notes: str = ""
    business_buyer: BusinessBuyer | None = None


@dataclass(frozen=True)
class Deal:
    id: str
    client_id: str
    vehicle_id: str
    vehicle_vin: str
    vehicle_title: str
    state: DealState
    terms: DealTerms
    figures: DealFigures
    salesperson: str
    created_at: datetime
    updated_at: datetime
    rev: int = 1
    approval: Approval = field(default_factory=Approval)
    reserved_until: datetime | None = None
    delivery: DeliverySchedule | None = None
    checklist: HandoverChecklist | None = None
    invoice_number: str = ""
    cancel_reason: str = ""
    notes: str = ""
    history: tuple[tuple[datetime, str, str], ...] = ()  # (when, who, what) for the detail panel

    @property
    def needs_approval(self) -> bool:
        return self.approval.status in (ApprovalStatus.PENDING, ApprovalStatus.REJECTED)


@dataclass(frozen=True)
class DealSettings:
    """Organisation-wide rules for deals (admins change them in Settings)."""

    reservation_days: int = 7
    approval_discount_percent: Decimal = Decimal(5)  # a discount above this needs a manager


@dataclass(frozen=True)
class DealFilter:
    state: DealState | None = None
    client_id: str = ""
    vehicle_id: str = ""
    salesperson: str = ""
    pending_approval: bool = False

    def matches(self, deal: Deal) -> bool:
        """The one definition of the filters (the list index applies the same)."""
        return self.matches_fields(deal_list_fields(deal))

    def matches_fields(self, fields: list) -> bool:
        """The filters over `deal_list_fields(deal)` (what the list index keeps per deal)."""
        state, client_id, vehicle_id, salesperson, approval = fields
        if self.state is not None and state != self.state.value:
            return False
        if self.client_id and client_id != self.client_id:
            return False
        if self.vehicle_id and vehicle_id != self.vehicle_id:
            return False
        if self.salesperson and salesperson != self.salesperson:
            return False
        return not (self.pending_approval and approval != ApprovalStatus.PENDING.value)


def deal_list_fields(deal: Deal) -> list:
    """The values the deal filters read, JSON-friendly: kept by the list index per deal."""
    return [
        deal.state.value,
        deal.client_id,
        deal.vehicle_id,
        deal.salesperson,
        deal.approval.status.value,
    ]


class DealSort(enum.Enum):
    """The orders the deal list offers; newest first is the default (descending)."""

    CREATED = "created"
    STATE = "state"  # in the order of the deal's life, newest first within a state
    APPROVAL = "approval"  # pending approvals together
    TOTAL = "total"
    VEHICLE = "vehicle"
