"""Deal arithmetic: hand-computed cases and properties of the rounding."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from alko_desk.models.deals import (
    BusinessBuyer,
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
from alko_desk.services.business_buyer import business_buyer_problems, buyer_vat_problem
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


# ----------------------------------------------------------------------------- business buyers

GERMAN_COMPANY = BusinessBuyer("Autohaus Müller GmbH", "DE136695976", "Hauptstraße 5", "80331")
CROATIAN_COMPANY = BusinessBuyer("Auto Prijevoz d.o.o.", "HR69684034012")


def business_terms(buyer: BusinessBuyer | None, **changes) -> DealTerms:
    terms = DealTerms(
        currency="EUR",
        list_price=eur("30000.00"),
        vat_rate=Decimal(25),
        discounts=(Discount(DiscountKind.PERCENT, Decimal(5)),),  # 1,500.00
        items=(
            LineItem(ItemKind.ACCESSORY, "Floor mats", eur("150.00")),
            LineItem(ItemKind.FEE, "Registration", eur("120.00"), vat_applies=False),
        ),
        deposit=eur("1000"),
        business_buyer=buyer,
        seller_country="HR" if buyer else "",
    )
    return replace(terms, **changes)


def test_a_business_in_another_eu_country_pays_the_net_price_and_no_vat():
    f = compute(business_terms(GERMAN_COMPANY))
    assert f.scheme is VatScheme.INTRA_COMMUNITY
    assert "Art. 138" in f.scheme_reason and "DE136695976" in f.scheme_reason
    assert f.vehicle_price == eur("28500.00")  # the gross price, as for anyone
    # VAT contained, amount by amount: 28,500 × 25/125 = 5,700; 150 × 25/125 = 30
    assert f.vat_not_charged == eur("5730.00")
    assert f.total_price == eur("23040.00")  # 22,800 + 120 net + 120 disbursement, no VAT
    assert f.vat_shown.vat == eur("0.00") and f.vat_shown.net == eur("22920.00")
    assert f.vat_shown.rate == 0
    assert f.balance_due == eur("22040.00")  # less the deposit
    assert f.discount_percent == Decimal("5.00")  # the approval threshold reads the list price


def test_a_business_in_the_dealers_own_country_pays_standard_vat_with_its_vat_id():
    private = compute(business_terms(None))
    f = compute(business_terms(CROATIAN_COMPANY))
    assert f.scheme is VatScheme.STANDARD and f.vat_not_charged is None
    assert "HR69684034012" in f.scheme_reason and "printed" in f.scheme_reason
    assert replace(f, scheme_reason="") == replace(private, scheme_reason="")


def test_a_business_buyer_whose_vat_id_is_not_typed_yet_gets_a_sentence_not_blanks():
    f = compute(business_terms(replace(GERMAN_COMPANY, vat_id="")))
    assert f.scheme is VatScheme.STANDARD
    assert f.scheme_reason.endswith("its VAT ID decides whether VAT is charged.")
    assert " in :" not in f.scheme_reason and "ID  is" not in f.scheme_reason


def test_a_used_car_under_the_margin_scheme_stays_margin_for_a_foreign_business():
    used = {
        "condition": Condition.USED,
        "purchase_cost": eur("20000.00"),
        "acquired_without_vat": True,
    }
    f = compute(business_terms(GERMAN_COMPANY, **used))
    assert f.scheme is VatScheme.MARGIN and f.vat_not_charged is None
    assert "139(3)" in f.scheme_reason and "DE136695976" in f.scheme_reason
    assert f.total_price == compute(business_terms(None, **used)).total_price
    # opted out of the margin scheme: standard rules, so intra-community again
    opted = compute(business_terms(GERMAN_COMPANY, **used, prefer_standard_vat=True))
    assert opted.scheme is VatScheme.INTRA_COMMUNITY


def test_without_the_dealers_country_a_business_buyer_is_not_taken_for_intra_community():
    f = compute(business_terms(GERMAN_COMPANY, seller_country=""))
    assert f.scheme is VatScheme.STANDARD


def test_business_buyer_vat_ids_are_checked_for_an_eu_prefix_and_check_digits():
    assert buyer_vat_problem("DE 136 695 976") is None
    assert buyer_vat_problem("EL094259216") is None
    assert "check digit" in buyer_vat_problem("DE136695977")
    assert "not an EU VAT ID" in buyer_vat_problem("CHE116281710")
    assert "country letters" in buyer_vat_problem("136695976")
    assert "Enter" in buyer_vat_problem("  ")
    assert set(business_buyer_problems(BusinessBuyer(" ", "DE136695977"))) == {
        "business_buyer.company",
        "business_buyer.vat_id",
    }
    assert business_buyer_problems(GERMAN_COMPANY) == {}
