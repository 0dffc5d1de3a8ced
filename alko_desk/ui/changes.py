"""Changes announced to the open screens: what another desk (or this one) wrote.

A `ChangeWatcher` asks the session's change feed for its head number about once a
second, off the GUI thread; when the head moved it reads what is new (`since`) and
hands the changes to every subscriber, on the GUI thread. A screen subscribes for
the entities it shows, marks itself stale and refreshes in a batch (see
`ui/clients/presenter.py`); nothing polls counts, nothing moves rows under the user.

    watcher = ChangeWatcher(change_feed(services), tasks, parent=page)
    watcher.subscribe("clients", presenter.changes_arrived)
    watcher.start()

The feed is any object with `head() -> int` and `since(seq) -> ChangeBatch` (the
`ChangeFeed` service on `SessionServices.changes`, or a plain object in tests).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QTimer

from alko_desk.models.changes import Change, ChangeBatch, ChangeKind
from alko_desk.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from alko_desk.bootstrap import SessionServices

log = logging.getLogger(__name__)

WATCH_INTERVAL_MS = 1000
ANY = "*"  # subscribe to every entity
SETTINGS = "settings"  # the company profile (idle lock, phone region...)
USERS = "users"  # staff accounts (services/users.py)

ChangeHandler = Callable[[Sequence[Change]], None]


class ChangeSource(Protocol):
    def head(self) -> int: ...

    def since(self, seq: int) -> ChangeBatch: ...


def change_feed(services: SessionServices) -> ChangeSource | None:
    """The session's change feed, once the services have one (`SessionServices.changes`;
    a remote desk's services have none yet: its screens refresh on F5 and their own writes)."""
    return getattr(services, "changes", None)


def everything_changed(entity: str) -> tuple[Change, ...]:
    """What a subscriber receives when older changes were pruned: treat it all as changed."""
    return (Change(seq=0, entity=entity, kind=ChangeKind.MANY),)


class ChangeWatcher(QObject):
    """Watches a change feed and calls each subscriber with the changes to its entity."""

    def __init__(
        self,
        source: ChangeSource | None,
        tasks: TaskRunner,
        *,
        interval_ms: int = WATCH_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._tasks = tasks
        self._seen: int | None = None  # the head already handed out; None before the first look
        self._handlers: dict[str, list[ChangeHandler]] = defaultdict(list)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll_now)

    @property
    def available(self) -> bool:
        return self._source is not None

    @property
    def seen(self) -> int | None:
        return self._seen

    def subscribe(self, entity: str, handler: ChangeHandler) -> None:
        self._handlers[entity].append(handler)

    def unsubscribe(self, entity: str, handler: ChangeHandler) -> None:
        if handler in self._handlers.get(entity, []):
            self._handlers[entity].remove(handler)

    def start(self) -> None:
        if self._source is not None and not self._timer.isActive():
            self.poll_now()
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tasks.supersede(self._key)

    @property
    def _key(self) -> tuple:
        return (id(self), "changes")

    def poll_now(self) -> None:
        """Looks at the feed now (a timer does it every second; a local write may ask sooner)."""
        source = self._source
        if source is None or self._tasks.running(self._key):
            return
        seen = self._seen

        def work() -> ChangeBatch | int:
            head = source.head()
            if seen is None or head == seen:
                return head
            return source.since(seen)

        self._tasks.run(
            work,
            key=self._key,
            on_success=self._arrived,
            on_failure=self._failed,
            parent=self,  # type: ignore[arg-type]  # no answer once the watcher is gone
        )

    @staticmethod
    def _failed(exc: BaseException) -> bool:
        log.debug("change feed not read this time: %s", exc)
        return True  # a missed look is not worth a message; the next one tries again

    def _arrived(self, answer: ChangeBatch | int) -> None:
        if isinstance(answer, int):
            if self._seen is None or answer < self._seen:  # first look, or a new database
                self._seen = answer
            return
        self._seen = answer.head
        self.publish(answer.changes, complete=answer.complete)

    def publish(self, changes: Sequence[Change], *, complete: bool = True) -> None:
        """Hands changes to the subscribers of their entities (also for writes of this desk)."""
        by_entity: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_entity[change.entity].append(change)
        if not complete:
            for entity in self._handlers:
                if entity != ANY and entity not in by_entity:
                    by_entity[entity].extend(everything_changed(entity))
        for entity, handlers in list(self._handlers.items()):
            batch = list(changes) if entity == ANY else by_entity.get(entity)
            if not batch:
                continue
            for handler in list(handlers):
                try:
                    handler(tuple(batch))
                except Exception:  # one broken screen must not keep the others stale
                    log.exception("a screen failed to take changes")
