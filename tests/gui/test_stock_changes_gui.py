"""The Vehicles and Deals pages: sorts both ways, filters, and changes made on another desk
followed keeping the selection, with the detail panel on the highlighted row."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from alko_desk.models.deals import DealState
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleStatus
from alko_desk.ui.changes import ChangeWatcher
from alko_desk.ui.deals_page import DealColumn, DealsPage
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.vehicles_page import VehicleColumn, VehiclesPage
from tests.test_deals import deal_draft
from tests.vehicles_data import draft, register_client

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)  # before the test database is dropped
    qapp.processEvents()
    assert dialogs.generic_errors == 0, "an unexpected error reached the generic dialog"


@pytest.fixture
def watched(qtbot, tasks):
    """Opens a page with a watcher of its desk's change feed; stops both after the test."""
    opened = []

    def _open(page_class, context, services):
        watcher = ChangeWatcher(services.changes, tasks, interval_ms=50)
        page = page_class(context, services, tasks, changes=watcher)
        qtbot.addWidget(page)
        page.show()
        watcher.start()
        opened.append((watcher, page))
        return page, watcher

    yield _open
    for watcher, page in opened:
        watcher.stop()
        tasks.wait_for_done(10_000)
        page.close()
        watcher.deleteLater()


def test_vehicles_page_shows_a_vehicle_added_on_another_desk_keeping_the_selection(
    qtbot, context, make_user, watched
):
    here = context.services_for(make_user("sam", Role.SALES))
    other = context.services_for(make_user("sue", Role.SALES))
    for n in range(5):
        here.vehicles.add(draft(n + 1))
        context.clock.advance(hours=1)
    page, watcher = watched(VehiclesPage, context, here)
    model = page.model
    qtbot.waitUntil(lambda: model.row_count() == 5 and watcher.seen is not None, timeout=WAIT)
    page.table.selectRow(2)
    chosen = model.vehicle(2).id

    context.clock.advance(hours=1)
    added = other.vehicles.add(draft(9, model="Civic"))  # newest: first row
    qtbot.waitUntil(lambda: model.row_count() == 6, timeout=WAIT)
    assert model.vehicle(0).id == added.id
    selected = page.table.selectionModel().selectedRows()
    assert [model.vehicle(i.row()).id for i in selected] == [chosen]
    assert page.count_label.text() == "6 vehicles"


def test_deals_page_follows_a_deal_saved_and_cancelled_on_another_desk(
    qtbot, context, make_user, watched
):
    here = context.services_for(make_user("sam", Role.SALES))
    other = context.services_for(make_user("sue", Role.SALES))
    register_client(here, "C-1")
    vehicles = [here.vehicles.add(draft(n + 1)) for n in range(3)]
    first = here.deals.create(deal_draft(vehicles[0].id))
    page, watcher = watched(DealsPage, context, here)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and watcher.seen is not None, timeout=WAIT)
    page.select(first.id)

    context.clock.advance(minutes=5)
    theirs = other.deals.create(deal_draft(vehicles[1].id))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=WAIT)
    assert page.selected().id == first.id
    other.deals.cancel(theirs, "client withdrew")
    qtbot.waitUntil(
        lambda: page.model.deal(page.model.row_of(theirs.id)).state.value == "cancelled",
        timeout=WAIT,
    )
    assert page.selected().id == first.id


# -- sorting, filtering and following changes on the paged lists ------------------------------


def click_header(qtbot, table, column: int) -> None:
    header = table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


def column_texts(model, column: int) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


def settled(model) -> bool:
    return model.ever_loaded and not model.loading and not model.refreshing_rows


@pytest.fixture
def stock(context, make_user):
    """Five cars on a sales desk, added an hour apart, with other prices, years and makes."""
    here = context.services_for(make_user("sam", Role.SALES))
    cars = [
        ("Škoda", "Octavia", "21000", 2019),
        ("Honda", "Accord", "32000", 2024),
        ("Kia", "Ceed", "18500", 2021),
        ("Honda", "Civic", "27500", 2023),
        ("BMW", "X3", "45000", 2022),
    ]
    for n, (make, model, price, year) in enumerate(cars):
        here.vehicles.add(draft(n + 1, price=price, make=make, model=model, model_year=year))
        context.clock.advance(hours=1)
    return here


def test_vehicle_list_sorts_by_a_header_both_ways_and_vin_does_not_sort(
    qtbot, context, stock, watched
):
    page, _ = watched(VehiclesPage, context, stock)
    model, header = page.model, page.table.horizontalHeader()
    qtbot.waitUntil(lambda: model.rowCount() == 5 and settled(model), timeout=WAIT)
    assert column_texts(model, VehicleColumn.VEHICLE)[0] == "BMW X3 EX"  # newest first
    assert header.sortIndicatorSection() == VehicleColumn.DAYS

    click_header(qtbot, page.table, VehicleColumn.PRICE)
    cheapest_first = ["18,500.00 EUR", "21,000.00 EUR", "27,500.00 EUR", "32,000.00 EUR"]
    qtbot.waitUntil(
        lambda: column_texts(model, VehicleColumn.PRICE)[:4] == cheapest_first, timeout=WAIT
    )
    assert header.sortIndicatorSection() == VehicleColumn.PRICE
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    click_header(qtbot, page.table, VehicleColumn.PRICE)
    qtbot.waitUntil(
        lambda: column_texts(model, VehicleColumn.PRICE)[0] == "45,000.00 EUR", timeout=WAIT
    )
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    shown = column_texts(model, VehicleColumn.PRICE)

    click_header(qtbot, page.table, VehicleColumn.VIN)  # cannot be sorted: nothing moves
    qtbot.wait(200)
    assert header.sortIndicatorSection() == VehicleColumn.PRICE
    assert column_texts(model, VehicleColumn.PRICE) == shown
    tip = model.headerData(
        VehicleColumn.VIN, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert "cannot be sorted" in tip

    click_header(qtbot, page.table, VehicleColumn.YEAR)
    qtbot.waitUntil(
        lambda: column_texts(model, VehicleColumn.YEAR) == ["2019", "2021", "2022", "2023", "2024"],
        timeout=WAIT,
    )


def test_vehicle_filters_narrow_the_list_and_clear_brings_it_back(qtbot, context, stock, watched):
    page, _ = watched(VehiclesPage, context, stock)
    model = page.model
    qtbot.waitUntil(lambda: model.rowCount() == 5 and settled(model), timeout=WAIT)
    page.make.setText("honda")
    page.price_min.setText("28.000,00")  # as typed on a Croatian keyboard
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: model.rowCount() == 1 and settled(model), timeout=WAIT)
    assert column_texts(model, VehicleColumn.VEHICLE) == ["Honda Accord EX"]
    assert page.count_label.text() == "1 vehicle"

    page.year_from.setText("twenty")
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    assert page.filter_error.text() == "Years, days and prices are numbers."
    assert model.rowCount() == 1  # a bad filter changes nothing

    qtbot.mouseClick(page.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: model.rowCount() == 5 and settled(model), timeout=WAIT)
    assert page.filter_error.isHidden()
    page.status.setCurrentIndex(page.status.findData(VehicleStatus.RESERVED))
    qtbot.waitUntil(lambda: model.rowCount() == 0 and settled(model), timeout=WAIT)


def test_vehicle_detail_follows_the_highlighted_car_through_changes_on_another_desk(
    qtbot, context, make_user, stock, watched
):
    other = context.services_for(make_user("sue", Role.SALES))
    register_client(other, "C-1")
    page, watcher = watched(VehiclesPage, context, stock)
    model = page.model
    qtbot.waitUntil(lambda: model.rowCount() == 5 and watcher.seen is not None, timeout=WAIT)
    assert page.detail.text() == ""  # nothing highlighted
    page.table.selectRow(3)
    chosen = model.vehicle(3)
    assert page.detail.record_id == chosen.id
    assert f"VIN: {chosen.vin}" in page.detail.text()

    deal = other.deals.create(deal_draft(chosen.id))  # another desk reserves it
    qtbot.waitUntil(lambda: f"Reserved for deal {deal.id}" in page.detail.text(), timeout=WAIT)
    assert page.selected().id == chosen.id
    assert model.index(3, VehicleColumn.STATUS).data() == "Reserved"

    top = model.vehicle(0).id
    context.clock.advance(hours=1)
    added = other.vehicles.add(draft(9, model="Jazz"))  # a new arrival goes on top
    qtbot.waitUntil(lambda: model.rowCount() == 6, timeout=WAIT)
    assert model.vehicle(0).id == added.id and model.vehicle(1).id == top
    assert page.selected().id == chosen.id and page.detail.record_id == chosen.id


def test_deal_list_sorts_both_ways_filters_and_the_client_column_does_not_sort(
    qtbot, context, make_user, watched
):
    here = context.services_for(make_user("sam", Role.SALES))
    register_client(here, "C-1")
    register_client(here, "C-2", 2)
    cars = [
        here.vehicles.add(draft(n + 1, price=p)) for n, p in enumerate(("30000", "20000", "40000"))
    ]
    made = []
    for n, car in enumerate(cars):
        made.append(
            here.deals.create(
                deal_draft(car.id, "8" if n == 1 else "0", client_id=f"C-{1 + n % 2}")
            )
        )
        context.clock.advance(minutes=5)
    page, _ = watched(DealsPage, context, here)
    model, header = page.model, page.table.horizontalHeader()
    qtbot.waitUntil(lambda: model.rowCount() == 3 and settled(model), timeout=WAIT)
    assert [model.deal(r).id for r in range(3)] == [d.id for d in reversed(made)]  # newest first
    assert column_texts(model, DealColumn.CLIENT)[0] == "Željko Kovačević"

    click_header(qtbot, page.table, DealColumn.TOTAL)
    qtbot.waitUntil(lambda: model.deal(0).id == made[1].id and settled(model), timeout=WAIT)
    assert [model.deal(r).id for r in range(3)] == [made[1].id, made[0].id, made[2].id]
    click_header(qtbot, page.table, DealColumn.TOTAL)
    qtbot.waitUntil(lambda: model.deal(0).id == made[2].id and settled(model), timeout=WAIT)
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    click_header(qtbot, page.table, DealColumn.CLIENT)
    qtbot.wait(200)
    assert header.sortIndicatorSection() == DealColumn.TOTAL
    assert model.deal(0).id == made[2].id

    page.state.setCurrentIndex(page.state.findData("pending"))
    qtbot.waitUntil(lambda: model.rowCount() == 1 and settled(model), timeout=WAIT)
    assert model.deal(0).id == made[1].id
    assert model.index(0, DealColumn.APPROVAL).data() == "Waiting"
    page.state.setCurrentIndex(page.state.findData(DealState.CANCELLED))
    qtbot.waitUntil(lambda: model.rowCount() == 0 and settled(model), timeout=WAIT)
    page.state.setCurrentIndex(page.state.findData("deliveries"))  # a calendar: no sort
    qtbot.waitUntil(lambda: settled(model), timeout=WAIT)
    assert not page.table.isSortingEnabled() and not header.isSortIndicatorShown()
    page.state.setCurrentIndex(0)
    qtbot.waitUntil(lambda: model.rowCount() == 3 and settled(model), timeout=WAIT)
    assert page.table.isSortingEnabled() and header.isSortIndicatorShown()


def test_deal_detail_follows_an_approval_made_on_another_desk(qtbot, context, make_user, watched):
    here = context.services_for(make_user("sam", Role.SALES))
    manager = context.services_for(make_user("mia", Role.MANAGER))
    register_client(here, "C-1")
    cars = [here.vehicles.add(draft(n + 1)) for n in range(2)]
    wanted = here.deals.create(deal_draft(cars[0].id, "8"))
    here.deals.create(deal_draft(cars[1].id))
    page, watcher = watched(DealsPage, context, here)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and watcher.seen is not None, timeout=WAIT)
    page.select(wanted.id)
    assert "Approval: Waiting for a manager" in page.detail.text()
    manager.deals.approve(manager.deals.get(wanted.id), "end of quarter")
    qtbot.waitUntil(lambda: "Approved by mia" in page.detail.text(), timeout=WAIT)
    assert page.selected().id == wanted.id
    assert "State: Approved" in page.detail.text()


def test_vehicle_list_keeps_its_scroll_position_when_a_car_arrives_on_another_desk(
    qtbot, context, make_user, watched
):
    from alko_desk.services.vehicle_demo import StockSeeder

    here = context.services_for(make_user("sam", Role.SALES))
    other = context.services_for(make_user("sue", Role.SALES))
    StockSeeder(here.vehicles, here.deals, seed=4).seed_vehicles(60)
    page, watcher = watched(VehiclesPage, context, here)
    page.resize(900, 500)
    model, view = page.model, page.table
    qtbot.waitUntil(lambda: model.rowCount() == 60 and watcher.seen is not None, timeout=WAIT)
    view.scrollTo(model.index(30, 0), view.ScrollHint.PositionAtTop)
    qtbot.wait(50)
    top = model.vehicle(view.rowAt(0)).id
    view.selectRow(view.rowAt(0) + 2)
    chosen = page.selected().id

    context.clock.advance(hours=1)
    other.vehicles.add(draft(99, model="Jazz"))  # the newest: inserted above the rows shown
    qtbot.waitUntil(lambda: model.rowCount() == 61, timeout=WAIT)
    qtbot.wait(50)
    assert model.vehicle(view.rowAt(0)).id == top  # the rows under the user did not move
    assert page.selected().id == chosen and page.detail.record_id == chosen


def test_mileage_is_grouped_like_the_prices_beside_it():
    from alko_desk.ui.vehicles_page import mileage_text

    assert mileage_text(151965) == "151,965 km"  # prices read "15,470.00 EUR"
    assert mileage_text(40) == "40 km"


def test_a_deal_that_moves_in_the_sort_stays_highlighted_and_the_detail_follows_it(
    qtbot, context, make_user, watched
):
    """Sorted by state, a deal approved on another desk moves to another group: the highlight
    goes with it, never to the deal that slid into its old place (whose Edit would act on it)."""
    here = context.services_for(make_user("sam", Role.SALES))
    manager = context.services_for(make_user("mia", Role.MANAGER))
    register_client(here, "C-1")
    deals = []
    for n in range(6):
        vehicle = here.vehicles.add(draft(n + 1))
        deals.append(here.deals.create(deal_draft(vehicle.id, "8" if n == 1 else "0")))
        context.clock.advance(minutes=5)
    waiting = deals[1]
    page, watcher = watched(DealsPage, context, here)
    model = page.model
    qtbot.waitUntil(lambda: model.rowCount() == 6 and settled(model), timeout=WAIT)
    click_header(qtbot, page.table, DealColumn.STATE)
    qtbot.waitUntil(lambda: settled(model) and model.sort_column is DealColumn.STATE, timeout=WAIT)
    page.select(waiting.id)
    before = model.row_of(waiting.id)
    assert page.selected().id == waiting.id

    manager.deals.approve(manager.deals.get(waiting.id), "end of quarter")
    qtbot.waitUntil(
        lambda: model.deal(model.row_of(waiting.id)).state is DealState.APPROVED, timeout=WAIT
    )
    qtbot.waitUntil(lambda: settled(model), timeout=WAIT)
    assert model.row_of(waiting.id) != before  # it moved to the approved ones
    assert page.selected() is not None and page.selected().id == waiting.id
    assert waiting.id in page.detail.title.text()

    click_header(qtbot, page.table, DealColumn.TOTAL)  # another sort keeps it highlighted too
    qtbot.waitUntil(lambda: settled(model) and model.sort_column is DealColumn.TOTAL, timeout=WAIT)
    assert page.selected() is not None and page.selected().id == waiting.id
