"""What every big list asks a service for, and what it gets back.

The service decides the order of rows, once; the GUI shows them in that order.
These are plain records so that the same request crosses a process boundary
(the showroom server) unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class PageRequest:
    """Rows `start`..`start + count` in the order `sort` (a name the entity declares)."""

    start: int = 0
    count: int = 100
    sort: str = ""  # "" is the entity's default sort
    descending: bool = False
    query: str = ""  # search text; empty lists everything
    filters: Mapping[str, Any] = field(default_factory=dict)  # declared filter name -> value


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: tuple[Row, ...]
    total: int  # rows matching the request (all pages)
    start: int = 0


class Progress:
    """The one callback-free token a long service call takes: it reports and may be cancelled.

    Thread-safe: the worker reports, the GUI (or a remote desk) reads and cancels.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self.done = 0
        self.total = 0
        self.text = ""

    def report(self, done: int, total: int = 0, text: str = "") -> None:
        with self._lock:
            self.done, self.total, self.text = done, total, text

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled
