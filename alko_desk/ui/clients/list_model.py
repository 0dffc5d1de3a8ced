"""The client list: a table model over the directory, a page at a time, sorted in the service.

The model keeps the rows loaded so far and the directory's total. Views ask for
more as they scroll (`canFetchMore`/`fetchMore`); each page is read by a worker
through the task runner, so the window never waits for the database. Sorting by
name pages in the service both ways; status and last activity need the whole
directory read first, which reports progress and can be cancelled. Search
results replace the rows with a fixed list until the search is cleared.

Every load carries a generation number: a page that arrives after a new sort, a
new search or a reload is dropped instead of being mixed into the new rows.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QWidget

from alko_desk.models.clients import ClientRow, ClientSort, ClientStatus
from alko_desk.models.text import fold
from alko_desk.ui.clients.formatting import format_datetime
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import Task, TaskControl, TaskRunner

if TYPE_CHECKING:
    from alko_desk.services.clients import ClientService

CLIENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
CLIENT_ROW_ROLE = Qt.ItemDataRole.UserRole + 2
PAGE_SIZE = 100
_tr = QCoreApplication.translate
_Index = QModelIndex | QPersistentModelIndex


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
    def sort_key(self) -> ClientSort | None:
        """The service's sort for this column; None when the column cannot be sorted."""
        return {
            ClientColumn.NAME: ClientSort.NAME,
            ClientColumn.LAST_ACTIVITY: ClientSort.LAST_ACTIVITY,
            ClientColumn.STATUS: ClientSort.STATUS,
        }.get(self)

    @property
    def reads_whole_directory(self) -> bool:
        return self.sort_key in (ClientSort.STATUS, ClientSort.LAST_ACTIVITY)

    @property
    def tooltip(self) -> str:
        if self.sort_key is None:
            return _tr(
                "ClientList", "{column} is stored encrypted, so the list cannot be sorted by it."
            ).format(column=self.header)
        if self.reads_whole_directory:
            return _tr(
                "ClientList",
                "Click to sort. Sorting by {column} reads the whole client directory first.",
            ).format(column=self.header.lower())
        return _tr("ClientList", "Click to sort by name, A to Z or Z to A.")

    @classmethod
    def for_sort(cls, sort: ClientSort) -> ClientColumn:
        return next(c for c in cls if c.sort_key is sort)


STATUS_COLOURS = {
    ClientStatus.RESTRICTED: QColor("#b3261e"),
    ClientStatus.ACTIVE: QColor("#1e6b34"),
}


def _local_sort_key(column: ClientColumn):
    if column is ClientColumn.STATUS:
        return lambda r: (r.status.value, fold(r.display_name))
    if column is ClientColumn.LAST_ACTIVITY:
        return lambda r: (r.last_activity is not None, r.last_activity or 0)
    return lambda r: fold(r.display_name)


class ClientListModel(ColumnsTableModel):
    """Rows of the client list; see the module docstring."""

    columns = ClientColumn

    def row_count(self) -> int:
        return len(self._rows)

    loading_changed = Signal(bool)
    progress = Signal(int, int)  # directory parts read, parts in all (whole-directory sorts)
    sort_changed = Signal(
        int, Qt.SortOrder
    )  # the sort in force, also after a refused or cancelled one
    loaded = Signal()  # rows or the total changed after a load

    def __init__(
        self,
        clients: ClientService,
        tasks: TaskRunner,
        owner: QWidget | None = None,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._clients = clients
        self._tasks = tasks
        self._owner = owner
        self.page_size = page_size
        self._rows: list[ClientRow] = []
        self._total = 0
        self._searching = False
        self._query = ""
        self._column = ClientColumn.NAME
        self._order = Qt.SortOrder.AscendingOrder
        self._generation = 0
        self._load: Task | None = None  # a reload or a new sort: replaces the rows when it arrives
        self._fetch: Task | None = None  # the next page: appended when it arrives
        self._pending_sort: tuple[ClientColumn, Qt.SortOrder] | None = None
        self._ever_loaded = False
        self._failed = False  # the last load or page failed (the runner said why); a reload retries

    # -- what the page shows around the table ---------------------------------------------

    @property
    def total(self) -> int:
        """Clients in the directory (list) or matches (search)."""
        return self._total

    @property
    def searching(self) -> bool:
        return self._searching

    @property
    def query(self) -> str:
        return self._query

    @property
    def loading(self) -> bool:
        return self._load is not None or self._fetch is not None

    @property
    def ever_loaded(self) -> bool:
        return self._ever_loaded

    @property
    def failed(self) -> bool:
        """The last read failed and was not retried: the rows shown may be incomplete."""
        return self._failed and not self.loading

    @property
    def shown_sort(self) -> tuple[ClientColumn, Qt.SortOrder]:
        """The sort being loaded, else the one in force."""
        return self._pending_sort or (self._column, self._order)

    @property
    def reading_whole_directory(self) -> bool:
        """True while a status or last-activity sort reads every client (progress and Cancel)."""
        return self.loading and not self._searching and self.shown_sort[0].reads_whole_directory

    @property
    def sort_column(self) -> ClientColumn:
        return self._column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._order

    def client_id(self, row: int) -> str | None:
        return self._rows[row].id if 0 <= row < len(self._rows) else None

    def row_of(self, client_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == client_id), -1)

    # -- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Reads the total and the first page again (after a write, or to leave a search)."""
        self._searching = False
        self._query = ""
        self._start_load(self._column, self._order)

    def _start_load(self, column: ClientColumn, order: Qt.SortOrder) -> None:
        self._cancel_tasks()
        self._generation += 1
        generation = self._generation
        self._pending_sort = (column, order)
        clients, count = self._clients, self.page_size
        sort, descending = column.sort_key or ClientSort.NAME, order == Qt.SortOrder.DescendingOrder

        def work(control: TaskControl) -> tuple[int, list[ClientRow]]:
            total = clients.count()
            rows = clients.page(
                0,
                count,
                sort,
                descending,
                progress=control.progress,
                cancelled=lambda: control.cancelled,
            )
            return total, rows

        self._load = self._tasks.run(
            work,
            with_control=True,
            parent=self._owner,
            title=_tr("ClientList", "Clients"),
            on_success=lambda result: self._loaded(generation, column, order, *result),
            on_failure=lambda _exc: self._read_failed(generation),
            on_progress=lambda done, total, _text: self.progress.emit(done, total),
            on_finished=lambda: self._load_over(generation),
        )
        self._failed = False
        self.loading_changed.emit(True)

    def _loaded(
        self,
        generation: int,
        column: ClientColumn,
        order: Qt.SortOrder,
        total: int,
        rows: list[ClientRow],
    ) -> None:
        if generation != self._generation or self._searching:
            return
        self._failed = False  # a Retry from the runner's message succeeded
        self.beginResetModel()
        self._rows = list(rows)
        self._total = max(total, len(rows))
        self._column, self._order = column, order
        self.endResetModel()
        self._ever_loaded = True
        self.sort_changed.emit(int(column), order)
        self.loaded.emit()

    def _read_failed(self, generation: int) -> bool:
        if generation == self._generation:
            self._failed = True
        return False  # the runner shows why, and offers Retry when the database went away

    def _load_over(self, generation: int) -> None:
        if generation == self._generation:
            self._load = None
            self._pending_sort = None
            self.sort_changed.emit(
                int(self._column), self._order
            )  # a failed sort puts the header back
            self.loading_changed.emit(self.loading)

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:
        if parent.isValid() or self._searching:
            return False
        return len(self._rows) < self._total

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:
        if not self.canFetchMore(parent) or self._fetch is not None or self._load is not None:
            return
        generation, start = self._generation, len(self._rows)
        clients, count = self._clients, self.page_size
        sort, descending = (
            self._column.sort_key or ClientSort.NAME,
            self._order == Qt.SortOrder.DescendingOrder,
        )

        def work(control: TaskControl) -> list[ClientRow]:
            return clients.page(
                start,
                count,
                sort,
                descending,
                progress=control.progress,
                cancelled=lambda: control.cancelled,
            )

        self._fetch = self._tasks.run(
            work,
            with_control=True,
            parent=self._owner,
            title=_tr("ClientList", "Clients"),
            on_success=lambda rows: self._page_arrived(generation, start, rows),
            on_failure=lambda _exc: self._read_failed(generation),
            on_progress=lambda done, total, _text: self.progress.emit(done, total),
            on_finished=lambda: self._fetch_over(generation),
        )
        self._failed = False
        self.loading_changed.emit(True)

    def _page_arrived(self, generation: int, start: int, rows: list[ClientRow]) -> None:
        if generation != self._generation or start != len(self._rows):
            return
        self._failed = False
        # A client added meanwhile shifts the pages by a row or two: compare with the tail only,
        # since a set of all 100,000 ids per page would stall the GUI thread.
        known = {r.id for r in self._rows[-2 * max(len(rows), 1) :]}
        rows = [r for r in rows if r.id not in known]
        if not rows:
            self._total = len(self._rows)  # the directory shrank meanwhile: nothing more to fetch
            self.loaded.emit()
            return
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows.extend(rows)
        self._total = max(self._total, len(self._rows))
        self.endInsertRows()
        self.loaded.emit()

    def _fetch_over(self, generation: int) -> None:
        if generation == self._generation:
            self._fetch = None
            self.loading_changed.emit(self.loading)

    def cancel_loading(self) -> None:
        """The Cancel beside the progress bar: the rows and the sort stay as they were."""
        if not self.loading:
            return
        self._cancel_tasks()
        self._generation += 1
        self._pending_sort = None
        self.sort_changed.emit(int(self._column), self._order)
        self.loading_changed.emit(False)

    def _cancel_tasks(self) -> None:
        for task in (self._load, self._fetch):
            if task is not None:
                task.cancel()
        self._load = self._fetch = None

    # -- search ----------------------------------------------------------------------------

    def show_results(self, query: str, rows: list[ClientRow]) -> None:
        """A search's matches, in place of the list, in the sort the header shows."""
        self._cancel_tasks()
        self._failed = False
        self._generation += 1
        self._pending_sort = None
        self.beginResetModel()
        self._searching = True
        self._query = query
        self._rows = self._sorted_locally(rows, self._column, self._order)
        self._total = len(self._rows)
        self.endResetModel()
        self._ever_loaded = True
        self.loading_changed.emit(False)
        self.loaded.emit()

    def _sorted_locally(
        self, rows: list[ClientRow], column: ClientColumn, order: Qt.SortOrder
    ) -> list[ClientRow]:
        return sorted(
            rows, key=_local_sort_key(column), reverse=order == Qt.SortOrder.DescendingOrder
        )

    # -- sorting ---------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        try:
            wanted = ClientColumn(column)
        except ValueError:
            return
        current = self.shown_sort
        if wanted.sort_key is None:
            self.sort_changed.emit(
                int(current[0]), current[1]
            )  # encrypted column: header goes back
            return
        if (wanted, order) == current and (self._ever_loaded or self.loading):
            return
        if self._searching:
            self.layoutAboutToBeChanged.emit()
            ids_before = [r.id for r in self._rows]
            self._rows = self._sorted_locally(self._rows, wanted, order)
            self._column, self._order = wanted, order
            self._move_persistent_indexes(ids_before)
            self.layoutChanged.emit()
            self.sort_changed.emit(int(wanted), order)
            return
        self._start_load(wanted, order)

    def _move_persistent_indexes(self, ids_before: list[str]) -> None:
        new_row = {r.id: i for i, r in enumerate(self._rows)}
        old = self.persistentIndexList()
        new = [self.index(new_row[ids_before[i.row()]], i.column()) for i in old]
        self.changePersistentIndexList(old, new)

    # -- Qt's model interface --------------------------------------------------------------

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every role of every visible cell on each repaint while scrolling: the
        # roles we do not serve (fonts, alignment, size hints...) leave before any other work.
        if role not in _SERVED_ROLES or not index.isValid():
            return None
        r = index.row()
        if not 0 <= r < len(self._rows):
            return None
        row = self._rows[r]
        column = _COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == CLIENT_ID_ROLE:
            return row.id
        if role == CLIENT_ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is ClientColumn.PHONE:
                return (
                    _tr("ClientList", "Masked. Open the client to see the number.")
                    if row.phone_masked
                    else None
                )
            return self._display(row, column) or None  # the whole text where the column cuts it off
        if role == Qt.ItemDataRole.ForegroundRole and column is ClientColumn.STATUS:
            colour = STATUS_COLOURS.get(row.status)
            return QBrush(colour) if colour else None
        return None

    @staticmethod
    def _display(row: ClientRow, column: ClientColumn) -> str:
        if column is ClientColumn.NAME:
            return row.display_name
        if column is ClientColumn.CITY:
            return row.city
        if column is ClientColumn.PHONE:
            return row.phone_masked
        if column is ClientColumn.LAST_ACTIVITY:
            return _activity_text(row.last_activity)
        return _tr("ClientStatus", row.status.label)


_COLUMNS = tuple(ClientColumn)
_ROW_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
_SERVED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        CLIENT_ID_ROLE,
        CLIENT_ROW_ROLE,
    }
)


@lru_cache(maxsize=8192)
def _activity_text(moment):
    return format_datetime(moment)
