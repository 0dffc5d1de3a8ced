"""The foundation's screens for the README, rendered offscreen from the real widgets.

`ALKO_SCREENSHOTS=docs/screenshots pytest tests/gui/test_foundation_screenshots.py`
writes them to the docs; without it they go to the test's temporary folder. Each
also checks what the picture must show, so a wrong screen cannot be saved silently.
"""

from __future__ import annotations

import pytest

from alko_desk.models.users import Role
from alko_desk.services.demo import DemoSeeder

pytestmark = pytest.mark.gui
WAIT = 10_000


def test_admin_users_page_lists_the_staff(
    qtbot, context, admin_session, make_user, open_main, shots
):
    make_user("sam", Role.SALES, "Sam Sales")
    make_user("fran", Role.FINANCE, "Fran Finance")
    make_user("maja", Role.MANAGER, "Maja Manager")
    window = open_main(admin_session)
    window.resize(1366, 768)
    page = window.show_section("users")
    qtbot.waitUntil(
        lambda: page.presenter.model.rowCount() == 4 and not page.presenter.loading, timeout=WAIT
    )
    assert window.section_titles() == ["Users", "Settings", "Audit log"]
    qtbot.wait(50)
    assert window.grab().save(str(shots / "users.png"))


def test_sales_desk_shows_only_sales_sections_and_the_client_list(
    qtbot, context, make_user, open_main, shots
):
    session = make_user("sam", Role.SALES, "Sam Sales")
    DemoSeeder(context.services_for(session).clients, seed=5).seed(60)
    window = open_main(session)
    window.resize(1366, 768)
    page = window.show_section("clients")
    qtbot.waitUntil(lambda: page.model.rowCount() == 60 and not page.model.loading, timeout=WAIT)
    assert window.section_titles() == ["Clients", "Vehicles", "Deals"]
    qtbot.wait(50)
    assert window.grab().save(str(shots / "sales-desk.png"))
