"""The Vehicles and Deals pages follow changes made on another desk, keeping the selection."""

from __future__ import annotations

import pytest

from alko_desk.models.users import Role
from alko_desk.ui.changes import ChangeWatcher
from alko_desk.ui.deals_page import DealsPage
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.vehicles_page import VehiclesPage
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
    model = page.presenter.model
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
