"""The Vehicles and deals issue's figures: deal recompute, stock import, vehicle and deal lists.

ALKO_BENCH_VEHICLES (default 20,000) vehicles for the list rows; ALKO_BENCH_DEALS (default
50,000) deals for the deal list: a hundred saved through the service, the rest cloned from
them through the repository's bulk path.
"""

from __future__ import annotations

import csv
import os
import statistics
import time
from decimal import Decimal

from bench.registry import Result, benchmark
from bench.workspace import ADMIN, ADMIN_PASSWORD, Workspace

VEHICLES = int(os.environ.get("ALKO_BENCH_VEHICLES", "20000"))
DEALS = int(os.environ.get("ALKO_BENCH_DEALS", "50000"))
SALES_PASSWORD = "the stock desk passphrase 2026"


def _desk(ws: Workspace):
    """(context, sales services) on a fresh database; one per call."""
    from alko_desk.models.users import Role

    ctx = ws.context()
    admin = ctx.auth.login(ADMIN, ADMIN_PASSWORD)
    ctx.services_for(admin).users.create_user("vera", "Vera Sales", Role.SALES, SALES_PASSWORD)
    session = ctx.auth.login("vera", SALES_PASSWORD)
    session = ctx.auth.change_password(session, SALES_PASSWORD, SALES_PASSWORD + "!")
    return ctx, ctx.services_for(session)


def _timed_ms(fn, runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


@benchmark("Deal recompute (every keystroke)", target="< 5 ms", order=400)
def deal_recompute(ws: Workspace) -> Result:
    from alko_desk.models.deals import (
        DealTerms,
        Discount,
        DiscountKind,
        Financing,
        ItemKind,
        LineItem,
        TradeIn,
    )
    from alko_desk.models.money import Money
    from alko_desk.models.vehicles import Condition
    from alko_desk.services.deal_calc import compute

    def terms(i: int) -> DealTerms:
        return DealTerms(
            currency="EUR",
            list_price=Money.of(29990 + i),
            vat_rate=Decimal(25),
            condition=Condition.USED,
            purchase_cost=Money.of(24000),
            acquired_without_vat=i % 2 == 0,
            discounts=(
                Discount(DiscountKind.PERCENT, Decimal("3.5")),
                Discount(DiscountKind.AMOUNT, Decimal(250)),
            ),
            items=(
                LineItem(ItemKind.ACCESSORY, "Tyres", Money.of(690)),
                LineItem(ItemKind.FEE, "Registration", Money.of(180), vat_applies=False),
            ),
            trade_in=TradeIn("WVWZZZ1JZXW000001", "Golf", 180000, Money.of(5000), Money.of(1200)),
            deposit=Money.of(1000),
            financing=Financing("Erste", Money.of(15000), 60, Decimal("6.9")),
        )

    median, worst = _timed_ms(lambda i: compute(terms(i)), 2000)
    return Result.at_most(median, 5, "ms", detail=f"median of 2,000, worst {worst:.2f} ms")


@benchmark("Importing a 2,000-row stock file", target="< 20 s", order=410)
def stock_import(ws: Workspace) -> Result:
    from alko_desk.models.listing import Progress
    from alko_desk.services.vehicle_demo import StockSeeder

    _, services = _desk(ws)
    path = ws.path("stock") / "stock.csv"
    drafts = StockSeeder(services.vehicles, services.deals, seed=3).vehicle_drafts(2000)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["VIN", "Make", "Model", "Year", "Mileage", "Condition", "Price", "Cost"])
        for d in drafts:
            out.writerow(
                [
                    d.vin,
                    d.make,
                    d.model,
                    d.model_year,
                    d.mileage_km,
                    d.condition.value,
                    d.list_price.amount,
                    d.purchase_cost.amount if d.purchase_cost else "",
                ]
            )
    start = time.perf_counter()
    preview = services.vehicles.preview_import(path)
    checked = time.perf_counter() - start
    result = services.vehicles.import_rows(preview, Progress())
    seconds = time.perf_counter() - start
    assert result.imported == 2000, result
    return Result.at_most(
        seconds, 20, "s", detail=f"preview {checked:.1f} s (VIN checks, duplicates), then import"
    )


VEHICLE_FILTERS = [
    {"status": "in_stock"},
    {"make": "Škoda"},
    {"status": "in_stock", "make": "Škoda"},
    {"make": "Volkswagen", "model": "Golf"},
    {"year_from": 2019, "year_to": 2021},
    {"price_min": "15000", "price_max": "25000"},
    {"min_days_in_stock": 0, "max_days_in_stock": 30},
    {"status": "in_stock", "price_min": "20000", "year_from": 2020},
    {"make": "BMW", "price_max": "40000", "max_days_in_stock": 90},
    {"model": "Octavia", "year_to": 2022},
]


def _label(flt: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in flt.items())


def _worst_first_page(list_page, sorts, filters, clear) -> tuple[float, float, float, str, str]:
    """(worst cold sort, worst warm sort, worst filter, which filter, each filter's worst),
    in ms: every filter under every sort both ways, each read cold (caches cleared)."""
    from alko_desk.models.listing import PageRequest

    cold = warm = worst_filter = 0.0
    which = ""
    for sort in sorts:
        for descending in (False, True):
            clear()
            start = time.perf_counter()
            list_page(PageRequest(0, 100, sort, descending))
            cold = max(cold, (time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            list_page(PageRequest(0, 100, sort, descending))
            warm = max(warm, (time.perf_counter() - start) * 1000)
    each = []
    for flt in filters:
        worst = 0.0
        for sort in sorts:
            for descending in (False, True):
                clear()
                start = time.perf_counter()
                page = list_page(PageRequest(0, 100, sort, descending, filters=flt))
                took = (time.perf_counter() - start) * 1000
                worst = max(worst, took)
                if took > worst_filter:
                    worst_filter = took
                    which = f"{_label(flt)} by {sort}{' desc' if descending else ''}"
        each.append(f"{_label(flt)} {worst:.0f} ms ({page.total:,})")
    return cold, warm, worst_filter, which, "; ".join(each)


@benchmark(
    f"Vehicle list, {VEHICLES:,} vehicles: first page, worst sort", target="< 150 ms", order=420
)
def vehicle_list(ws: Workspace) -> Result:
    from alko_desk.models.vehicles import VehicleSort

    ctx, services, seconds = _stocked(ws)
    cold, warm, worst_filter, which, each = _worst_first_page(
        services.vehicles.list_page,
        [s.value for s in VehicleSort],
        VEHICLE_FILTERS,
        ctx.vehicles_repo.clear_list_cache,
    )
    return Result.at_most(
        max(cold, worst_filter),
        150,
        "ms",
        detail=f"{len(VehicleSort) * 2} sorts cold, worst {cold:.0f} ms (warm {warm:.0f} ms); "
        f"worst of {len(VEHICLE_FILTERS)} filters under every sort, cold, {worst_filter:.0f} ms "
        f"({which}); seeding {seconds:.0f} s; per filter (matches): {each}",
    )


DEAL_FILTERS = [
    {"state": "reserved"},
    {"state": "approved"},
    {"pending_approval": True},
    {"client_id": "C-BENCH-7"},
    {"salesperson": "vera", "state": "reserved"},
    {"salesperson": "vera", "pending_approval": True, "state": "approved"},
    {"client_id": "C-BENCH-7", "state": "draft"},
]


@benchmark(f"Deal list, {DEALS:,} deals: first page, worst sort", target="< 150 ms", order=430)
def deal_list(ws: Workspace) -> Result:
    from dataclasses import replace
    from datetime import timedelta

    from alko_desk.models.deals import ApprovalStatus, DealSort
    from alko_desk.services.vehicle_demo import StockSeeder

    ctx, services = _desk(ws)
    seeder = StockSeeder(services.vehicles, services.deals, seed=11)
    real = min(DEALS, 100)  # saved through the service (reserve + deal), then cloned in bulk
    seeder.seed_vehicles(real)
    from alko_desk.services.demo import DemoSeeder

    # deals refuse buyers who are not registered: a few real clients for the real deals
    buyers = [
        services.clients.register(cid, d).id for cid, d in DemoSeeder(services.clients).drafts(5)
    ]
    start = time.perf_counter()
    made = seeder.seed_deals(real - 10, buyers)  # in a batch (DealService.create_many)
    per_batched = (time.perf_counter() - start) * 1000 / max(made, 1)
    # one deal saved as at the desk (reserve the car, store the deal, two list commits)
    from alko_desk.models.deals import DealDraft, Discount, DiscountKind
    from alko_desk.models.vehicles import VehicleFilter, VehicleStatus

    stock = services.vehicles.page(VehicleFilter(status=VehicleStatus.IN_STOCK), count=10).rows
    singles = []
    for n, vehicle in enumerate(stock):
        draft = DealDraft(buyers[n % len(buyers)], vehicle.id, (Discount(DiscountKind.PERCENT, 0),))
        took = time.perf_counter()
        services.deals.create(draft)
        singles.append((time.perf_counter() - took) * 1000)
        made += 1
    per_deal = statistics.median(singles)
    models = services.deals.page(count=real).rows
    start = time.perf_counter()
    clones = []
    for n in range(DEALS - made):
        d = models[n % len(models)]
        clones.append(
            replace(
                d,
                id=f"{d.id}-{n}",
                client_id=f"C-BENCH-{n % 200}",
                created_at=d.created_at - timedelta(minutes=n),
                state=list(type(d.state))[n % 6],
                approval=replace(d.approval, status=list(ApprovalStatus)[n % 4]),
            )
        )
    ctx.deals_repo.insert_many(clones)
    bulk = time.perf_counter() - start
    cold, warm, worst_filter, which, each = _worst_first_page(
        services.deals.list_page,
        [s.value for s in DealSort],
        DEAL_FILTERS,
        ctx.deals_repo.clear_list_cache,
    )
    return Result.at_most(
        max(cold, worst_filter),
        150,
        "ms",
        detail=f"{len(DealSort) * 2} sorts cold, worst {cold:.0f} ms (warm {warm:.0f} ms); "
        f"worst of {len(DEAL_FILTERS)} filters under every sort, cold, {worst_filter:.0f} ms "
        f"({which}); saving a deal {per_deal:.0f} ms (median of {len(singles)}; "
        f"{per_batched:.0f} ms a deal in a demo batch); bulk seeding {bulk:.0f} s; "
        f"per filter (matches): {each}",
    )


def _stocked(ws: Workspace):
    cached = getattr(ws, "_vehicles_stocked", None)
    if cached:
        return cached
    from alko_desk.services.vehicle_demo import StockSeeder

    ctx, services = _desk(ws)
    seeder = StockSeeder(services.vehicles, services.deals, seed=5)
    start = time.perf_counter()
    seeder.seed_vehicles(VEHICLES)  # one import: stored in batches, listed in one pass
    ws._vehicles_stocked = ctx, services, time.perf_counter() - start
    return ws._vehicles_stocked
