"""The client list: columns, cells and the row source, on the paged list of `ui/table_models.py`.

The rows come in the order the client service returns them, for the list and for a
search alike; the model never sorts. `LegacyClientRows` builds the same `Page` a
`ClientService.list_page(request)` will return, from today's `page()`, `search()`
and `count()`; when `list_page` is there, `client_rows()` becomes
`rows_from(clients.list_page)` and the adapter goes.
"""

from __future__ import annotations

import enum
import threading
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QWidget

from alko_desk.models.clients import ClientRow, ClientSort, ClientStatus
from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.models.text import fold
from alko_desk.ui.clients.formatting import format_datetime
from alko_desk.ui.table_models import (
    PAGE_SIZE,
    ROW_ID_ROLE,
    ROW_ROLE,
    PagedTableModel,
    RowSource,
    unsortable_tooltip,
)
from alko_desk.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from alko_desk.services.clients import ClientService

CLIENT_ID_ROLE = ROW_ID_ROLE
CLIENT_ROW_ROLE = ROW_ROLE
_tr = QCoreApplication.translate
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClientColumn(enum.IntEnum):
    NAME = 0
    CITY = 1
    PHONE = 2
    LAST_ACTIVITY = 3
    STATUS = 4

    @property
    def header(self) -> str:
        return {
            ClientColumn.NAME: _tr("ClientList", "Name"),
            ClientColumn.CITY: _tr("ClientList", "City"),
            ClientColumn.PHONE: _tr("ClientList", "Phone"),
            ClientColumn.LAST_ACTIVITY: _tr("ClientList", "Last activity"),
            ClientColumn.STATUS: _tr("ClientList", "Status"),
        }[self]

    @property
    def sort(self) -> str | None:
        """The service's sort for this column; None when the column cannot be sorted."""
        return _SORTS.get(self)

    @property
    def sort_key(self) -> ClientSort | None:
        return ClientSort(self.sort) if self.sort else None

    @property
    def reads_whole_directory(self) -> bool:
        """Today's directory pages only the name sort; the others read every client first."""
        return self.sort_key in (ClientSort.STATUS, ClientSort.LAST_ACTIVITY)

    @property
    def tooltip(self) -> str:
        if self.sort is None:
            return (
                unsortable_tooltip(self.header) + " " + _tr("ClientList", "It is stored encrypted.")
            )
        if self.reads_whole_directory:
            return _tr(
                "ClientList",
                "Click to sort. Sorting by {column} reads the whole client directory first.",
            ).format(column=self.header.lower())
        return _tr("ClientList", "Click to sort by name, A to Z or Z to A.")

    @classmethod
    def for_sort(cls, sort: ClientSort) -> ClientColumn:
        return next(c for c in cls if c.sort_key is sort)


_SORTS = {
    ClientColumn.NAME: ClientSort.NAME.value,
    ClientColumn.LAST_ACTIVITY: ClientSort.LAST_ACTIVITY.value,
    ClientColumn.STATUS: ClientSort.STATUS.value,
}

STATUS_COLOURS = {
    ClientStatus.RESTRICTED: QColor("#b3261e"),
    ClientStatus.ACTIVE: QColor("#1e6b34"),
}


class ClientListModel(PagedTableModel[ClientRow]):
    """Rows of the client list, in the service's order (see `PagedTableModel`)."""

    columns = ClientColumn
    extra_roles: ClassVar[frozenset[int]] = frozenset({Qt.ItemDataRole.ForegroundRole})

    def __init__(
        self,
        source: RowSource[ClientRow],
        tasks: TaskRunner,
        owner: QWidget | None = None,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(
            source,
            tasks,
            owner,
            page_size=page_size,
            default_column=ClientColumn.NAME,
            title=_tr("ClientList", "Clients"),
            parent=parent,
        )

    @property
    def reading_whole_directory(self) -> bool:
        """True while a status or last-activity sort reads every client (progress and Cancel)."""
        return (
            self.loading
            and not self.loading_query
            and not self.searching
            and self.shown_sort[0].reads_whole_directory
        )

    def client_id(self, row: int) -> str | None:
        return self.row_id(row)  # type: ignore[return-value]

    def display(self, row: ClientRow, column: Any) -> str:
        if column is ClientColumn.NAME:
            return row.display_name
        if column is ClientColumn.CITY:
            return row.city
        if column is ClientColumn.PHONE:
            return row.phone_masked
        if column is ClientColumn.LAST_ACTIVITY:
            return _activity_text(row.last_activity)
        return _tr("ClientStatus", row.status.label)

    def cell(self, row: ClientRow, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column is ClientColumn.PHONE:
            masked = row.phone_masked
            return (
                _tr("ClientList", "Masked. Open the client to see the number.") if masked else None
            )
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = STATUS_COLOURS.get(row.status) if column is ClientColumn.STATUS else None
            return QBrush(colour) if colour else None
        return super().cell(row, column, role)


@lru_cache(maxsize=8192)
def _activity_text(moment):
    return format_datetime(moment)


# -- where the rows come from ---------------------------------------------------------------


def client_rows(clients: ClientService) -> LegacyClientRows:
    """The row source of the client list (the one seam: `rows_from(clients.list_page)` next)."""
    return LegacyClientRows(clients)


class LegacyClientRows:
    """A `Page` per `PageRequest` from today's `ClientService.page()`, `search()` and `count()`.

    Stands in for `ClientService.list_page` until the service has it, so that it decides
    the order as the service will: the list in the directory's order; a search in the order
    `search()` returns, reversed or re-ordered here only for the sorts `search()` does not
    take (as the service will do in its index). Called on worker threads.
    """

    def __init__(self, clients: ClientService) -> None:
        self._clients = clients
        self._lock = threading.Lock()
        self._search: tuple[str, list[ClientRow]] | None = None  # the last search, for its pages

    def invalidate(self) -> None:
        """Forget what the directory cached: the next read sees another desk's writes.

        Today's directory keeps partitions for 15 s; `list_page` reads fresh and drops this.
        """
        directory = getattr(self._clients, "_directory", None)
        if directory is not None:
            directory.invalidate()
        with self._lock:
            self._search = None

    def __call__(self, request: PageRequest, progress: Progress) -> Page[ClientRow]:
        sort = ClientSort(request.sort or ClientSort.NAME.value)
        if request.query:
            rows = self._search_rows(request.query, fresh=request.start == 0)
            ordered = _in_order(rows, sort, request.descending)
            window = ordered[request.start : request.start + request.count]
            return Page(tuple(window), len(ordered), request.start)
        clients = self._clients
        total = clients.count()
        rows = clients.page(
            request.start,
            request.count,
            sort,
            request.descending,
            progress=lambda done, all_parts: progress.report(done, all_parts),
            cancelled=lambda: progress.cancelled,
        )
        return Page(tuple(rows), max(total, request.start + len(rows)), request.start)

    def _search_rows(self, query: str, fresh: bool) -> list[ClientRow]:
        with self._lock:
            cached = self._search
        if not fresh and cached is not None and cached[0] == query:
            return cached[1]
        rows = self._clients.search(query)
        with self._lock:
            self._search = (query, rows)
        return rows


def _in_order(rows: list[ClientRow], sort: ClientSort, descending: bool) -> list[ClientRow]:
    """`search()` answers in name order; the other sorts as the directory orders the list."""
    if sort is ClientSort.NAME:
        return list(reversed(rows)) if descending else list(rows)
    if sort is ClientSort.STATUS:
        key = lambda r: (r.status.value, fold(r.display_name))  # noqa: E731
    else:
        key = lambda r: r.last_activity or _EPOCH  # noqa: E731
    return sorted(rows, key=key, reverse=descending)
