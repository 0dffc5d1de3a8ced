"""The list machinery of ui/table_models.py on a plain row source: paging, order, refresh in place."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from alko_desk.models.changes import Change, ChangeBatch, ChangeKind
from alko_desk.models.errors import DatabaseUnavailable
from alko_desk.models.listing import Page, PageRequest
from alko_desk.ui.changes import ChangeWatcher
from alko_desk.ui.table_models import ROW_ID_ROLE, PagedTableModel
from alko_desk.ui.tasks import TaskRunner

pytestmark = pytest.mark.gui
WAIT = 10_000


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    size: int


class ItemColumn(enum.IntEnum):
    NAME = 0
    SIZE = 1
    NOTE = 2

    @property
    def header(self) -> str:
        return self.name.title()

    @property
    def sort(self) -> str | None:
        return {ItemColumn.NAME: "name", ItemColumn.SIZE: "size"}.get(self)


class ItemModel(PagedTableModel[Item]):
    columns = ItemColumn

    def display(self, row: Item, column) -> str:
        if column is ItemColumn.NAME:
            return row.name
        return str(row.size) if column is ItemColumn.SIZE else ""


class ItemSource:
    """The service side, as a plain object: it alone decides the order (and records requests)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = list(items)
        self.requests: list[PageRequest] = []
        self.slow: dict[str, threading.Event] = {}  # query -> released when set

    def __call__(self, request: PageRequest, progress) -> Page[Item]:
        self.requests.append(request)
        for slow in (request.query, request.sort):
            if slow in self.slow:
                progress.report(1, 4)
                self.slow[slow].wait(5)
        rows = [i for i in self.items if request.query.lower() in i.name.lower()]
        # The service's order: by size, then *reversed* name, so that a model sorting by
        # itself would show another order.
        key = (lambda i: (i.size, i.id)) if request.sort == "size" else (lambda i: i.id)
        rows.sort(key=key, reverse=request.descending)
        return Page(
            tuple(rows[request.start : request.start + request.count]), len(rows), request.start
        )


def items(n: int) -> list[Item]:
    return [Item(id=f"id{i:04d}", name=f"Item {n - i:04d}", size=i % 7) for i in range(n)]


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


def loaded(qtbot, model) -> None:
    qtbot.waitUntil(lambda: model.ever_loaded and not model.loading, timeout=WAIT)


def ids(model) -> list[str]:
    return [model.index(r, 0).data(ROW_ID_ROLE) for r in range(model.rowCount())]


def test_rows_show_in_the_order_the_source_returns_them_for_lists_and_searches(qtbot, tasks):
    source = ItemSource(items(30))
    model = ItemModel(source, tasks, page_size=10)
    model.reload()
    loaded(qtbot, model)
    assert ids(model) == [f"id{i:04d}" for i in range(10)]  # not by the name shown
    model.set_query("item 000")
    loaded(qtbot, model)
    assert ids(model) == sorted(ids(model)) and model.searching and model.total == 9
    model.sort(ItemColumn.SIZE, Qt.SortOrder.DescendingOrder)
    loaded(qtbot, model)
    assert source.requests[-1].sort == "size" and source.requests[-1].query == "item 000"
    expected = sorted(
        (i for i in source.items if "item 000" in i.name.lower()),
        key=lambda i: (i.size, i.id),
        reverse=True,
    )
    assert ids(model) == [i.id for i in expected]


def test_unsortable_columns_change_nothing_and_say_so(qtbot, tasks):
    source = ItemSource(items(5))
    model = ItemModel(source, tasks)
    model.reload()
    loaded(qtbot, model)
    sorts = []
    model.sort_changed.connect(lambda column, order: sorts.append(column))
    requests = len(source.requests)
    model.sort(ItemColumn.NOTE, Qt.SortOrder.AscendingOrder)
    assert sorts == [ItemColumn.NAME] and len(source.requests) == requests  # indicator goes back
    tooltip = model.headerData(
        ItemColumn.NOTE, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert "cannot be sorted" in tooltip
    assert (
        model.headerData(ItemColumn.NAME, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        is None
    )


def test_model_tester_passes_through_paging_and_refreshes_that_insert_remove_and_edit(
    qtbot, qtmodeltester, tasks
):
    source = ItemSource(items(45))
    model = ItemModel(source, tasks, page_size=10)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    loaded(qtbot, model)
    while model.rowCount() < 25:
        before = model.rowCount()
        model.fetchMore()
        qtbot.waitUntil(lambda n=before: model.rowCount() > n and not model.loading, timeout=WAIT)
    kept = model.index(12, 0)
    persistent = QPersistentModelIndex(kept)
    kept_id = kept.data(ROW_ID_ROLE)
    source.items.insert(0, Item("id0000a", "New", 1))  # sorts in after id0000
    source.items = [i for i in source.items if i.id not in ("id0003", "id0020")]
    source.items = [Item(i.id, "Renamed", i.size) if i.id == "id0005" else i for i in source.items]
    changed = []
    model.dataChanged.connect(lambda a, b, roles: changed.append((a.row(), b.row())))
    model.refresh(visible_end=20)
    qtbot.waitUntil(lambda: not model.refreshing_rows, timeout=WAIT)
    assert ids(model)[:4] == ["id0000", "id0000a", "id0001", "id0002"]
    assert "id0003" not in ids(model) and "id0020" not in ids(model)
    assert model.index(model.row_of("id0005"), 0).data() == "Renamed"
    assert changed  # the renamed row was updated in place
    assert persistent.isValid() and persistent.data(ROW_ID_ROLE) == kept_id  # selection follows
    in_order = sorted(i.id for i in source.items)
    assert model.total == 44 and ids(model) == in_order[: model.rowCount()]
    model.fetchMore()
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    assert ids(model) == in_order[: model.rowCount()]  # no gap, no double


def test_an_answer_to_an_older_load_never_replaces_a_newer_one(qtbot, tasks):
    source = ItemSource(items(20))
    model = ItemModel(source, tasks)
    model.reload()
    loaded(qtbot, model)
    gate = source.slow["item 001"] = threading.Event()
    model.set_query("item 001")  # slow
    model.set_query("item 0002")  # newer, fast
    qtbot.waitUntil(lambda: model.query == "item 0002" and not model.loading, timeout=WAIT)
    assert ids(model) == ["id0018"]
    gate.set()  # the older answer arrives now, and is dropped
    qtbot.waitUntil(lambda: tasks.active_count == 0, timeout=WAIT)
    qtbot.wait(50)
    assert model.query == "item 0002" and ids(model) == ["id0018"]


def test_deep_in_a_long_list_a_refresh_updates_the_visible_rows_in_place(
    qtbot, qtmodeltester, tasks, monkeypatch
):
    monkeypatch.setattr("alko_desk.ui.table_models.REFRESH_LIMIT", 20)
    source = ItemSource(items(60))
    model = ItemModel(source, tasks, page_size=10)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    loaded(qtbot, model)
    while model.canFetchMore():
        before = model.rowCount()
        model.fetchMore()
        qtbot.waitUntil(lambda n=before: model.rowCount() > n and not model.loading, timeout=WAIT)
    source.items = [Item(i.id, "Renamed", i.size) if i.id == "id0045" else i for i in source.items]
    source.items.insert(0, Item("id0000a", "New", 1))  # shifts the positions above the view
    model.refresh(visible_end=50)
    qtbot.waitUntil(lambda: not model.refreshing_rows, timeout=WAIT)
    assert model.rowCount() == 60 and model.index(45, 0).data() == "Renamed"  # same place
    assert source.requests[-1].start == 30 and model.total == 61


def test_a_long_read_reports_progress_and_cancel_keeps_the_rows_and_the_sort(qtbot, tasks):
    source = ItemSource(items(12))
    model = ItemModel(source, tasks)
    model.reload()
    loaded(qtbot, model)
    before = ids(model)
    progress = []
    model.progress.connect(lambda done, total: progress.append((done, total)))
    gate = source.slow["size"] = threading.Event()
    model.sort(ItemColumn.SIZE, Qt.SortOrder.AscendingOrder)
    assert model.shown_sort == (ItemColumn.SIZE, Qt.SortOrder.AscendingOrder) and model.loading
    qtbot.waitUntil(lambda: progress == [(1, 4)], timeout=WAIT)
    model.cancel_loading()
    assert not model.loading and model.shown_sort == (ItemColumn.NAME, Qt.SortOrder.AscendingOrder)
    gate.set()  # the cancelled read ends in the background; its rows never arrive
    qtbot.waitUntil(lambda: tasks.active_count == 0, timeout=WAIT)
    qtbot.wait(50)
    assert ids(model) == before and model.sort_column is ItemColumn.NAME


# -- the change watcher ---------------------------------------------------------------------


class Feed:
    def __init__(self) -> None:
        self.changes: list = []
        self.pruned = False
        self.down = False

    def head(self) -> int:
        if self.down:
            raise DatabaseUnavailable("The database cannot be reached.")
        return len(self.changes)

    def since(self, seq: int):
        return ChangeBatch(len(self.changes), tuple(self.changes[seq:]), complete=not self.pruned)


def test_the_watcher_hands_each_screen_the_changes_to_its_entity(qtbot, tasks, dialogs):
    feed = Feed()
    feed.changes.append(Change(1, "clients", ChangeKind.ADDED, ("old",)))  # before the screen
    watcher = ChangeWatcher(feed, tasks, interval_ms=50)
    clients, vehicles = [], []
    watcher.subscribe("clients", clients.append)
    watcher.subscribe("vehicles", vehicles.append)
    watcher.start()
    qtbot.waitUntil(lambda: watcher.seen == 1, timeout=WAIT)
    assert clients == [] and vehicles == []  # the first look only sets where to start

    feed.changes.append(Change(2, "clients", ChangeKind.UPDATED, ("c1",)))
    feed.changes.append(Change(3, "invoices", ChangeKind.ADDED, ("i1",)))
    qtbot.waitUntil(lambda: watcher.seen == 3, timeout=WAIT)
    assert [c.ids for batch in clients for c in batch] == [("c1",)] and vehicles == []

    feed.down = True  # a missed look says nothing to the user; the next one catches up
    qtbot.wait(200)
    feed.down = False
    feed.pruned = True
    feed.changes.append(Change(4, "deals", ChangeKind.ADDED, ("d1",)))
    qtbot.waitUntil(lambda: watcher.seen == 4, timeout=WAIT)
    assert vehicles and vehicles[-1][0].kind is ChangeKind.MANY  # pruned: everything changed
    assert clients[-1][0].kind is ChangeKind.MANY
    watcher.stop()
    assert dialogs.retries == [] and dialogs.errors == []
