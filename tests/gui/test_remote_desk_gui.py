"""The desk's window working through the showroom server (remote transport), end to end."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.remote.desk import RemoteContext
from alko_desk.services.clients import new_client_id
from alko_desk.ui.main_window import MainWindow
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft

pytestmark = pytest.mark.gui
WAIT = 10_000


def test_a_sales_desk_logs_in_through_the_server_and_sees_the_client_list(
    qtbot, context, make_user, connect_remote, dialogs, clock
):
    local = context.services_for(make_user("sam", Role.SALES)).clients
    local.register(new_client_id(), draft())
    local.register(new_client_id(), draft(**IVAN))
    desk = connect_remote()
    services = desk.login("sam", "sam chooses a long passphrase 9")
    assert services.session.org_key == b""  # the key stayed on the server
    runner = TaskRunner(dialogs)
    tasks = runner.for_session(services.confirm_password)
    window = MainWindow(RemoteContext(desk, clock), services, tasks)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: _clients_page(window) is not None, timeout=WAIT)
        page = _clients_page(window)
        qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
        names = {
            page.model.index(row, 0).data(Qt.ItemDataRole.DisplayRole)
            for row in range(page.model.rowCount())
        }
        assert names == {"Željko Kovačević", "Иван Петров"}
        assert window.database_label.text().startswith("Database: ALKO Desk server at 127.0.0.1")
    finally:
        runner.wait_for_done(WAIT)
        assert dialogs.generic_errors == 0


def _clients_page(window):
    from alko_desk.ui.clients.page import ClientsPage

    pages = window.findChildren(ClientsPage)
    return pages[0] if pages else None
