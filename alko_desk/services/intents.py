"""One intent log for every write that touches several documents.

A write declares its intent (a kind and the data its recovery needs) before its first
step and marks it done after its last. Each kind registers one recovery handler; at the
next start (after login, when the keys are at hand) every intent still open is handed to
its handler, which completes the write or undoes it. Steps and handlers are idempotent,
so a write retried after a lost connection, or recovered twice, ends the same way.

    intents.register("deals.reserve", self._recover_reserve)
    with intents.intent("deals.reserve", deal_id, vehicle_id=v.id):
        ...steps...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alko_desk.services.clock import Clock
from alko_desk.storage.intents_repo import IntentRecord, IntentRepository

Handler = Callable[[IntentRecord], None]
log = logging.getLogger(__name__)


class IntentLog:
    def __init__(self, repo: IntentRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        """The handler that completes or undoes an interrupted write of this kind."""
        self._handlers[kind] = handler

    def begin(self, kind: str, key: str, **data: Any) -> str:
        intent_id = f"{kind}:{key}"
        self._repo.begin(IntentRecord(intent_id, kind, data, self._clock.now()))
        return intent_id

    def done(self, intent_id: str) -> None:
        self._repo.done(intent_id)

    @contextmanager
    def intent(self, kind: str, key: str, **data: Any) -> Iterator[str]:
        """Open while the steps run; left open (for recovery) when a step raises."""
        intent_id = self.begin(kind, key, **data)
        yield intent_id
        self.done(intent_id)

    def recover(self) -> int:
        """Hands every open intent to its handler; returns how many were finished.

        Intents of kinds no handler is registered for (another service's) are left.
        """
        finished = 0
        failed: set[str] = set()
        for _ in range(3):  # a handler may open new intents (a batch split into its items)
            pending = [
                i for i in self._repo.all() if i.kind in self._handlers and i.id not in failed
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
                self._repo.done(intent.id)
                finished += 1
        return finished
