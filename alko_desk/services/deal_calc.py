"""The arithmetic of a deal: pure, fast (well under 5 ms), and reproducible from `DealTerms`.

Conventions (each one a choice a buyer can check on paper):
- Prices are gross, VAT included, as EU consumer prices are shown.
- Every figure is rounded to the currency's minor unit (ROUND_HALF_UP) once, where it is
  made; sums and differences of rounded figures are exact, so the balance due equals the
  figures shown above it to the last cent.
- A percentage discount is a percentage of the vehicle's list price; several discounts add
  up (they do not compound).
- Standard VAT: the VAT contained in a gross amount is gross × rate / (100 + rate), rounded;
  net = gross − VAT, so net + VAT = gross exactly.
- EU margin scheme (Directive 2006/112/EC, articles 311-325; Croatian VAT Act art. 94-96):
  for a used car bought without deductible VAT, VAT is due only on the margin (sale price
  less purchase price), computed the same way from the gross margin, never on a negative
  margin, and not shown to the buyer. Accessories and taxable fees are standard-rated.
- Trade-in equity = appraised value − outstanding loan (the dealer settles the loan);
  negative equity adds to what the buyer owes.
- Financing: monthly payment by the annuity formula P·i / (1 − (1 + i)^−n), i = annual
  rate / 12, rounded to the minor unit; total of payments = payment × n; cost of credit =
  total of payments − amount financed.
- Balance due = total price − trade-in equity − deposit − amount financed.
- Business buyer (`DealTerms.business_buyer`): a company, with an EU VAT ID. Registered in
  another EU member state than the dealer (`DealTerms.seller_country`), the sale is an
  intra-community supply: no VAT is charged (EN 16931 category K, VATEX-EU-IC; Art. 138 of
  Directive 2006/112/EC), unless the car goes under the margin scheme, whose rules win
  (Art. 139(3): a margin-scheme sale is not exempt as intra-community). The prices typed and
  listed stay what they are everywhere else, gross with VAT; for a K supply the buyer pays
  the net price: each VAT-bearing amount (the vehicle price after discounts, each accessory
  and taxable fee) less the VAT it contains, computed as for standard VAT and shown as
  "VAT not charged". A disbursement is charged as it is. A business buyer in the dealer's
  own country pays standard VAT as anyone does; the invoice prints its VAT ID.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

from alko_desk.models.deals import (
    DealFigures,
    DealTerms,
    DiscountKind,
    ItemKind,
    VatLine,
    VatScheme,
)
from alko_desk.models.money import Money
from alko_desk.models.vehicles import Condition
from alko_desk.services.business_buyer import compact_vat_id, is_intra_community, vat_country

HUNDRED = Decimal(100)


def _round(currency: str, amount: Decimal) -> Money:
    return Money(amount, currency).rounded()


def vat_in_gross(gross: Money, rate: Decimal) -> Money:
    """The VAT contained in a gross amount, rounded."""
    if rate <= 0:
        return Money.zero(gross.currency)
    return _round(gross.currency, gross.amount * rate / (HUNDRED + rate))


def monthly_payment(principal: Money, annual_rate_percent: Decimal, months: int) -> Money:
    """The standard annuity: equal monthly payments that repay `principal` in `months`."""
    if months <= 0:
        raise ValueError("the term must be at least one month")
    if principal.amount <= 0:
        return Money.zero(principal.currency)
    if annual_rate_percent == 0:
        return _round(principal.currency, principal.amount / months)
    with localcontext() as ctx:
        ctx.prec = 34
        i = annual_rate_percent / HUNDRED / 12
        factor = (1 + i) ** months
        payment = principal.amount * i * factor / (factor - 1)
    return _round(principal.currency, payment)


def net_of_gross(gross: Money, rate: Decimal) -> Money:
    """A gross amount less the VAT it contains (what a buyer pays who is charged no VAT)."""
    return gross - vat_in_gross(gross, rate)


def choose_scheme(terms: DealTerms) -> tuple[VatScheme, str]:
    """Which VAT scheme applies, and why, in words for the deal screen."""
    scheme, reason = _scheme_for_the_car(terms)
    buyer = terms.business_buyer
    if buyer is None:
        return scheme, reason
    vat_id, country = compact_vat_id(buyer.vat_id), vat_country(buyer.vat_id)
    if not vat_id or not country:  # not typed yet (the builder shows the reason live)
        return (
            scheme,
            f"{reason} The buyer is a business: its VAT ID decides whether VAT is charged.",
        )
    intra = is_intra_community(buyer, terms.seller_country)
    if scheme is VatScheme.MARGIN:
        if intra:
            return scheme, (
                f"{reason} The buyer's VAT ID {vat_id} ({country}) is printed; a sale under "
                "the margin scheme is not an intra-community supply (Directive 2006/112/EC "
                "art. 139(3)), so the margin scheme's rules apply."
            )
        return scheme, f"{reason} The buyer's VAT ID {vat_id} is printed on the invoice."
    if intra:
        return VatScheme.INTRA_COMMUNITY, (
            f"Intra-community supply: the buyer is a business registered for VAT in {country} "
            f"({vat_id}), another EU country than ours ({terms.seller_country}), so no VAT is "
            "charged (category K, Art. 138 Directive 2006/112/EC; the buyer accounts for the "
            "VAT in its country). The prices are gross: the VAT they contain is taken off, and "
            "the buyer pays the net price."
        )
    return scheme, (
        f"{reason} The buyer is a business in {country}: its VAT ID {vat_id} is printed on "
        "the invoice."
    )


def _scheme_for_the_car(terms: DealTerms) -> tuple[VatScheme, str]:
    if terms.condition is Condition.NEW:
        return VatScheme.STANDARD, "A new vehicle is always sold with standard VAT."
    if not terms.acquired_without_vat:
        return (
            VatScheme.STANDARD,
            "Standard VAT: this used vehicle was bought with deductible VAT (from a "
            "VAT-registered business), so the margin scheme cannot apply.",
        )
    if terms.purchase_cost is None:
        return (
            VatScheme.STANDARD,
            "Standard VAT: the purchase price is not recorded, and the margin scheme needs it.",
        )
    if terms.prefer_standard_vat:
        return (
            VatScheme.STANDARD,
            "Standard VAT, chosen for this deal instead of the margin scheme.",
        )
    return (
        VatScheme.MARGIN,
        "Margin scheme: a used vehicle bought without deductible VAT (from a private person "
        "or under the margin scheme). VAT is due on the margin only and is not shown on the "
        "invoice (Directive 2006/112/EC art. 311-325).",
    )


def compute(terms: DealTerms) -> DealFigures:
    cur = terms.currency
    zero = Money.zero(cur)
    list_price = terms.list_price.rounded()
    problems: list[str] = []

    discount_total = zero
    for d in terms.discounts:
        if d.kind is DiscountKind.PERCENT:
            discount_total += _round(cur, list_price.amount * d.value / HUNDRED)
        else:
            discount_total += _round(cur, d.value)
    if discount_total < zero:
        problems.append("A discount cannot be negative.")
    if discount_total > list_price:
        problems.append("The discounts are larger than the list price.")
        discount_total = list_price
    vehicle_price = list_price - discount_total
    discount_percent = (
        (discount_total.amount * HUNDRED / list_price.amount).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        if list_price.amount
        else Decimal(0)
    )

    accessories = sum(
        (i.amount.rounded() for i in terms.items if i.kind is ItemKind.ACCESSORY), zero
    )
    fees = sum((i.amount.rounded() for i in terms.items if i.kind is ItemKind.FEE), zero)
    taxable_extras = sum((i.amount.rounded() for i in terms.items if i.vat_applies), zero)
    total_price = vehicle_price + accessories + fees

    scheme, reason = choose_scheme(terms)
    margin = vat_on_margin = None
    if scheme is VatScheme.MARGIN:
        assert terms.purchase_cost is not None
        margin = vehicle_price - terms.purchase_cost.rounded()
        vat_on_margin = vat_in_gross(margin, terms.vat_rate) if margin > zero else zero
        shown_gross = taxable_extras
    else:
        shown_gross = vehicle_price + taxable_extras
    shown_vat = vat_in_gross(shown_gross, terms.vat_rate)
    vat_line = VatLine(terms.vat_rate, shown_gross, shown_gross - shown_vat, shown_vat)
    vat_not_charged = None
    if scheme is VatScheme.INTRA_COMMUNITY:
        # per amount, as the invoice lines take it off (services/deal_invoicing.py)
        taxed = [vehicle_price] + [i.amount.rounded() for i in terms.items if i.vat_applies]
        vat_not_charged = sum((vat_in_gross(g, terms.vat_rate) for g in taxed), zero)
        total_price -= vat_not_charged
        net = shown_gross - vat_not_charged
        vat_line = VatLine(Decimal(0), net, net, zero)

    if terms.trade_in:
        trade_value = terms.trade_in.appraised_value.rounded()
        trade_loan = terms.trade_in.outstanding_loan.rounded()
    else:
        trade_value = trade_loan = zero
    equity = trade_value - trade_loan
    deposit = terms.deposit.rounded() if terms.deposit else zero

    payment = total_payments = cost_of_credit = None
    financed = zero
    if terms.financing:
        f = terms.financing
        financed = f.amount.rounded()
        if f.term_months < 1:
            problems.append("The financing term must be at least one month.")
        elif financed > zero:
            payment = monthly_payment(financed, f.annual_rate, f.term_months)
            total_payments = payment * f.term_months
            cost_of_credit = total_payments - financed
        if f.annual_rate < 0:
            problems.append("The interest rate cannot be negative.")

    # Each of these is typed as an amount the buyer gets or pays; a minus sign is a slip that
    # would move the balance the other way unnoticed (and the invoice refuses it later).
    negative = [
        what
        for amount, what in (
            (trade_value, "the trade-in's appraised value"),
            (trade_loan, "the trade-in's outstanding loan"),
            (deposit, "the deposit"),
            (financed, "the amount financed"),
        )
        if amount < zero
    ]
    if any(i.amount < zero for i in terms.items):
        negative.insert(0, "an accessory or fee")
    problems.extend(f"{what[0].upper()}{what[1:]} cannot be negative." for what in negative)

    balance = total_price - equity - deposit - financed
    if balance < zero:
        problems.append(
            f"The trade-in, deposit and financing come to more than the price, by {-balance}."
        )
    return DealFigures(
        list_price=list_price,
        discount_total=discount_total,
        discount_percent=discount_percent,
        vehicle_price=vehicle_price,
        accessories_total=accessories,
        fees_total=fees,
        total_price=total_price,
        scheme=scheme,
        scheme_reason=reason,
        vat_shown=vat_line,
        margin=margin,
        vat_on_margin=vat_on_margin,
        trade_in_value=trade_value,
        trade_in_loan=trade_loan,
        trade_in_equity=equity,
        deposit=deposit,
        amount_financed=financed,
        monthly_payment=payment,
        total_of_payments=total_payments,
        cost_of_credit=cost_of_credit,
        balance_due=balance,
        problems=tuple(problems),
        vat_not_charged=vat_not_charged,
    )
