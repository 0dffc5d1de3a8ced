"""The showroom server's figures (issue 8): a real `alko-desk server` process on loopback, on
the database the client benchmarks seeded (ALKO_BENCH_CLIENTS clients).

ALKO_BENCH_DESKS (default 20) scripted desks page, search and open clients at once for
ALKO_BENCH_DESK_SECONDS (default 60, as the issue asks). Each desk waits 0.5-1.5 s
between actions, as a person reading the screen would; the server runs in its own process.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

import psutil

from bench.clients import CLIENTS, QUERIES, SALES_PASSWORD, seeded
from bench.registry import Result, benchmark
from bench.workspace import Workspace

DESKS = int(os.environ.get("ALKO_BENCH_DESKS", "20"))
DESK_SECONDS = float(os.environ.get("ALKO_BENCH_DESK_SECONDS", "60"))
SAM = ("sam", SALES_PASSWORD + "!")


class _Pins:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key):
        return self.values.get(key)

    def set(self, key, value):
        self.values[key] = value
        return True


def server(ws: Workspace):
    """(process, address, fingerprint) of one server for the whole run, on the seeded data."""
    cached = getattr(ws, "_alko_server", None)
    if cached:
        return cached
    from alko_desk.remote.trust import init_identity
    from alko_desk.storage.embedded import free_port

    ctx, _ = seeded(ws)
    identity = init_identity(ws.path("server-keys") / "identity", ["127.0.0.1"])
    port = free_port()
    env = ws.child_env(
        ws.path("server-data"),
        ALKO_MONGODB_URI=ws.mongo_uri(),
        ALKO_DB_NAME=ctx.store.db.name,
        ALKO_SERVER_DIR=str(identity.folder),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alko_desk",
            "server",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--allow-unauthenticated-database",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    original_close = ws.close

    def close() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        original_close()

    ws.close = close
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _desk(address, identity.fingerprint()).close()
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.3)
    ws._alko_server = (process, address, identity.fingerprint())
    return ws._alko_server


def _desk(address: str, fingerprint: str):
    from alko_desk.remote.desk import RemoteDesk
    from alko_desk.remote.trust import PinStore

    return RemoteDesk(address, pins=PinStore(_Pins()), fingerprint=fingerprint)


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


@benchmark("Server: login round trip", target="< 300 ms", order=300)
def login_round_trip(ws: Workspace) -> Result:
    _, address, fp = server(ws)
    desk = _desk(address, fp)
    try:
        times = []
        for _ in range(5):
            services = None

            def login():
                nonlocal services
                services = desk.login(*SAM)

            times.append(_ms(login))
            services.logout()
    finally:
        desk.close()
    return Result.at_most(
        statistics.median(times),
        300,
        "ms",
        detail=f"median of 5, Argon2id, TLS, worst {max(times):.0f} ms",
    )


@benchmark("Server: client list first page", target="< 150 ms", order=310)
def first_page(ws: Workspace) -> Result:
    _, address, fp = server(ws)
    desk = _desk(address, fp)
    try:
        services = desk.login(*SAM)
        cold = _ms(lambda: services.clients.page(0, 100))
        warm = [_ms(lambda: services.clients.page(0, 100)) for _ in range(5)]
        ids = [r.id for r in services.clients.page(CLIENTS // 2, 20)]
        opened = [_ms(lambda i=i: services.clients.get(i)) for i in ids]
        services.logout()
    finally:
        desk.close()
    ws._server_opened = opened
    return Result.at_most(
        cold,
        150,
        "ms",
        detail=f"first call of a fresh server, 100 rows; then median {statistics.median(warm):.0f} ms",
    )


@benchmark("Server: opening one client", target="< 50 ms", order=320)
def open_client(ws: Workspace) -> Result:
    if not getattr(ws, "_server_opened", None):
        first_page(ws)
    opened = ws._server_opened
    return Result.at_most(
        statistics.median(opened),
        50,
        "ms",
        detail=f"median of {len(opened)}, worst {max(opened):.0f} ms",
    )


@benchmark(
    f"Server: {DESKS} desks paging and searching, p95",
    target="< 300 ms, no errors, RSS < 500 MB",
    order=330,
)
def many_desks(ws: Workspace) -> Result:
    process, address, fp = server(ws)
    proc = psutil.Process(process.pid)
    latencies: list[float] = []
    errors: list[str] = []
    peak_rss = [proc.memory_info().rss]
    lock = threading.Lock()
    stop = time.monotonic() + DESK_SECONDS

    def desk_loop(n: int) -> None:
        rng = random.Random(n)
        try:
            desk = _desk(address, fp)
            services = desk.login(*SAM)
        except Exception as exc:  # noqa: BLE001 - counted, not raised
            with lock:
                errors.append(f"login: {exc}")
            return
        try:
            while time.monotonic() < stop:
                roll = rng.random()
                try:
                    start = time.perf_counter()
                    if roll < 0.5:
                        rows = services.clients.page(rng.randrange(0, max(1, CLIENTS - 100)), 100)
                        if rows:
                            services.clients.get(rows[rng.randrange(len(rows))].id)
                    else:
                        services.clients.search(rng.choice(QUERIES))
                    took = (time.perf_counter() - start) * 1000
                    with lock:
                        latencies.append(took)
                except Exception as exc:  # noqa: BLE001
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(rng.uniform(0.5, 1.5))  # a person reading the screen between clicks
        finally:
            services.logout()
            desk.close()

    database = psutil.Process(ws._server.process.pid) if ws._server else None
    db_before = sum(database.cpu_times()[:2]) if database else 0.0
    cpu_before = sum(proc.cpu_times()[:2])
    wall_before = time.monotonic()
    threads = [threading.Thread(target=desk_loop, args=(i,)) for i in range(DESKS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak_rss.append(proc.memory_info().rss)
        time.sleep(0.5)
    wall = time.monotonic() - wall_before
    server_cpu = (sum(proc.cpu_times()[:2]) - cpu_before) / wall
    db_cpu = (sum(database.cpu_times()[:2]) - db_before) / wall if database else 0.0
    if not latencies:
        return Result(float("nan"), "ms", False, f"no request finished; errors: {errors[:3]}")
    p95 = statistics.quantiles(latencies, n=20)[-1]
    rss = max(peak_rss) / 2**20
    return Result(
        p95,
        "ms",
        p95 < 300 and not errors and rss < 500,
        detail=f"{len(latencies)} requests in {DESK_SECONDS:.0f} s, {len(errors)} errors, "
        f"median {statistics.median(latencies):.0f} ms, server RSS peak {rss:.0f} MB, "
        f"server CPU {server_cpu:.0%} and FerretDB {db_cpu:.0%} of a core, "
        f"load {os.getloadavg()[0]:.1f}" + (f"; first error: {errors[0]}" if errors else ""),
    )
