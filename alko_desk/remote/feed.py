"""Change announcements for remote desks.

When the platform's `ChangeFeed` is on `SessionServices.changes` (head() and since(seq)),
the server's event streams read that, and this feed only wakes them (`notify`) after each
write through the RPC. Without it this in-memory feed stands in: the RPC layer appends a
`Change` after every successful call that is not a read. It lives as long as the server
process (a restart starts again at 0; desks then see an incomplete batch and refresh
everything).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from alko_desk.models.changes import Change, ChangeBatch, ChangeKind

# Method names that only read; anything else that succeeds is announced as a change.
READ_PREFIXES = (
    "get",
    "page",
    "search",
    "count",
    "list",
    "validate",
    "now",
    "reveal",
    "entries",
    "verify",
    "company",
    "find",
    "head",
    "since",
    "describe",
    "export",
    "render",
    "download",
    "preview",
)
ADDING = ("register", "create", "add", "import", "upload")
REMOVING = ("delete", "remove", "erase", "destroy", "forget")


def is_read(method: str) -> bool:
    return method.startswith(READ_PREFIXES)


def change_for(service: str, method: str, result: Any) -> tuple[str, ChangeKind, tuple[str, ...]]:
    if method.endswith("_many") or method.startswith("import"):
        return service, ChangeKind.MANY, ()
    if method.startswith(ADDING):
        kind = ChangeKind.ADDED
    elif method.startswith(REMOVING):
        kind = ChangeKind.REMOVED
    else:
        kind = ChangeKind.UPDATED
    ident = getattr(result, "id", None) or getattr(result, "username", None)
    return service, kind, (str(ident),) if isinstance(ident, str) else ()


class MemoryFeed:
    """A numbered, bounded log of changes; waiters are woken by `on_publish` callbacks."""

    def __init__(self, keep: int = 5000) -> None:
        self._lock = threading.Lock()
        self._changes: deque[Change] = deque(maxlen=keep)
        self._head = 0
        self._listeners: list = []

    def add_listener(self, callback) -> None:
        self._listeners.append(callback)

    def publish(self, entity: str, kind: ChangeKind, ids: tuple[str, ...] = ()) -> Change:
        with self._lock:
            self._head += 1
            change = Change(self._head, entity, kind, ids, datetime.now(UTC))
            self._changes.append(change)
        self.notify()
        return change

    def notify(self) -> None:
        """Wakes the event streams (a change was written, here or in the change log)."""
        for callback in list(self._listeners):
            callback()

    def head(self) -> int:
        return self._head

    def since(self, seq: int) -> ChangeBatch:
        with self._lock:
            head = self._head
            changes = tuple(c for c in self._changes if c.seq > seq)
            oldest = self._changes[0].seq if self._changes else head + 1
        complete = seq >= head or oldest <= seq + 1
        if seq > head:  # a desk that knew a feed from before a restart
            complete = False
        return ChangeBatch(head, changes, complete)
