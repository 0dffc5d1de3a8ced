"""Desks in processes of their own, for races that threads of one process cannot show (each
desk has its own AppContext, its own connections and its own caches, as on two computers).

    def reserve(services, username, barrier, results, vehicle_ids): ...   # module level

    outcomes = race(context, mongo_uri, tmp_path, reserve, vehicle_ids, expect=2 * ROUNDS)

Every desk logs in as its user (made by `make_user`) and runs `work(services, username,
barrier, results, *args)`; `barrier` lines the desks up, `results` collects what they put.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alko_desk.models.errors import AlkoError
from tests.conftest import staff_passphrase

DESKS = ("sam", "sara")


def _desk(uri: str, db_name: str, username: str, data_dir: str, work, args, barrier, results):
    from alko_desk.bootstrap import AppContext
    from alko_desk.storage.mongo import Store, connect

    client = connect(uri)
    try:
        ctx = AppContext(Store.open(client, db_name), data_dir=Path(data_dir))
        session = ctx.auth.login(username, staff_passphrase(username))
        work(ctx.services_for(session), username, barrier, results, *args)
    finally:
        client.close()


def race(
    context,
    mongo_uri: str,
    tmp_path: Path,
    work: Callable[..., None],
    *args: Any,
    expect: int,
    timeout: float = 120,
    users: Sequence[str] = DESKS,
) -> list:
    """Runs `work` on a desk process per user; returns the `expect` results they put (each
    within `timeout` seconds), once every desk has ended cleanly."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(len(users))
    results = spawn.Queue()
    desks = [
        spawn.Process(
            target=_desk,
            args=(
                mongo_uri,
                context.store.db.name,
                name,
                str(tmp_path / name),
                work,
                args,
                barrier,
                results,
            ),
        )
        for name in users
    ]
    for p in desks:
        p.start()
    outcomes = [results.get(timeout=timeout) for _ in range(expect)]
    for p in desks:
        p.join(timeout=30)
        assert p.exitcode == 0
    return outcomes


def all_at_once(call: Callable[[], Any], times: int) -> list[type]:
    """`call` on `times` threads at once (as many desks as that); the kinds of AlkoError
    they met, one per call that failed."""
    outcomes: list[type] = []

    def attempt() -> None:
        try:
            call()
        except AlkoError as exc:
            outcomes.append(type(exc))

    threads = [threading.Thread(target=attempt) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
