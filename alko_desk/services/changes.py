"""Change announcements: every write appends a `Change`; desks watch the head and read what is new.

`ChangeLog` is the writer, shared by every service (like the audit log). `ChangeFeed` is
what a session reads: `head()` costs one `_id` lookup (a watcher calls it about once a
second), `since(seq)` one lookup per new change. Old entries are pruned as new ones
arrive; a reader that fell behind the pruning gets `complete=False` and refreshes everything.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

from alko_desk.models.changes import Change, ChangeBatch, ChangeKind
from alko_desk.models.errors import AlkoError, PasswordChangeRequired
from alko_desk.models.users import Session
from alko_desk.services.clock import Clock
from alko_desk.storage.changes_repo import ChangeRepository

KEEP = 5000  # entries kept; older ones are deleted as new ones arrive
MAX_BATCH = 500  # a reader further behind than this refreshes everything


class ChangeLog:
    def __init__(self, repo: ChangeRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._lock = threading.Lock()
        self._head = 0
        self._listeners: dict[str, list[Callable[[int], None]]] = defaultdict(list)

    def listen(self, entity: str, handler: Callable[[int], None]) -> None:
        """`handler(seq)` after each change to `entity` announced in this process (caches
        of the composition root; screens and other desks watch the log itself)."""
        self._listeners[entity].append(handler)

    def announce(self, entity: str, kind: ChangeKind, ids: Sequence[str] = ()) -> int:
        """Appends one change; returns its number."""
        with self._lock:
            seq = max(self._head, self._repo.head_hint())
            for _ in range(1000):
                while self._repo.get(seq + 1) is not None:  # a writer that did not move the hint
                    seq += 1
                if self._repo.try_insert(seq + 1, entity, kind, tuple(ids), self._clock.now()):
                    seq += 1
                    break
            else:
                raise AlkoError("The change log is busy; please try again.")
            self._head = seq
            self._repo.advance_head(seq)
            if seq > KEEP:
                self._repo.delete(seq - KEEP)
        for handler in self._listeners.get(entity, ()):
            handler(seq)
        return seq

    def head(self) -> int:
        seq = self._repo.head_hint()
        while self._repo.get(seq + 1) is not None:
            seq += 1
        return seq

    def since(self, seq: int) -> ChangeBatch:
        head = self.head()
        if head - seq > MAX_BATCH:
            return ChangeBatch(head, (), complete=False)
        changes, complete = [], True
        for n in range(seq + 1, head + 1):
            change = self._repo.get(n)
            if change is None:
                complete = False  # pruned (or still being written): refresh everything
                continue
            changes.append(change)
        return ChangeBatch(head, tuple(changes), complete)


class ChangeFeed:
    """What a logged-in desk reads, whatever its role: which entities changed, not their data."""

    def __init__(self, log: ChangeLog, session: Session) -> None:
        self._log = log
        self._session = session

    def _check(self) -> None:
        if self._session.user.must_change_password:
            raise PasswordChangeRequired("Choose a new password before you continue.")

    def head(self) -> int:
        self._check()
        return self._log.head()

    def since(self, seq: int) -> ChangeBatch:
        self._check()
        return self._log.since(seq)


__all__ = ["Change", "ChangeBatch", "ChangeFeed", "ChangeKind", "ChangeLog"]
