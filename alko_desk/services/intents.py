"""One intent log for every write that touches several documents.

A write declares its intent (a kind and the data its recovery needs) before its first
step and marks it done after its last. Each kind registers one recovery handler; at the
next start (after login, when the keys are at hand) every intent still open is handed to
its handler, which completes the write or undoes it. Steps and handlers are idempotent,
so a write retried after a lost connection, or recovered twice, ends the same way.

    intents.register("deals.reserve", self._recover_reserve)
    with intents.intent("deals.reserve", deal_id, vehicle_id=v.id):
        ...steps...

An open intent is a lease, not yet a crash: recovery runs at every login of every desk,
while other desks may be in the middle of their writes. An intent records its writer
(machine, process and its start time, and this desk's run) and when it was last renewed;
a long write renews it as it goes (`renew`, once per batch). Recovery takes an intent only
when its writer cannot be working on it any more (`Leases.may_recover`): its process on
this machine has ended (a desk restarting after its own crash recovers at once), or this
desk run gave it up after a failed step, or it was not renewed for `GRACE` (a desk on
another machine that stopped). Never one this desk run still has under way.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from alko_desk.services.clock import Clock
from alko_desk.storage.intents_repo import IntentRecord, IntentRepository

Handler = Callable[[IntentRecord], None]
log = logging.getLogger(__name__)

# How long an intent (or an invoice being issued) of a live or unknown writer is left to it
# since it was last renewed. Long enough for a slow step and modest clock differences
# between desks; a write renews its lease more often than this (once per batch).
GRACE = timedelta(minutes=10)
RENEW_EVERY = GRACE / 5  # a renewal more often than this writes nothing


class Leases:
    """Who this desk run is, and which multi-document writes it has under way.

    One per AppContext (a desk process; tests run several in one process as separate
    desks), shared by its sessions' intent logs and invoicing. Thread-safe: writes run in
    worker threads while a login recovers in another.
    """

    def __init__(self) -> None:
        self.writer: dict[str, Any] = {
            "host": _machine(),
            "pid": os.getpid(),
            "started": _process_started(os.getpid()),
            "run": uuid.uuid4().hex,
        }
        self._held: Counter[str] = Counter()  # two threads may hold one key at once
        self._lock = threading.Lock()

    def hold(self, key: str) -> None:
        """This run is at work on `key` until a `release` for each `hold`."""
        with self._lock:
            self._held[key] += 1

    def release(self, key: str) -> None:
        with self._lock:
            if self._held[key] <= 1:
                del self._held[key]
            else:
                self._held[key] -= 1

    def holds(self, key: str) -> bool:
        with self._lock:
            return self._held[key] > 0

    def may_recover(
        self, key: str, at: datetime | None, writer: dict[str, Any] | None, now: datetime
    ) -> bool:
        """Whether the write under `key` (renewed `at`, by `writer`) is abandoned."""
        if at is None:
            return True  # a work order (a migration's): no writer to wait for
        if self.holds(key):
            return False  # under way in this desk run
        if writer and writer.get("run") == self.writer["run"]:
            return True  # this run gave it up when a step failed
        if writer and self._writer_gone(writer):
            return True  # its process ended (this machine): a crash, nobody to wait for
        return now - at >= GRACE

    def _writer_gone(self, writer: dict[str, Any]) -> bool:
        if writer.get("host") != self.writer["host"]:
            return False  # another machine: only the lease's age tells
        try:
            pid = int(writer.get("pid", 0))
            started = float(writer.get("started", 0.0))
        except (TypeError, ValueError):
            return False
        if pid <= 0 or not started:
            return False
        alive = _process_started(pid)
        return alive is None or abs(alive - started) > 1.0  # ended, or its pid reused


def _machine() -> str:
    """This computer: its name and its network card's address, since cloned desks may share a
    name. Without a readable address `getnode` is random per process: the desk's own intents
    then wait for the grace like another computer's (never taken too early)."""
    return f"{socket.gethostname()}/{uuid.getnode():012x}"


def _process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch); None when there is none."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


class IntentLog:
    def __init__(self, repo: IntentRepository, clock: Clock, leases: Leases | None = None) -> None:
        self._repo = repo
        self._clock = clock
        self.leases = leases if leases is not None else Leases()
        self._handlers: dict[str, Handler] = {}
        self._renewed: dict[str, datetime] = {}  # this log's open intents: when last written

    def register(self, kind: str, handler: Handler) -> None:
        """The handler that completes or undoes an interrupted write of this kind."""
        self._handlers[kind] = handler

    def begin(self, kind: str, key: str, **data: Any) -> str:
        """Opens (or declares again, with new data) an intent; held until `done`/`abandon`."""
        intent_id = f"{kind}:{key}"
        now = self._clock.now()
        first = intent_id not in self._renewed  # declared again (new data): held once
        if first:
            self.leases.hold(intent_id)
        try:
            self._repo.begin(IntentRecord(intent_id, kind, data, now, dict(self.leases.writer)))
        except BaseException:
            if first:
                self.leases.release(intent_id)
            raise
        self._renewed[intent_id] = now
        return intent_id

    def renew(self, *intent_ids: str) -> None:
        """The write goes on: its intents' leases start again. Cheap to call once per batch:
        only those last written `RENEW_EVERY` ago or more are written."""
        now = self._clock.now()
        due = [i for i in intent_ids if now - self._renewed.get(i, now - GRACE) >= RENEW_EVERY]
        if due:
            self._repo.renew(due, now)
            self._renewed.update(dict.fromkeys(due, now))

    def done(self, intent_id: str) -> None:
        """The write finished: its intent goes (only this run's; a retry elsewhere keeps its own)."""
        self._repo.done(intent_id, run=self.leases.writer["run"])
        self._let_go(intent_id)

    def abandon(self, *intent_ids: str) -> None:
        """A step failed: the intents stay for recovery, which may take them at once."""
        for intent_id in intent_ids:
            self._let_go(intent_id)

    def _let_go(self, intent_id: str) -> None:
        if self._renewed.pop(intent_id, None) is not None:
            self.leases.release(intent_id)

    @contextmanager
    def intent(self, kind: str, key: str, **data: Any) -> Iterator[str]:
        """Open while the steps run; left open (for recovery) when a step raises."""
        intent_id = self.begin(kind, key, **data)
        try:
            yield intent_id
        except BaseException:
            self.abandon(intent_id)
            raise
        self.done(intent_id)

    def under_way(self, kind: str, covers: Callable[[IntentRecord], bool]) -> bool:
        """Whether an open intent of `kind` that `covers` says is about it has a writer that
        may still be at work (one recovery would leave). Reads the few open intents."""
        now = self._clock.now()
        return any(
            i.kind == kind and covers(i) and not self.leases.may_recover(i.id, i.at, i.writer, now)
            for i in self._repo.all()
        )

    def recover(self) -> int:
        """Hands every abandoned intent to its handler; returns how many were finished.

        Intents of kinds no handler is registered for (another service's) are left, and so
        are those whose writer may still be at work (`Leases.may_recover`).
        """
        finished = 0
        failed: set[str] = set()
        for _ in range(3):  # a handler may open new intents (a batch split into its items)
            now = self._clock.now()
            pending = [
                i
                for i in self._repo.all()
                if i.kind in self._handlers
                and i.id not in failed
                and self.leases.may_recover(i.id, i.at, i.writer, now)
            ]
            if not pending:
                break
            for intent in pending:
                try:
                    self._handlers[intent.kind](intent)
                except Exception as exc:  # one that cannot finish must not block the others
                    failed.add(intent.id)
                    log.warning(  # kind and id only: a message may quote personal data
                        "intent %s (%s) left for the next login: %s",
                        intent.id,
                        intent.kind,
                        type(exc).__name__,
                    )
                    continue
                # only the version handled: one its writer (or a retry) renewed since stays
                self._repo.done(intent.id, at=intent.at)
                finished += 1
        return finished
