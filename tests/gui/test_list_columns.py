"""A list declares its columns once (ui/list_pages.py `ListColumn`, `ListModel`): headers,
sorts, tooltips, right-aligned figures and the widths of its columns all follow from it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView

from alko_desk.models.deals import DealSort
from alko_desk.models.listing import Page
from alko_desk.models.vehicles import VehicleSort
from alko_desk.ui.deals_page import DealColumn
from alko_desk.ui.list_pages import RIGHT, Column, ListColumn, ListModel, list_view
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.vehicles_page import VehicleColumn

pytestmark = pytest.mark.gui
H = Qt.Orientation.Horizontal


@dataclass(frozen=True)
class Part:
    id: str
    name: str
    price: str


class PartColumn(ListColumn, context="PartsModel"):
    NAME = Column("Name", "name", stretch=True)
    CODE = Column("Code", sample="XX-000000-XXXXXXXXXXXX", tooltip="Codes do not sort.")
    PRICE = Column("Price", "price", sample="000,000.00 EUR", right=True)


class PartsModel(ListModel[Part]):
    columns = PartColumn
    title = "Parts"
    first_sort = PartColumn.PRICE
    first_order = Qt.SortOrder.DescendingOrder

    def display(self, row: Part, column) -> str:
        return {PartColumn.NAME: row.name, PartColumn.CODE: row.id}.get(column, row.price)


def parts(request, _progress) -> Page[Part]:
    rows = (Part("P-1", "Brake pads", "120.00 EUR"), Part("P-2", "Wiper", "9.90 EUR"))
    return Page(rows, len(rows), 0)


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


def test_a_declared_list_serves_headers_sorts_alignment_and_sized_columns(
    qtbot, qtmodeltester, tasks
):
    model = PartsModel(parts, tasks)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=10_000)
    assert [model.headerData(c, H) for c in PartColumn] == ["Name", "Code", "Price"]
    assert model.headerData(PartColumn.CODE, H, Qt.ItemDataRole.ToolTipRole) == "Codes do not sort."
    assert model.shown_sort == (PartColumn.PRICE, Qt.SortOrder.DescendingOrder)
    align = Qt.ItemDataRole.TextAlignmentRole
    assert model.data(model.index(0, PartColumn.PRICE), align) == RIGHT
    assert model.data(model.index(0, PartColumn.NAME), align) is None
    assert model.data(model.index(1, PartColumn.CODE)) == "P-2"
    view = list_view(model)
    header = view.horizontalHeader()
    assert header.sectionResizeMode(PartColumn.NAME) == QHeaderView.ResizeMode.Stretch
    wide = view.fontMetrics().horizontalAdvance("XX-000000-XXXXXXXXXXXX")
    assert header.sectionSize(PartColumn.CODE) >= wide


def test_the_deal_and_vehicle_lists_sort_only_by_what_their_services_declare():
    assert {c: c.sort for c in DealColumn if c.sort} == {
        DealColumn.ID: DealSort.CREATED.value,
        DealColumn.VEHICLE: DealSort.VEHICLE.value,
        DealColumn.STATE: DealSort.STATE.value,
        DealColumn.APPROVAL: DealSort.APPROVAL.value,
        DealColumn.TOTAL: DealSort.TOTAL.value,
    }
    assert {c for c in VehicleColumn if c.sort is None} == {VehicleColumn.VIN}
    assert {c.sort for c in VehicleColumn if c.sort} <= {s.value for s in VehicleSort}
    # an unsortable column says why in its header's tooltip
    assert "encrypted" in DealColumn.CLIENT.tooltip and "search" in VehicleColumn.VIN.tooltip
