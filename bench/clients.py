"""The Clients issue's figures, on ALKO_BENCH_CLIENTS (default 100,000) seeded clients."""

from __future__ import annotations

import json
import os
import statistics
import time

from bench.registry import Result, benchmark
from bench.workspace import ADMIN, ADMIN_PASSWORD, Workspace

CLIENTS = int(os.environ.get("ALKO_BENCH_CLIENTS", "100000"))
SALES_PASSWORD = "the sales desk passphrase 2026"
QUERIES = [
    "kov",
    "hor",
    "mar",
    "nov",
    "pet",
    "ana",
    "ива",
    "mü",
    "sch",
    "бо",
    "ja",
    "br",
    "st",
    "kr",
    "wi",
    "jur",
    "bab",
    "ni",
    "po",
    "ze",
]


def _median_ms(fn, runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def seeded(ws: Workspace):
    """(context, sales services) on a database with CLIENTS demo clients; seeded once per run,
    or once per kept workspace (ALKO_BENCH_KEEP: later runs reuse the seeded database)."""
    cached = getattr(ws, "_clients_seeded", None)
    if cached:
        return cached
    from alko_desk.models.users import Role
    from alko_desk.services.demo import DemoSeeder

    marker = ws.root / f"seeded-clients-{CLIENTS}.json"
    if ws.kept and marker.exists():  # seeded by an earlier run: log in and reuse it
        ctx = ws.kept_context(f"bench_clients_{CLIENTS}", fresh=False)
        services = ctx.services_for(ctx.auth.login("sam", SALES_PASSWORD + "!"))
        ws._clients_seed_seconds = json.loads(marker.read_text())["seconds"]
        ws._clients_seed_reused = True
        ws._clients_seeded = (ctx, services)
        return ws._clients_seeded
    ctx = ws.kept_context(f"bench_clients_{CLIENTS}", fresh=True) if ws.kept else ws.context()
    admin = ctx.auth.login(ADMIN, ADMIN_PASSWORD)
    ctx.services_for(admin).users.create_user("sam", "Sam Sales", Role.SALES, SALES_PASSWORD)
    session = ctx.auth.login("sam", SALES_PASSWORD)
    session = ctx.auth.change_password(session, SALES_PASSWORD, SALES_PASSWORD + "!")
    services = ctx.services_for(session)
    start = time.perf_counter()
    DemoSeeder(services.clients).seed(CLIENTS)
    ws._clients_seed_seconds = time.perf_counter() - start
    ws._clients_seed_reused = False
    if ws.kept:
        marker.write_text(json.dumps({"seconds": ws._clients_seed_seconds}))
    ws._clients_seeded = (ctx, services)
    return ws._clients_seeded


@benchmark(f"Seeding {CLIENTS:,} clients", target="< 180 s", order=200)
def seeding(ws: Workspace) -> Result:
    seeded(ws)
    reused = " (seeded by an earlier run, reused)" if ws._clients_seed_reused else ""
    return Result.at_most(
        ws._clients_seed_seconds, 180, "s", detail="through ClientService.register_batches" + reused
    )


SORTS = [("name", False), ("name", True), ("status", False), ("last_activity", True)]


def _sort_label(sort: str, descending: bool) -> str:
    return f"{sort.replace('_', ' ')} {'▼' if descending else '▲'}"


@benchmark("Client list: first page, every sort (cold)", target="< 150 ms", order=210)
def first_page(ws: Workspace) -> Result:
    """Cold: the index's cached roots and buckets are dropped before every run."""
    _, services = seeded(ws)
    index = services.clients._list
    worst_median, details = 0.0, []
    for sort, desc in SORTS:

        def run(_, sort=sort, desc=desc):
            index.clear_cache()
            assert len(services.clients.page(0, 100, sort, desc)) == 100

        median, worst = _median_ms(run, 5)
        worst_median = max(worst_median, median)
        details.append(f"{_sort_label(sort, desc)} {median:.0f} (worst {worst:.0f})")
    return Result.at_most(
        worst_median, 150, "ms", detail="median of 5 per sort: " + ", ".join(details)
    )


@benchmark("Client list: first page, every sort (warm)", target="< 50 ms", order=211)
def first_page_warm(ws: Workspace) -> Result:
    _, services = seeded(ws)
    worst_median, details = 0.0, []
    for sort, desc in SORTS:
        services.clients.page(0, 100, sort, desc)
        median, worst = _median_ms(lambda _, s=sort, d=desc: services.clients.page(0, 100, s, d), 7)
        worst_median = max(worst_median, median)
        details.append(f"{_sort_label(sort, desc)} {median:.0f}")
    return Result.at_most(
        worst_median, 50, "ms", detail="median of 7 per sort: " + ", ".join(details)
    )


@benchmark("Client list: any later page, every sort", target="< 50 ms", order=212)
def later_pages(ws: Workspace) -> Result:
    """Scrolling: pages at random positions in every sort; the worst one counts."""
    import random

    _, services = seeded(ws)
    rng = random.Random(5)
    times = []
    for sort, desc in SORTS:
        for _ in range(10):
            start = rng.randrange(100, max(101, CLIENTS - 100))
            t = time.perf_counter()
            assert len(services.clients.page(start, 100, sort, desc)) == 100
            times.append((time.perf_counter() - t) * 1000)
    return Result.at_most(
        max(times),
        50,
        "ms",
        detail=f"worst of {len(times)}, median {statistics.median(times):.0f} ms",
    )


@benchmark("Client name-prefix search (worst of 20)", target="< 150 ms", order=220)
def prefix_search(ws: Workspace) -> Result:
    _, services = seeded(ws)
    index = services.clients._list

    def run(i):
        index.clear_cache()  # cold: every query reads the index from the database
        services.clients.search(QUERIES[i % len(QUERIES)])

    median, worst = _median_ms(run, len(QUERIES))
    return Result.at_most(
        worst, 150, "ms", detail=f"{len(QUERIES)} prefixes, cold cache, median {median:.0f} ms"
    )


@benchmark("Client exact lookup (email / ID number)", target="< 50 ms", order=230)
def exact_lookup(ws: Workspace) -> Result:
    _, services = seeded(ws)
    step = max(1, CLIENTS // 20)

    def run(i):
        n = (i // 2) * step
        text = f"client{n}@demo.alko.example" if i % 2 == 0 else f"D{n:09d}"
        assert len(services.clients.search(text)) == 1

    median, worst = _median_ms(run, 20)
    return Result.at_most(median, 50, "ms", detail=f"median of 20, worst {worst:.0f} ms")


@benchmark("Opening one client (decrypt all fields)", target="< 30 ms", order=240)
def open_client(ws: Workspace) -> Result:
    _, services = seeded(ws)
    ids = [r.id for r in services.clients.page(CLIENTS // 2, 20)]
    median, worst = _median_ms(lambda i: services.clients.get(ids[i]), len(ids))
    return Result.at_most(
        median, 30, "ms", detail=f"median of {len(ids)}, audited, worst {worst:.0f} ms"
    )
