"""The table models of the app: flat tables with columns as an IntEnum, and big paged lists.

`ColumnsTableModel` is a flat table whose `columns` enum gives each column a
`header` (and maybe a `tooltip`). `PagedTableModel` is the one list model for
big collections: it asks a row source for a `Page` of rows at a time, in workers
through the task runner, and shows the rows in the order the source returns them.
The source (the service) decides the order, once; the model never sorts.

A new entity's list needs three things (see `ui/clients/list_model.py`):

    class VehicleColumn(enum.IntEnum):          # columns: header, sort name or None
        MAKE = 0
        PRICE = 1
        @property
        def header(self) -> str: ...
        @property
        def sort(self) -> str | None: ...       # a sort the service declares; None: unsortable

    class VehicleListModel(PagedTableModel):
        columns = VehicleColumn
        def display(self, row, column) -> str: ...

    model = VehicleListModel(rows_from(vehicles.list_page), tasks, owner=page)

and `bind_header(view, model)` for the sort indicator and `ViewAnchor(view, model)`
so that refreshes never move the rows under the user's pointer.
"""

from __future__ import annotations

import difflib
import enum
import logging
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QTableView, QWidget

from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.ui.tasks import TaskControl, TaskRunner

log = logging.getLogger(__name__)

ROOT = QModelIndex()  # the invisible root of a flat table
ROW_ID_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's record id (str)
ROW_ROLE = Qt.ItemDataRole.UserRole + 2  # the row record itself
PAGE_SIZE = 100
REFRESH_LIMIT = 2000  # rows re-read in one request when a change arrives (see `refresh`)
FETCH_CHUNK = 2000  # rows read in one request while fetching down to a record (`fetch_through`)
_tr = QCoreApplication.translate
_Index = QModelIndex | QPersistentModelIndex
Row = TypeVar("Row")


class ColumnsTableModel(QAbstractTableModel):
    """A flat table whose `columns` enum gives each column a `header` (and maybe a `tooltip`).

    Subclasses say how many rows they hold in `row_count` and serve `data`.
    """

    columns: ClassVar[type[enum.IntEnum]]

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return getattr(column, "tooltip", None)
        return None


# -- big lists ----------------------------------------------------------------------------


class RowSource(Protocol[Row]):
    """What a paged list reads from: one page of rows for a request, in the source's order.

    Called on a worker thread. Long reads may report on and honour the `Progress` token.
    """

    def __call__(self, request: PageRequest, progress: Progress) -> Page[Row]: ...


def rows_from(list_page: Callable[[PageRequest], Page[Row]]) -> RowSource[Row]:
    """A service's `list_page(request)` as a row source (it needs no progress token)."""
    return lambda request, _progress: list_page(request)


class _ControlProgress(Progress):
    """The service's progress token, relayed to the GUI through the task's control."""

    def __init__(self, control: TaskControl) -> None:
        super().__init__()
        self._control = control

    def report(self, done: int, total: int = 0, text: str = "") -> None:
        super().report(done, total, text)
        self._control.progress(done, total, text)

    @property
    def cancelled(self) -> bool:
        return self._cancelled or self._control.cancelled


ControlProgress = _ControlProgress  # for other long tasks that report through a service token


class SortableColumn(Protocol):
    """What `PagedTableModel` needs of a column: its header and the sort it stands for."""

    header: str
    sort: str | None


def sortable(column: Any) -> bool:
    """Columns of a paged list declare `sort`: the name of a sort the service offers, or None."""
    return column.sort is not None


def unsortable_tooltip(header: str) -> str:
    return _tr("TableModels", "The list cannot be sorted by {column}.").format(column=header)


class PagedTableModel(ColumnsTableModel, Generic[Row]):
    """Rows of a big list, a page at a time, in the order the row source returns them.

    - `reload()` reads the first page (and the total) again; `set_query(text)` does the
      same for a search; `sort(column, order)` for another declared sort. The rows are
      replaced when the answer arrives; until then the old rows stay.
    - Views ask for more as they scroll (`canFetchMore`/`fetchMore`).
    - `refresh(visible_end)` re-reads the rows shown after something changed and applies
      the difference row by row (inserts, removals, changed cells), so that selection and
      persistent indexes follow their records; `ViewAnchor` keeps the scroll position.
    - Every read is a keyed task: a newer request supersedes an older one, whose answer
      never arrives.

    Subclasses set `columns` (an IntEnum whose members have `header` and `sort`) and
    implement `display(row, column)`; `cell(row, column, role)` serves other roles.
    """

    loading_changed = Signal(bool)
    progress = Signal(int, int)  # done, total: long reads that report (a whole-collection sort)
    sort_changed = Signal(int, Qt.SortOrder)  # the sort in force, also after a refused one
    loaded = Signal()  # rows or the total changed
    refreshing = Signal()  # a refresh is about to change rows (ViewAnchor records the anchor)
    refreshed = Signal()  # ...and has changed them

    extra_roles: ClassVar[frozenset[int]] = frozenset()  # roles `cell` serves besides the usual

    def __init__(
        self,
        source: RowSource[Row],
        tasks: TaskRunner,
        owner: QWidget | None = None,
        *,
        page_size: int = PAGE_SIZE,
        default_column: enum.IntEnum | None = None,
        default_order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
        key_of: Callable[[Row], Hashable] = lambda row: row.id,  # type: ignore[attr-defined]
        title: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._tasks = tasks
        self._owner = owner
        self._key_of = key_of
        self._title = title
        self.page_size = page_size
        self._rows: list[Row] = []
        self._total = 0
        self._column: enum.IntEnum = default_column or next(c for c in self.columns if sortable(c))
        self._order = default_order
        self._query = ""  # the query of the rows shown
        self._filters: dict[str, Any] = {}  # declared filters sent with every request
        self._pending: tuple[enum.IntEnum, Qt.SortOrder, str] | None = None  # a load in flight
        self._ever_loaded = False
        self._failed = False
        self._served = frozenset(
            {
                Qt.ItemDataRole.DisplayRole,
                Qt.ItemDataRole.ToolTipRole,
                ROW_ID_ROLE,
                ROW_ROLE,
                *self.extra_roles,
            }
        )

    # -- for subclasses --------------------------------------------------------------------

    def display(self, row: Row, column: Any) -> str:
        raise NotImplementedError

    def cell(self, row: Row, column: Any, role: int) -> Any:
        """Roles other than display, id and row; the default tooltip is the whole text."""
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.display(row, column) or None
        return None

    # -- state -----------------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self._rows)

    @property
    def total(self) -> int:
        """Rows matching the query shown (all pages)."""
        return self._total

    @property
    def query(self) -> str:
        return self._query

    @property
    def searching(self) -> bool:
        """The rows shown answer a search."""
        return bool(self._query)

    @property
    def loading(self) -> bool:
        return self._tasks.running(self._key("load")) or self._tasks.running(self._key("fetch"))

    @property
    def loading_query(self) -> bool:
        """A search (or the return from one) is being read."""
        return self._pending is not None and self._pending[2] != self._query

    @property
    def refreshing_rows(self) -> bool:
        return self._tasks.running(self._key("refresh"))

    @property
    def ever_loaded(self) -> bool:
        return self._ever_loaded

    @property
    def failed(self) -> bool:
        """The last read failed and was not retried: the rows shown may be incomplete."""
        return self._failed and not self.loading

    @property
    def shown_sort(self) -> tuple[Any, Qt.SortOrder]:
        """The sort being loaded, else the one in force."""
        if self._pending is not None:
            return self._pending[0], self._pending[1]
        return self._column, self._order

    @property
    def sort_column(self) -> Any:
        return self._column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._order

    def row(self, row: int) -> Row | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_id(self, row: int) -> Hashable | None:
        return self._key_of(self._rows[row]) if 0 <= row < len(self._rows) else None

    def row_of(self, row_id: Hashable) -> int:
        key_of = self._key_of
        return next((i for i, r in enumerate(self._rows) if key_of(r) == row_id), -1)

    def _key(self, what: str) -> tuple:
        return (id(self), what)

    def _request(self, start: int, count: int, column: Any, order: Qt.SortOrder, query: str):
        return PageRequest(
            start=start,
            count=count,
            sort=column.sort or "",
            descending=order == Qt.SortOrder.DescendingOrder,
            query=query,
            filters=dict(self._filters),
        )

    def _read(self, what: str, request: PageRequest, arrived: Callable[[Page[Row]], None]):
        source = self._source

        def work(control: TaskControl) -> Page[Row]:
            return source(request, _ControlProgress(control))

        def failed(_exc: BaseException) -> bool:
            if what == "refresh":
                return True  # a background refresh fails quietly; the next change retries
            self._failed = True
            return False  # the runner says why, and offers Retry when the database went away

        self._tasks.run(
            work,
            key=self._key(what),
            with_control=True,
            parent=self._owner,
            title=self._title or _tr("TableModels", "List"),
            on_success=arrived,
            on_failure=failed,
            on_progress=lambda done, total, _text: self.progress.emit(done, total),
            on_finished=lambda: self._read_over(what),
        )

    def _read_over(self, what: str) -> None:
        if what == "load":
            self._pending = None
            self.sort_changed.emit(int(self._column), self._order)  # a failed sort: header back
        self.loading_changed.emit(self.loading)

    # -- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Reads the total and the first page again, for the query shown."""
        self._load(self._column, self._order, self._query)

    @property
    def filters(self) -> dict[str, Any]:
        return dict(self._filters)

    def set_filters(self, filters: dict[str, Any]) -> None:
        """Declared filters (PageRequest.filters) for every request from now on; reloads."""
        self._filters = dict(filters)
        self.reload()

    def set_query(self, query: str) -> None:
        """A search (or, with "", the whole list) in place of the rows, in the sort shown."""
        self._load(self._column, self._order, query.strip())

    def _load(self, column: Any, order: Qt.SortOrder, query: str) -> None:
        self._tasks.supersede(self._key("fetch"))
        self._tasks.supersede(self._key("refresh"))
        self._pending = (column, order, query)
        self._failed = False
        request = self._request(0, self.page_size, column, order, query)
        self._read("load", request, lambda page: self._loaded(column, order, query, page))
        self.loading_changed.emit(True)

    def _loaded(self, column: Any, order: Qt.SortOrder, query: str, page: Page[Row]) -> None:
        self._failed = False
        self.beginResetModel()
        self._rows = list(page.rows)
        self._total = max(page.total, len(self._rows))
        self._column, self._order, self._query = column, order, query
        self._pending = None
        self.endResetModel()
        self._ever_loaded = True
        self.sort_changed.emit(int(column), order)
        self.loaded.emit()

    def canFetchMore(self, parent: _Index = ROOT) -> bool:
        return not parent.isValid() and self._ever_loaded and len(self._rows) < self._total

    def fetchMore(self, parent: _Index = ROOT) -> None:
        if not self.canFetchMore(parent) or self.loading or self.refreshing_rows:
            return
        start = len(self._rows)
        request = self._request(start, self.page_size, self._column, self._order, self._query)
        self._read("fetch", request, lambda page: self._page_arrived(start, page))
        self._failed = False
        self.loading_changed.emit(True)

    def _page_arrived(self, start: int, page: Page[Row]) -> None:
        if start != len(self._rows):
            return  # a refresh changed the rows meanwhile; the view asks again
        self._failed = False
        # A record added meanwhile shifts the pages by a row or two: compare with the tail only,
        # since a set of all 100,000 ids per page would stall the GUI thread.
        key_of = self._key_of
        known = {key_of(r) for r in self._rows[-2 * max(len(page.rows), 1) :]}
        rows = [r for r in page.rows if key_of(r) not in known]
        self._total = page.total
        if not rows:
            self._total = len(self._rows)  # the collection shrank meanwhile: nothing more to fetch
            self.loaded.emit()
            return
        self.beginInsertRows(ROOT, start, start + len(rows) - 1)
        self._rows.extend(rows)
        self._total = max(self._total, len(self._rows))
        self.endInsertRows()
        self.loaded.emit()

    def request_for_position(self) -> PageRequest:
        """The list shown (its sort, search and filters), to ask where a record stands in it."""
        column, order = self.shown_sort
        query = self._pending[2] if self._pending else self._query
        return self._request(0, self.page_size, column, order, query)

    def fetch_through(self, position: int, done: Callable[[bool | None], None]) -> None:
        """Loads the rows down to `position` (and a page past it) in one read, then calls
        `done(True)`; `done(False)` when the rows changed meanwhile (a reload or refresh
        replaced them), `done(None)` when the read failed. For showing one record far down
        the list: its position comes from the service (e.g. `ClientService.list_position`)."""
        if position < len(self._rows):
            done(True)
            return
        start = len(self._rows)
        # In reads of at most FETCH_CHUNK rows, as scrolling down that far would: a record
        # deep in 100,000 is not one request of tens of thousands of rows.
        count = min(position + self.page_size - start, FETCH_CHUNK)
        request = self._request(start, count, self._column, self._order, self._query)
        self._tasks.supersede(self._key("fetch"))

        def arrived(page: Page[Row]) -> None:
            applied = start == len(self._rows)
            self._page_arrived(start, page)
            if applied and position >= len(self._rows) and len(self._rows) > start:
                self.fetch_through(position, done)  # the next chunk
                return
            done(applied and position < len(self._rows))

        self._tasks.run(
            lambda: self._source(request, Progress()),
            key=self._key("fetch"),
            parent=self._owner,
            title=self._title or _tr("TableModels", "List"),
            on_success=arrived,
            on_failure=lambda _exc: done(None) or True,  # the list stays as it was
            on_finished=lambda: self._read_over("fetch"),
        )
        self.loading_changed.emit(True)

    def cancel_loading(self) -> None:
        """The Cancel beside a long read: the rows and the sort stay as they were."""
        if not self.loading:
            return
        self._tasks.supersede(self._key("load"))
        self._tasks.supersede(self._key("fetch"))
        self._pending = None
        self.sort_changed.emit(int(self._column), self._order)
        self.loading_changed.emit(False)

    # -- refreshing after a change -----------------------------------------------------------

    def refresh(self, visible_end: int = 0) -> None:
        """Re-reads the rows shown and applies the difference in place (after a change).

        Up to `REFRESH_LIMIT` rows from the top are read again in one request; rows loaded
        beyond that are dropped (they are below the view and come back as it scrolls).
        Deeper in a long list, the visible rows are read again and updated where they still
        hold the same records; their positions follow at the next reload.
        """
        if not self._ever_loaded:
            self.reload()
            return
        if self.loading:
            return  # the load in flight reads fresh rows anyway
        loaded = len(self._rows)
        if visible_end <= REFRESH_LIMIT:
            count = max(self.page_size, min(loaded, REFRESH_LIMIT))
            request = self._request(0, count, self._column, self._order, self._query)
            self._read("refresh", request, lambda page: self._apply_refresh(request, page))
        else:
            start = max(0, visible_end - 2 * self.page_size)
            request = self._request(
                start, 3 * self.page_size, self._column, self._order, self._query
            )
            self._read("refresh", request, lambda page: self._apply_in_place(page))

    def _apply_refresh(self, request: PageRequest, page: Page[Row]) -> None:
        self._failed = False
        self.refreshing.emit()
        key_of = self._key_of
        new_rows = list(page.rows)
        if len(self._rows) > request.count:  # below the re-read range: fetched again on scroll
            self.beginRemoveRows(ROOT, request.count, len(self._rows) - 1)
            del self._rows[request.count :]
            self.endRemoveRows()
        old_ids = [key_of(r) for r in self._rows]
        new_ids = [key_of(r) for r in new_rows]
        matcher = difflib.SequenceMatcher(None, old_ids, new_ids, autojunk=False)
        last_column = len(self.columns) - 1
        # Backwards, so that the row numbers of the operations still to come stay valid.
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                changed = [k for k in range(i2 - i1) if self._rows[i1 + k] != new_rows[j1 + k]]
                for k in changed:
                    self._rows[i1 + k] = new_rows[j1 + k]
                if changed:
                    self.dataChanged.emit(
                        self.index(i1 + changed[0], 0), self.index(i1 + changed[-1], last_column)
                    )
                continue
            if i2 > i1:
                self.beginRemoveRows(ROOT, i1, i2 - 1)
                del self._rows[i1:i2]
                self.endRemoveRows()
            if j2 > j1:
                self.beginInsertRows(ROOT, i1, i1 + j2 - j1 - 1)
                self._rows[i1:i1] = new_rows[j1:j2]
                self.endInsertRows()
        self._total = max(page.total, len(self._rows))
        self.refreshed.emit()
        self.loaded.emit()

    def _apply_in_place(self, page: Page[Row]) -> None:
        self._failed = False
        key_of = self._key_of
        fresh = {key_of(r): r for r in page.rows}
        start = max(0, page.start - 2 * self.page_size)
        end = min(len(self._rows), page.start + len(page.rows) + 2 * self.page_size)
        last_column = len(self.columns) - 1
        for i in range(start, end):
            new = fresh.get(key_of(self._rows[i]))
            if new is not None and new != self._rows[i]:
                self._rows[i] = new
                self.dataChanged.emit(self.index(i, 0), self.index(i, last_column))
        self._total = max(page.total, len(self._rows))
        self.loaded.emit()

    # -- sorting ---------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        try:
            wanted = self.columns(column)
        except ValueError:
            return
        current = self.shown_sort
        if not sortable(wanted):
            self.sort_changed.emit(int(current[0]), current[1])  # the indicator goes back
            return
        if (wanted, order) == current and (self._ever_loaded or self.loading):
            return
        query = self._pending[2] if self._pending else self._query
        self._load(wanted, order, query)

    # -- Qt's model interface --------------------------------------------------------------

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.ToolTipRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.columns)
        ):
            column = self.columns(section)
            tooltip = getattr(column, "tooltip", None)
            if tooltip:
                return tooltip
            return None if sortable(column) else unsortable_tooltip(column.header)
        return super().headerData(section, orientation, role)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every role of every visible cell on each repaint while scrolling: the
        # roles we do not serve (fonts, alignment, size hints...) leave before any other work.
        if role not in self._served or not index.isValid():
            return None
        r = index.row()
        if not 0 <= r < len(self._rows):
            return None
        row = self._rows[r]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, self.columns(index.column()))
        if role == ROW_ID_ROLE:
            return self._key_of(row)
        if role == ROW_ROLE:
            return row
        return self.cell(row, self.columns(index.column()), role)


_ROW_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)


# -- views over a paged model ---------------------------------------------------------------


def bind_header(view: QTableView, model: PagedTableModel) -> None:
    """Clicking a header sorts in the source; the indicator shows the sort in force only.

    A click on a column that cannot be sorted changes nothing (the indicator goes back at
    once), and its tooltip says why.
    """
    header = view.horizontalHeader()
    column, order = model.shown_sort
    header.setSortIndicator(int(column), order)
    view.setSortingEnabled(True)

    def show(section: int, order: Qt.SortOrder) -> None:
        if header.sortIndicatorSection() != section or header.sortIndicatorOrder() != order:
            header.setSortIndicator(section, order)

    model.sort_changed.connect(show)


class ViewAnchor(QObject):
    """Keeps the row under the pointer (else the top row) where it was while a model refreshes.

    Rows inserted or removed above it would otherwise slide it up or down under the user's
    hand; the selection follows its record by itself (persistent indexes).
    """

    def __init__(self, view: QTableView, model: PagedTableModel) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._anchor: tuple[Hashable, int] | None = None  # row id, its y in the viewport
        model.refreshing.connect(self._record)
        model.refreshed.connect(self._restore)

    def _record(self) -> None:
        view, viewport = self._view, self._view.viewport()
        pointer = viewport.mapFromGlobal(QCursor.pos())
        y = pointer.y() if viewport.rect().contains(pointer) else 0
        row = view.rowAt(y)
        self._anchor = None
        if row >= 0:
            self._anchor = (self._model.row_id(row), view.rowViewportPosition(row))

    def _restore(self) -> None:
        if self._anchor is None:
            return
        row_id, y = self._anchor
        self._anchor = None
        row = self._model.row_of(row_id)
        if row < 0:
            return
        view = self._view
        bar = view.verticalScrollBar()
        now = view.rowViewportPosition(row)
        if now == y:
            return
        if view.verticalScrollMode() == QTableView.ScrollMode.ScrollPerItem:
            # Scroll values count rows: move by the rows the anchor moved.
            height = max(view.rowHeight(row), 1)
            bar.setValue(bar.value() + round((now - y) / height))
        else:
            bar.setValue(bar.value() + now - y)


__all__ = [
    "PAGE_SIZE",
    "ROW_ID_ROLE",
    "ROW_ROLE",
    "ColumnsTableModel",
    "PagedTableModel",
    "RowSource",
    "ViewAnchor",
    "bind_header",
    "rows_from",
]
