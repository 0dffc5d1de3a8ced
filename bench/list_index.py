"""The client list index on its own, at ALKO_BENCH_CLIENTS entries: built by one bulk load,
then read as the list reads it. No documents, keys or encryption, so that 500,000 fit in a
few minutes where seeding whole clients takes much longer; the entries have the client
list's shape (demo names, ICU sort keys, a sealed-size payload).
"""

from __future__ import annotations

import base64
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.clients import CLIENTS, QUERIES, SORTS
from bench.registry import Result, benchmark
from bench.workspace import Workspace


def _built(ws: Workspace):
    cached = getattr(ws, "_list_alone", None)
    if cached:
        return cached
    from alko_desk.models.text import fold, sort_key
    from alko_desk.services.demo import _pools
    from alko_desk.storage.clients_repo import ClientListItem, ClientListKeys, ClientListRepository

    ctx = ws.context(set_up=False)
    repo = ClientListRepository(ctx.store)
    rng = random.Random(9)
    pools = list(_pools(7).values())
    now = datetime.now(UTC)
    items = []
    for n in range(CLIENTS):
        pool = rng.choice(pools)
        first, last = rng.choice(pool.female if rng.random() < 0.5 else pool.male)
        status = rng.choice(("prospect", "active", "restricted"))
        active = now - timedelta(minutes=rng.randrange(60, 60 * 24 * 1095))
        name = sort_key(last, first)
        record_id = f"{n:08x}{rng.getrandbits(64):016x}"
        items.append(
            (
                ClientListItem(
                    record_id,
                    first,
                    last,
                    status,
                    active.isoformat(),
                    base64.b64encode(rng.randbytes(90)).decode(),
                ),
                ClientListKeys(
                    name=name,
                    status=f"{status[0]} {name}",
                    last_activity=f"{active:%Y-%m-%dT%H:%M:%S.%f} {name}",
                    words=tuple(dict.fromkeys(fold(f"{first} {last}").split())),
                ),
            )
        )
    start = time.perf_counter()
    repo.bulk_load(items)
    ws._list_alone = (repo, time.perf_counter() - start)
    return ws._list_alone


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


@benchmark(f"List index alone, {CLIENTS:,} client entries: bulk load", target="reported", order=280)
def bulk_load(ws: Workspace) -> Result:
    _, seconds = _built(ws)
    return Result(seconds, "s", True, detail="one sorted pass over every tree, one commit")


@benchmark(
    f"List index alone, {CLIENTS:,}: first page every sort, cold / warm, later pages, prefixes",
    target="< 150 / 50 / 50 / 150 ms",
    order=281,
)
def reads(ws: Workspace) -> Result:
    from alko_desk.models.text import fold

    repo, _ = _built(ws)
    cold, warm, later, prefixes = [], [], [], []
    rng = random.Random(5)
    for sort, desc in SORTS:
        for _ in range(3):
            repo.clear_cache()
            cold.append(_ms(lambda s=sort, d=desc: repo.page(s, 0, 100, d)))
        read = lambda s=sort, d=desc: repo.page(s, 0, 100, d)  # noqa: E731
        warm.append(statistics.median(_ms(read) for _ in range(5)))
        for _ in range(10):
            at = rng.randrange(100, CLIENTS - 100)
            later.append(_ms(lambda a=at, s=sort, d=desc: repo.page(s, a, 100, d)))
    for query in QUERIES:
        repo.clear_cache()
        prefixes.append(_ms(lambda q=query: repo.search(fold(q).split())))
    figures = (max(cold), max(warm), max(later), max(prefixes))
    passed = figures[0] < 150 and figures[1] < 50 and figures[2] < 50 and figures[3] < 150
    return Result(
        max(figures),
        "ms",
        passed,
        detail="worst cold {:.0f}, warm {:.0f}, later page {:.0f}, prefix {:.0f} ms".format(
            *figures
        ),
    )
