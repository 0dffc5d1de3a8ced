"""Revealed numbers do not stay revealed (issue 7, item 4)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.audit import AuditFilter
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.ui.clients.detail import REVEAL_SECONDS
from alko_desk.ui.clients.page import ClientsPage
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft
from tests.gui.test_clients_gui import select_first_row

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def page(qtbot, context, make_user, dialogs):
    sales = context.services_for(make_user("sam", Role.SALES))
    first = sales.clients.register(new_client_id(), draft())
    second = sales.clients.register(new_client_id(), draft(**IVAN))
    runner = TaskRunner(dialogs)
    page = ClientsPage(context, sales, runner)
    page.first, page.second = first, second
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=WAIT)
    yield page
    runner.wait_for_done(10_000)


def reveal(qtbot, page) -> None:
    qtbot.mouseClick(page.detail.reveal_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "•" not in page.detail.text_of("id_number"), timeout=WAIT)


def test_revealed_numbers_mask_again_after_thirty_seconds(qtbot, page, context, admin_session):
    assert REVEAL_SECONDS == 30 and page.detail.reveal_timer.interval() == 30_000
    page.detail.reveal_timer.setInterval(300)  # the same timer, shortened for the test
    select_first_row(qtbot, page, page.first.id)
    reveal(qtbot, page)
    assert page.detail.text_of("id_number") == "112233445"
    qtbot.waitUntil(lambda: "•" in page.detail.text_of("id_number"), timeout=5_000)
    assert page.detail.revealed == {}
    reveal(qtbot, page)  # each reveal is recorded
    audit = context.services_for(admin_session).audit
    assert len(audit.entries(AuditFilter(action_prefix="client.revealed"))) == 2


def test_revealed_numbers_mask_again_when_the_selection_changes(qtbot, page):
    select_first_row(qtbot, page, page.first.id)
    reveal(qtbot, page)
    select_first_row(qtbot, page, page.second.id)
    assert page.detail.revealed == {} and not page.detail.reveal_timer.isActive()
    select_first_row(qtbot, page, page.first.id)
    assert "•" in page.detail.text_of("id_number")
