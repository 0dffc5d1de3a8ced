"""The change feed of a remote desk, fed by the server's event stream.

The server pushes change announcements as Server-Sent Events (`GET /v1/events`, see
remote/server.py). `PushedChangeFeed` keeps what arrives in memory and answers the same
`head()` / `since(seq)` as the platform's `ChangeFeed`, so the window's `ChangeWatcher`
reads it as it reads the in-process feed: its once-a-second look costs no round trip, and
another desk's write is on screen within about a second.

One daemon thread per logged-in desk holds the stream; it reconnects with the head it has
(the server answers with what it missed, or `complete=False` when that was pruned). While
the stream is down (server restarting, session ended at the idle lock) `head()` and
`since()` ask the server directly through the RPC, as before.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from alko_desk.models.changes import ChangeBatch
from alko_desk.models.errors import AlkoError
from alko_desk.models.remote import SessionEnded

log = logging.getLogger(__name__)

RETRY_SECONDS = (0.2, 1.0, 2.0, 5.0)


class StreamClosed(Exception):
    """The desk's connection to the server was closed: the stream ends for good."""


# open_stream(token, since) -> an iterator of (event name, decoded envelope); it raises the
# envelope's error when the server refuses the stream, ServerUnavailable when it is gone.
StreamOpener = Callable[[str, int], Iterator[tuple[str, Any]]]


class PushedChangeFeed:
    def __init__(
        self,
        open_stream: StreamOpener,
        token: Callable[[], str],
        fallback: Any,
        keep: int = 5000,
    ) -> None:
        self._open = open_stream
        self._token = token
        self._fallback = fallback  # the RPC proxy of the server's ChangeFeed
        self._cond = threading.Condition()
        self._changes: deque = deque(maxlen=keep)
        self._head = -1
        self._base = -1  # changes after `_base` are all held (older ones were not seen)
        self._live = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0  # batches received (tests and diagnostics)

    # -- the ChangeFeed interface ------------------------------------------------------------
    def head(self) -> int:
        with self._cond:
            if self._live:
                return self._head
        head = self._fallback.head()
        self.start(head)  # the stream starts where the reader stands: nothing falls between
        return head

    def since(self, seq: int) -> ChangeBatch:
        self.start(seq)
        with self._cond:
            if self._live:
                return self._held_after(seq)
        return self._fallback.since(seq)

    def _held_after(self, seq: int) -> ChangeBatch:
        changes = tuple(c for c in self._changes if c.seq > seq)
        complete = self._base <= seq <= self._head
        return ChangeBatch(self._head, changes, complete)

    def wait(self, since: int, timeout: float) -> ChangeBatch:
        """Changes after `since`, waiting up to `timeout` seconds for the stream to bring one."""
        self.start(since)
        with self._cond:
            self._cond.wait_for(
                lambda: self._stop.is_set() or (self._live and self._head != since), timeout
            )
        return self.since(since)

    @property
    def live(self) -> bool:
        return self._live

    # -- the stream ----------------------------------------------------------------------
    def start(self, since: int = -1) -> None:
        """Opens the stream (once), asking first for the changes after `since`."""
        with self._cond:
            if self._thread is not None or self._stop.is_set():
                return
            self._head = self._base = since
            self._thread = threading.Thread(target=self._run, name="alko-changes", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._live = False
            self._cond.notify_all()

    def _run(self) -> None:
        failures = 0
        dead_token = None  # the token of a session the server ended: wait for a new login
        while not self._stop.is_set():
            token = self._token()
            if not token or token == dead_token:
                self._stop.wait(1.0)
                continue
            try:
                with self._cond:
                    since = self._head
                for name, envelope in self._open(token, since):
                    if self._stop.is_set():
                        return
                    error = envelope.get("error") if isinstance(envelope, dict) else None
                    if name == "ended" or error is not None:
                        raise error if isinstance(error, AlkoError) else SessionEnded("ended")
                    if name == "changes":
                        self._take(envelope["ok"])
                        failures = 0
            except StreamClosed:
                break
            except SessionEnded:
                dead_token = token
            except AlkoError as exc:
                log.debug("change stream interrupted: %s", exc)
            except Exception:  # noqa: BLE001 - a broken stream must not end the desk
                if self._stop.is_set():
                    return
                log.debug("change stream failed", exc_info=True)
            with self._cond:
                self._live = False
                self._cond.notify_all()
            failures += 1
            self._stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])
        with self._cond:
            self._live = False
            self._cond.notify_all()

    def _take(self, batch: ChangeBatch) -> None:
        with self._cond:
            if not self._live:  # (re)connected: the first batch says where we stand
                if not batch.complete or self._head < 0 or batch.head < self._head:
                    self._changes.clear()
                    self._base = batch.head
            elif not batch.complete:
                self._changes.clear()
                self._base = batch.head
            for change in batch.changes:
                if len(self._changes) == self._changes.maxlen:
                    self._base = self._changes[0].seq
                if change.seq > self._base:
                    self._changes.append(change)
            self._head = batch.head
            self._live = True
            self.delivered += 1
            self._cond.notify_all()
