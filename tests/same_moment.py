"""Races on purpose: calls lined up by a barrier, each on a thread (and connection) of its own.

FerretDB 1.24 does not isolate concurrent updates of one document (README, "FerretDB's
limits"), so a race test repeats a round enough times that the unsafe code fails reliably.
"""

from __future__ import annotations

import functools
import threading

from alko_desk.storage.mongo import Store, connect


def at_the_same_moment(*calls) -> list:
    """Runs the calls on threads of their own, lined up by a barrier; their results (an
    exception stands for its call)."""
    barrier = threading.Barrier(len(calls))
    not_run = RuntimeError("this call never ran")
    results: list = [not_run] * len(calls)  # a call that never ran is no success

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - reported to the test as the result
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a call hung"
    return results


def on_connections_at_once(mongo_uri, db_name, calls, rounds, reset=None, check=None):
    """Each round runs calls[i](store_i, round) at once, each on a connection of its own;
    per round, the results and then what `check()` says after it."""
    clients = [connect(mongo_uri) for _ in calls]
    stores = [Store.open(c, db_name) for c in clients]
    out = []
    try:
        for r in range(rounds):
            if reset:
                reset(r)
            out.append(
                at_the_same_moment(
                    *(functools.partial(call, s, r) for call, s in zip(calls, stores, strict=True))
                )
                + [check() if check else None]
            )
    finally:
        for c in clients:
            c.close()
    return out
