"""Deal arithmetic: hand-computed cases and properties of the rounding."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from alko_desk.models.deals import (
    DealTerms,
    Discount,
    DiscountKind,
    Financing,
    ItemKind,
    LineItem,
    TradeIn,
    VatScheme,
)
from alko_desk.models.money import Money
from alko_desk.models.vehicles import Condition
from alko_desk.services.deal_calc import compute, monthly_payment


def eur(x: str) -> Money:
    return Money.of(x)


def test_new_car_with_discounts_trade_in_deposit_financing_and_vat():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("30000.00"),
        vat_rate=Decimal(25),
        condition=Condition.NEW,
        discounts=(
            Discount(DiscountKind.PERCENT, Decimal(5), "showroom"),  # 1,500.00
            Discount(DiscountKind.AMOUNT, Decimal(250), "loyalty"),
        ),
        items=(
            LineItem(ItemKind.ACCESSORY, "Floor mats", eur("150.00")),
            LineItem(ItemKind.FEE, "Delivery", eur("300.00")),
            LineItem(ItemKind.FEE, "Registration", eur("120.00"), vat_applies=False),
        ),
        trade_in=TradeIn("WVWZZZ1JZXW000001", "VW Golf IV", 210000, eur("8000"), eur("2500")),
        deposit=eur("1000"),
        financing=Financing("Erste Leasing", eur("15000"), 60, Decimal("6.9")),
    )
    f = compute(terms)
    assert f.discount_total == eur("1750.00")
    assert f.discount_percent == Decimal("5.83")
    assert f.vehicle_price == eur("28250.00")
    assert f.accessories_total == eur("150.00")
    assert f.fees_total == eur("420.00")
    assert f.total_price == eur("28820.00")
    assert f.scheme is VatScheme.STANDARD
    # 28,250 + 150 + 300 taxable = 28,700; VAT = 28,700 × 25 / 125 = 5,740
    assert f.vat_shown.taxable_gross == eur("28700.00")
    assert f.vat_shown.vat == eur("5740.00")
    assert f.vat_shown.net == eur("22960.00")
    assert f.trade_in_equity == eur("5500.00")
    # i = 0.069 / 12 = 0.00575; 15,000 × i × 1.00575^60 / (1.00575^60 − 1) = 296.31
    assert f.monthly_payment == eur("296.31")
    assert f.total_of_payments == eur("17778.60")
    assert f.cost_of_credit == eur("2778.60")
    # 28,820 − 5,500 − 1,000 − 15,000
    assert f.balance_due == eur("7320.00")
    assert f.problems == ()


def test_used_car_bought_from_a_private_person_goes_under_the_margin_scheme():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("12990.00"),
        vat_rate=Decimal(25),
        condition=Condition.USED,
        purchase_cost=eur("9500.00"),
        acquired_without_vat=True,
        discounts=(Discount(DiscountKind.AMOUNT, Decimal(490)),),
        items=(LineItem(ItemKind.FEE, "Registration", eur("150.00"), vat_applies=False),),
        deposit=eur("650"),
    )
    f = compute(terms)
    assert f.scheme is VatScheme.MARGIN
    assert "margin" in f.scheme_reason.casefold()
    assert f.vehicle_price == eur("12500.00")
    assert f.margin == eur("3000.00")
    assert f.vat_on_margin == eur("600.00")  # 3,000 × 25 / 125, for the books only
    assert f.vat_shown.vat == eur("0.00")  # nothing shown to the buyer
    assert f.total_price == eur("12650.00")
    assert f.balance_due == eur("12000.00")


def test_margin_scheme_owes_no_vat_on_a_loss():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("12500"),
        vat_rate=Decimal(25),
        condition=Condition.USED,
        purchase_cost=eur("13000"),
        acquired_without_vat=True,
    )
    f = compute(terms)
    assert f.margin == eur("-500.00")
    assert f.vat_on_margin == eur("0.00")


def test_used_car_bought_with_vat_is_standard_rated_and_says_why():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("12500"),
        vat_rate=Decimal(25),
        condition=Condition.USED,
        purchase_cost=eur("9000"),
        acquired_without_vat=False,
    )
    f = compute(terms)
    assert f.scheme is VatScheme.STANDARD
    assert "deductible VAT" in f.scheme_reason
    assert f.vat_shown.vat == eur("2500.00")


def test_percent_discount_rounds_half_up_once():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("19999.99"),
        vat_rate=Decimal(25),
        discounts=(Discount(DiscountKind.PERCENT, Decimal("7.5")),),  # 1,499.99925
    )
    f = compute(terms)
    assert f.discount_total == eur("1500.00")
    assert f.vehicle_price == eur("18499.99")
    assert f.vat_shown.vat == eur("3700.00")  # 3,699.998
    assert f.vat_shown.net == eur("14799.99")


def test_interest_free_financing_and_overpayment_is_a_problem():
    assert monthly_payment(eur("12000"), Decimal(0), 48) == eur("250.00")
    terms = DealTerms(
        currency="EUR",
        list_price=eur("10000"),
        vat_rate=Decimal(25),
        deposit=eur("2000"),
        financing=Financing("Bank", eur("9000"), 36, Decimal(0)),
    )
    f = compute(terms)
    assert f.balance_due == eur("-1000.00")
    assert any("more than the price" in p for p in f.problems)


def test_negative_trade_in_equity_adds_to_the_balance():
    terms = DealTerms(
        currency="EUR",
        list_price=eur("20000"),
        vat_rate=Decimal(25),
        trade_in=TradeIn("VF1AAAAA123456789", "Clio", 90000, eur("3000"), eur("4200")),
    )
    f = compute(terms)
    assert f.trade_in_equity == eur("-1200.00")
    assert f.balance_due == eur("21200.00")


def test_a_minus_sign_on_an_amount_the_buyer_gets_or_pays_is_a_problem():
    base = DealTerms(currency="EUR", list_price=eur("20000"), vat_rate=Decimal(25))
    assert compute(base).problems == ()
    cases = {
        "deposit": ({"deposit": eur("-500")}, "deposit"),
        "accessory": (
            {"items": (LineItem(ItemKind.ACCESSORY, "mats", eur("-300")),)},
            "accessory or fee",
        ),
        "trade-in": (
            {"trade_in": TradeIn("VF1AAAAA123456789", "Clio", 1, eur("-100"), eur("0"))},
            "appraised value",
        ),
        "loan": (
            {"trade_in": TradeIn("VF1AAAAA123456789", "Clio", 1, eur("100"), eur("-50"))},
            "outstanding loan",
        ),
        "financed": (
            {"financing": Financing("Erste", eur("-1000"), 12, Decimal(5))},
            "amount financed",
        ),
    }
    for name, (changes, words) in cases.items():
        problems = compute(replace(base, **changes)).problems
        assert any(words in p and "cannot be negative" in p for p in problems), name


amounts = st.decimals(min_value=0, max_value=200000, places=2, allow_nan=False)
percents = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value=1, max_value=200000, places=2),
    pct=percents,
    amount_off=st.decimals(min_value=0, max_value=2000, places=2),
    accessory=amounts,
    fee=st.decimals(min_value=0, max_value=1000, places=2),
    trade=st.decimals(min_value=0, max_value=50000, places=2),
    loan=st.decimals(min_value=0, max_value=50000, places=2),
    deposit=st.decimals(min_value=0, max_value=10000, places=2),
    financed=st.decimals(min_value=0, max_value=100000, places=2),
    months=st.integers(min_value=1, max_value=96),
    rate=st.decimals(min_value=0, max_value=25, places=2),
    vat=st.sampled_from([Decimal(0), Decimal(5), Decimal(13), Decimal(25), Decimal("20.5")]),
    used=st.booleans(),
    cost=st.decimals(min_value=0, max_value=200000, places=2),
)
def test_balance_is_exactly_the_figures_shown(
    price,
    pct,
    amount_off,
    accessory,
    fee,
    trade,
    loan,
    deposit,
    financed,
    months,
    rate,
    vat,
    used,
    cost,
):
    terms = DealTerms(
        currency="EUR",
        list_price=Money(price),
        vat_rate=vat,
        condition=Condition.USED if used else Condition.NEW,
        purchase_cost=Money(cost),
        acquired_without_vat=used,
        discounts=(Discount(DiscountKind.PERCENT, pct), Discount(DiscountKind.AMOUNT, amount_off)),
        items=(
            LineItem(ItemKind.ACCESSORY, "a", Money(accessory)),
            LineItem(ItemKind.FEE, "f", Money(fee), vat_applies=False),
        ),
        trade_in=TradeIn("X", "x", 1, Money(trade), Money(loan)),
        deposit=Money(deposit),
        financing=Financing("L", Money(financed), months, rate),
    )
    f = compute(terms)
    cent = Decimal("0.01")
    for money in (
        f.discount_total,
        f.vehicle_price,
        f.total_price,
        f.vat_shown.vat,
        f.vat_shown.net,
        f.trade_in_equity,
        f.balance_due,
    ):
        assert money.amount == money.amount.quantize(cent)
    assert f.vehicle_price + f.accessories_total + f.fees_total == f.total_price
    assert f.vat_shown.net + f.vat_shown.vat == f.vat_shown.taxable_gross
    assert f.balance_due == (f.total_price - f.trade_in_equity - f.deposit - f.amount_financed)
    assert f.discount_total <= f.list_price
    if f.monthly_payment is not None:
        # the rounded payment is within half a cent of the exact annuity, so n payments
        # repay the principal (never less than the principal when the rate is not negative)
        assert f.total_of_payments >= f.amount_financed - Money(cent * months / 2)
        assert f.cost_of_credit == f.total_of_payments - f.amount_financed
    assert compute(terms) == f  # reproducible from the terms alone
