"""The desk's window working through the showroom server (remote transport), end to end."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.remote.desk import RemoteContext
from alko_desk.services.clients import new_client_id
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui
WAIT = 10_000


def test_a_sales_desk_logs_in_through_the_server_and_sees_the_client_list(
    qtbot, context, make_user, connect_remote, make_desk, dialogs, clock, remote_backend
):
    local = context.services_for(make_user("sam", Role.SALES)).clients
    local.register(new_client_id(), draft())
    local.register(new_client_id(), draft(**IVAN))
    remote = RemoteContext(connect_remote(), clock)
    desk = make_desk(opener=lambda _secrets: remote)
    with qtbot.waitSignal(desk.main_window_shown, timeout=WAIT):
        log_in(qtbot, desk, "sam", "sam chooses a long passphrase 9")
    window = desk.main_window
    assert desk.session.org_key == b""  # the organisation key stayed on the server
    assert remote_backend.session_count() == 1
    qtbot.waitUntil(lambda: _clients_page(window) is not None, timeout=WAIT)
    page = _clients_page(window)
    qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
    names = {
        page.model.index(row, 0).data(Qt.ItemDataRole.DisplayRole)
        for row in range(page.model.rowCount())
    }
    assert names == {"Željko Kovačević", "Иван Петров"}
    assert window.database_label.text().startswith("Database: ALKO Desk server at 127.0.0.1")
    desk.log_out()
    qtbot.waitUntil(lambda: remote_backend.session_count() == 0, timeout=WAIT)
    assert dialogs.generic_errors == 0


def _clients_page(window):
    from alko_desk.ui.clients.page import ClientsPage

    pages = window.findChildren(ClientsPage)
    return pages[0] if pages else None


@pytest.fixture
def connector(qapp, dialogs):
    from alko_desk.remote.trust import PinStore
    from alko_desk.ui.server_connect import ServerConnector
    from tests.conftest import MemorySecrets

    runner = TaskRunner(dialogs)
    pins = PinStore(MemorySecrets())
    made = ServerConnector(runner, pins)
    made.pins = pins
    yield made
    runner.wait_for_done(WAIT)


def test_the_first_connection_shows_the_fingerprint_and_pins_it_when_staff_confirm(
    qtbot, connector, dialogs, server_address, server_identity, remote_backend
):
    with qtbot.waitSignal(connector.connected, timeout=WAIT) as got:
        connector.connect_to(server_address)
    shown = server_identity.fingerprint().replace(":", " ")
    assert len(dialogs.confirms) == 1 and shown in dialogs.confirms[0]
    assert connector.pins.get(server_address).fingerprint == server_identity.fingerprint()
    got.args[0].close()
    with qtbot.waitSignal(connector.connected, timeout=WAIT) as again:  # pinned: no question
        connector.connect_to(server_address)
    assert len(dialogs.confirms) == 1
    again.args[0].close()


def test_an_unconfirmed_or_changed_certificate_is_not_connected(
    qtbot, connector, dialogs, server_address, remote_backend
):
    from alko_desk.remote.trust import Pin

    dialogs.confirm_answer = False
    with qtbot.waitSignal(connector.refused, timeout=WAIT) as refused:
        connector.connect_to(server_address)
    assert "not confirmed" in refused.args[0] and connector.pins.get(server_address) is None
    connector.pins.set(server_address, Pin("AB:" * 31 + "AB"))  # another server was pinned here
    with qtbot.waitSignal(connector.refused, timeout=WAIT) as changed:
        connector.connect_to(server_address)
    assert "different certificate" in changed.args[0]
