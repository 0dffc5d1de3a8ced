"""The parts every list screen is built from, so that no screen copies another's.

- `ListColumn` and `Column`: a list's columns declared one line each (header, the service's
  sort, the sample text that sizes the column, figures on the right, a header tooltip).
- `ListModel`: the paged model of such columns; a list states its title and first sort.
- `page_layout(widget, title)`: the screen's margins and heading.
- `button_row(...)`: a row of filters or buttons, with an optional right-hand end.
- `list_view(model, ...)`: a table of whole rows, one highlighted at a time, columns sized
  for their longest sample text.
- `RecordPanel`: the highlighted record as label/value rows beside the list.
- `PagedList`: ties a `PagedTableModel` to its view: the header's sort indicator, the
  scroll anchor, change announcements (refreshed in a batch, keeping selection and scroll;
  a hidden screen refreshes when shown again), and the detail panel that always shows the
  highlighted row, also when a refresh changes or removes it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alko_desk.ui.table_models import (
    PAGE_SIZE,
    ROW_ID_ROLE,
    PagedTableModel,
    RowSource,
    ViewAnchor,
    bind_header,
)
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import heading, note

if TYPE_CHECKING:
    from PySide6.QtCore import QAbstractItemModel

    from alko_desk.ui.changes import ChangeWatcher

REFRESH_DELAY_MS = 150  # changes arriving together are read in one refresh
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_tr = QCoreApplication.translate
Row = TypeVar("Row")


# -- columns and their model -----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """What a list declares of one column (see `ListColumn`)."""

    header: str  # source text, translated in the column enum's context
    sort: enum.Enum | str | None = None  # the service's sort; None: the column does not sort
    sample: str = ""  # the column's widest usual text: `list_view` sizes it for this
    sample_context: str = ""  # translate the sample in this context (a status's label)
    tooltip: str = ""  # the header's tooltip, source text in the enum's context
    right: bool = False  # figures: aligned right
    stretch: bool = False  # takes the width the others leave (`list_view`)


class ListColumn(enum.IntEnum):
    """The columns of a list, numbered in the order declared, each a `Column`; headers,
    tooltips and samples are translated in the context the class names:

        class DealColumn(ListColumn, context="DealsModel"):
            ID = Column("Deal", DealSort.CREATED, sample="D-2612-0A0A0A")
            CLIENT = Column("Client", tooltip="The list cannot be sorted by client: ...")

    Members have what the table models ask of a column: `header`, `sort` (the sort's
    value, or None), `tooltip`; and `alignment` and `sample` for the view.
    """

    context: ClassVar[str]
    spec: Column

    def __new__(cls, spec: Column) -> ListColumn:
        number = len(cls.__members__)
        member = int.__new__(cls, number)
        member._value_ = number
        member.spec = spec
        return member

    def __init_subclass__(cls, context: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.context = context

    @property
    def header(self) -> str:
        return _tr(self.context, self.spec.header)

    @property
    def sort(self) -> str | None:
        sort = self.spec.sort
        return sort.value if isinstance(sort, enum.Enum) else sort

    @property
    def tooltip(self) -> str | None:
        return _tr(self.context, self.spec.tooltip) if self.spec.tooltip else None

    @property
    def alignment(self) -> int | None:
        return RIGHT if self.spec.right else None

    @property
    def sample(self) -> str:
        spec = self.spec
        return _tr(spec.sample_context, spec.sample) if spec.sample_context else spec.sample

    @classmethod
    def samples(cls) -> dict[ListColumn, str]:
        return {column: column.sample for column in cls if column.spec.sample}

    @classmethod
    def stretched(cls) -> ListColumn | None:
        return next((column for column in cls if column.spec.stretch), None)


class ListModel(PagedTableModel[Row]):
    """A paged list of `ListColumn` columns: figures aligned right, and the constructor
    every list has, with its title and first sort declared on the class."""

    columns: ClassVar[type[ListColumn]]
    title: ClassVar[str] = ""  # source text, translated in the columns' context
    first_sort: ClassVar[ListColumn | None] = None  # None: the first sortable column
    first_order: ClassVar[Qt.SortOrder] = Qt.SortOrder.AscendingOrder
    extra_roles: ClassVar[frozenset[int]] = frozenset({Qt.ItemDataRole.TextAlignmentRole})

    def __init__(
        self,
        source: RowSource[Row],
        tasks: TaskRunner,
        owner: QWidget | None = None,
        *,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(
            source,
            tasks,
            owner,
            page_size=page_size,
            default_column=self.first_sort,
            default_order=self.first_order,
            key_of=self.key_of,
            title=_tr(self.columns.context, self.title),
            parent=parent,
        )

    @staticmethod
    def key_of(row: Any) -> Hashable:
        """The record id of a row."""
        return row.id

    def cell(self, row: Row, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment
        return super().cell(row, column, role)


def page_layout(widget: QWidget, title: str) -> QVBoxLayout:
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(16, 12, 16, 12)
    layout.setSpacing(8)
    layout.addWidget(heading(title))
    return layout


def button_row(*widgets: QWidget, end: Sequence[QWidget] = (), stretch: bool = True) -> QHBoxLayout:
    """`widgets` from the left, then (after a stretch) `end` at the right."""
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    if stretch:
        row.addStretch(1)
    for widget in end:
        row.addWidget(widget)
    return row


def list_view(
    model: QAbstractItemModel,
    *,
    stretch: int | None = None,
    samples: dict[enum.IntEnum, str] | None = None,
    name: str = "",
) -> QTableView:
    """A read-only table of whole rows, one highlighted at a time, texts on one line.

    `stretch` takes the width left; each column in `samples` is as wide as its sample text
    (or its header, if wider), so that ids, VINs and amounts are never cut. Both default to
    what the model's `ListColumn` columns declare."""
    columns = getattr(model, "columns", None)
    if isinstance(columns, type) and issubclass(columns, ListColumn):
        stretch = columns.stretched() if stretch is None else stretch
        samples = columns.samples() if samples is None else samples
    view = QTableView()
    view.setModel(model)
    if name:
        view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(False)
    header.setMinimumSectionSize(40)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    fm = view.fontMetrics()
    bold = header.font()
    bold.setBold(True)
    header_fm = QFontMetrics(bold)
    for column, sample in (samples or {}).items():
        title = str(model.headerData(int(column), Qt.Orientation.Horizontal) or "")
        # the header leaves room for the sort indicator
        width = max(fm.horizontalAdvance(sample) + 16, header_fm.horizontalAdvance(title) + 34)
        header.resizeSection(int(column), width)
    return view


class RecordPanel(QWidget):
    """One record as label/value rows, with a title and a note under them (may wrap)."""

    def __init__(self, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._empty_text = empty_text
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 4, 4, 4)
        self.title = heading("", 12)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.form)
        self.note = note("")
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.record_id: Hashable | None = None
        self.clear()

    def show_record(
        self,
        record_id: Hashable,
        title: str,
        rows: Sequence[tuple[str, str]],
        note_text: str = "",
        *,
        amounts_from: int | None = None,
    ) -> None:
        """Values from row `amounts_from` on are right-aligned: figures line up."""
        self.record_id = record_id
        self.title.setText(title)
        while self.form.rowCount():
            self.form.removeRow(0)
        for n, (label, value) in enumerate(rows):
            amount = amounts_from is not None and n >= amounts_from
            shown = QLabel(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(not amount)
            if amount:
                shown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.form.addRow(QLabel(label), shown)
        self.note.setText(note_text)
        self.note.setVisible(bool(note_text))

    def clear(self) -> None:
        self.record_id = None
        self.title.setText("")
        while self.form.rowCount():
            self.form.removeRow(0)
        self.note.setText(self._empty_text)
        self.note.setVisible(bool(self._empty_text))

    def text(self) -> str:
        """Everything shown, one line a row (for tests and for copying)."""
        if self.record_id is None:
            return ""
        lines = [self.title.text()]
        for row in range(self.form.rowCount()):
            label = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            value = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and value is not None:
                lines.append(f"{label.widget().text()}: {value.widget().text()}")
        if self.note.text():
            lines.append(self.note.text())
        return "\n".join(lines)


class ListSplitter(QSplitter):
    """The list on the left, the highlighted record's panel on the right; the list gets most
    of the width at first (the user may move the handle)."""

    def __init__(self, view: QWidget, detail: QWidget, detail_width: int = 300) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setChildrenCollapsible(False)
        self.addWidget(view)
        self.addWidget(detail)
        # A wider window widens the list (its columns need it); the panel keeps its width.
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)
        self._detail_width = detail_width
        self._sized = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            total = max(self.width(), 900)
            self.setSizes([total - self._detail_width, self._detail_width])


def count_text(model: PagedTableModel, texts: dict[str, str]) -> str:
    """What a list's status line says: `texts` has "loading", "failed", "partial" ({shown},
    {total}), "one" and "many" ({n})."""
    if model.loading and not model.ever_loaded:
        return texts["loading"]
    if model.failed:
        return texts["failed"]
    if model.rowCount() < model.total:
        return texts["partial"].format(shown=model.rowCount(), total=model.total)
    return texts["one"] if model.total == 1 else texts["many"].format(n=model.total)


class PagedList(QObject):
    """A paged model on its view: sort indicator, anchor, changes and the highlighted row.

    `current_changed(row or None)` is called whenever the highlighted record, or what is
    known of it, changes: a new highlight, a refresh that changed or removed its row, a
    new query or filter that cleared the selection.
    """

    def __init__(
        self,
        view: QTableView,
        model: PagedTableModel,
        current_changed: Callable[[Any], None],
        *,
        changes: ChangeWatcher | None = None,
        entities: Sequence[str] = (),
    ) -> None:
        super().__init__(view)
        self.view = view
        self.model = model
        self._current_changed = current_changed
        self._shown: Any = None
        self._kept: Hashable | None = None  # the highlighted record while its rows change
        self._moving = False  # rows are being replaced: the highlight is restored after
        self.stale = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self._refresh_stale)
        bind_header(view, model)
        self.anchor = ViewAnchor(view, model)
        view.selectionModel().selectionChanged.connect(self._follow)
        # A refresh removes and inserts the rows that moved; a sort or reload replaces them
        # all. Either way the highlight goes with its record (or goes away), never to the row
        # that slid into its place.
        model.refreshing.connect(self._keep)
        model.modelAboutToBeReset.connect(self._keep)
        model.refreshed.connect(self._restore)
        model.modelReset.connect(lambda: self._restore(scroll=True))
        model.rowsRemoved.connect(self._follow)
        model.dataChanged.connect(self._follow)
        view.installEventFilter(self)
        if changes is not None and entities:
            handler = self.changes_arrived
            for entity in entities:
                changes.subscribe(entity, handler)
            view.destroyed.connect(
                lambda *_: [changes.unsubscribe(entity, handler) for entity in entities]
            )

    # -- the highlighted row ---------------------------------------------------------------

    def current_row(self) -> Any:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def current_id(self) -> Hashable | None:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].data(ROW_ID_ROLE) if rows else None

    def select(self, row_id: Hashable | None) -> bool:
        """Highlights the record's row when it is loaded."""
        row = self.model.row_of(row_id) if row_id is not None else -1
        if row < 0:
            return False
        self.view.selectRow(row)
        self.view.scrollTo(self.model.index(row, 0))
        return True

    def _keep(self) -> None:
        if not self._moving:
            self._kept = self.current_id()
            self._moving = True

    def _restore(self, scroll: bool = False) -> None:
        kept, self._kept, self._moving = self._kept, None, False
        row = self.model.row_of(kept) if kept is not None else -1
        selection = self.view.selectionModel()
        blocked = selection.blockSignals(True)
        try:
            if row >= 0:
                self.view.selectRow(row)
            else:
                selection.clear()
        finally:
            selection.blockSignals(blocked)
        if row >= 0 and scroll:
            self.view.scrollTo(self.model.index(row, 0))
        self.view.viewport().update()
        self._follow()

    def _follow(self, *_args) -> None:
        if self._moving:
            return  # the rows are changing: `_restore` reports once they have
        row = self.current_row()
        if row is self._shown and row is not None:
            return  # nothing new about the highlighted record
        self._shown = row
        self._current_changed(row)

    def show_count(self, label: QLabel, texts: dict[str, str]) -> None:
        """`label` says how many rows the list has (`count_text`'s `texts`), from now on."""

        def update(*_args) -> None:
            label.setText(count_text(self.model, texts))

        self.model.loaded.connect(update)
        self.model.loading_changed.connect(update)
        update()

    # -- changes ---------------------------------------------------------------------------

    def changes_arrived(self, _changes) -> None:
        """Something this list shows was written (here or on another desk): refresh soon."""
        self.stale = True
        self._timer.start()

    def _refresh_stale(self) -> None:
        if self.stale and self.view.isVisible():  # a hidden list refreshes when shown again
            self.stale = False
            self.refresh()

    def refresh(self) -> None:
        """The rows shown read again; selection and scroll position stay with their records."""
        self.model.refresh(self.visible_end())

    def visible_end(self) -> int:
        bottom = self.view.rowAt(self.view.viewport().height() - 1)
        return (bottom if bottom >= 0 else self.model.rowCount()) + 1

    def eventFilter(self, watched: QObject, event) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Show and self.stale:
            self._timer.start()
        return False


def list_with_detail(
    view: QTableView,
    model: PagedTableModel,
    show: Callable[[Any], None],
    *,
    empty_text: str,
    detail_width: int = 300,
    changes: ChangeWatcher | None = None,
    entities: Sequence[str] = (),
) -> tuple[RecordPanel, ListSplitter, PagedList]:
    """A paged list beside the panel of its highlighted record (`show` fills the panel),
    following the change announcements of `entities`."""
    detail = RecordPanel(empty_text)
    splitter = ListSplitter(view, detail, detail_width)
    paged = PagedList(view, model, show, changes=changes, entities=entities)
    return detail, splitter, paged
