"""The Vehicles and Deals pages as a user sees them at 1366×768: rendered offscreen, saved as
PNGs (ALKO_SCREENSHOTS=docs/screenshots) and checked for cut-off and overlapping text."""

from __future__ import annotations

import pytest

from alko_desk.models.users import Role
from alko_desk.services.demo import DemoSeeder
from alko_desk.services.vehicle_demo import StockSeeder
from tests.gui.layout_checks import clipped, overlaps

pytestmark = pytest.mark.gui
WAIT = 15_000


def looks_right(widget) -> None:
    assert clipped(widget) == [], clipped(widget)
    assert overlaps(widget) == [], overlaps(widget)


@pytest.fixture
def stocked(context, make_user):
    """A sales desk with 40 cars in stock and 12 deals for 6 demo clients."""
    session = make_user("sam", Role.SALES, "Sam Sales")
    services = context.services_for(session)
    buyers = [
        services.clients.register(cid, d).id
        for cid, d in DemoSeeder(services.clients, seed=5).drafts(6)
    ]
    stock = StockSeeder(services.vehicles, services.deals, seed=3)
    stock.seed_vehicles(40)
    stock.seed_deals(12, buyers)
    return session


def test_vehicles_page_at_1366(qtbot, open_main, stocked, shots):
    window = open_main(stocked)
    window.resize(1366, 768)
    page = window.show_section("vehicles")
    model = page.model
    qtbot.waitUntil(lambda: model.rowCount() > 30 and not model.loading, timeout=WAIT)
    page.table.selectRow(1)
    qtbot.waitUntil(lambda: page.detail.text() != "", timeout=WAIT)
    qtbot.wait(80)
    window.grab().save(str(shots / "desk-1366-vehicles.png"))
    looks_right(page)


def test_deals_page_at_1366(qtbot, open_main, stocked, shots):
    window = open_main(stocked)
    window.resize(1366, 768)
    page = window.show_section("deals")
    model = page.model
    qtbot.waitUntil(lambda: model.rowCount() == 12 and not model.loading, timeout=WAIT)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.detail.text() != "", timeout=WAIT)
    qtbot.wait(80)
    window.grab().save(str(shots / "desk-1366-deals.png"))
    looks_right(page)


def test_deal_builder_with_a_business_buyer_at_1366(qtbot, open_main, stocked, shots):
    """The builder grows by the Business buyer group: still whole on a 1366×768 screen."""
    window = open_main(stocked)
    window.resize(1366, 768)
    page = window.show_section("deals")
    qtbot.waitUntil(lambda: not page.loading and page.seller_country == "HR", timeout=WAIT)
    page.new_button.click()
    dialog = page.dialog
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT)
    b = dialog.builder
    b.client.setCurrentIndex(0)
    b.vehicle.setCurrentIndex(0)
    qtbot.wait(80)
    dialog.grab().save(str(shots / "deal-builder.png"))
    assert b.fields_scroll.verticalScrollBar().maximum() == 0  # a private buyer: no scrolling
    looks_right(dialog)
    b.business_box.setChecked(True)
    b.company.setText("Autohaus Müller GmbH")
    b.vat_id.setText("DE136695976")
    b.company_street.setText("Hauptstraße 5")
    b.company_city.setText("München")
    b.trade_in_box.setChecked(True)  # every group open: the tallest the builder gets
    b.financing_box.setChecked(True)
    qtbot.wait(120)
    dialog.grab().save(str(shots / "deal-builder-business-buyer.png"))
    room = dialog.screen().availableGeometry()
    # Save in view: the frame within the screen's height (offscreen it is 800×800)
    qtbot.waitUntil(
        lambda: (
            room.top() <= dialog.frameGeometry().top()
            and dialog.frameGeometry().bottom() <= room.bottom()
        ),
        timeout=WAIT,
    )
    assert dialog.builder.fields_scroll.horizontalScrollBar().maximum() == 0  # never sideways
    looks_right(dialog)
    dialog.reject()
