"""The login window chooses where the desk works: this computer's database or a showroom
server, whose certificate fingerprint staff confirm the first time (then it is pinned)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.remote.desk import RemoteContext
from alko_desk.remote.trust import Pin, PinStore
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui
WAIT = 10_000
SAM_PASSWORD = "sam chooses a long passphrase 9"


def _connect(qtbot, window, address: str) -> None:
    qtbot.mouseClick(window.server_toggle, Qt.MouseButton.LeftButton)
    assert window.server_panel.isVisible()
    window.server_address.clear()
    qtbot.keyClicks(window.server_address, address)
    qtbot.mouseClick(window.server_connect, Qt.MouseButton.LeftButton)


def test_staff_connect_to_a_server_from_the_login_window_and_log_in_through_it(
    qtbot,
    context,
    make_user,
    make_desk,
    dialogs,
    secrets,
    server_address,
    server_identity,
    remote_backend,
):
    make_user("sam", Role.SALES)
    desk = make_desk()
    window = desk.login_window
    qtbot.waitUntil(lambda: window.ready, timeout=WAIT)
    assert window.server_choice.text() == "Database: this computer"
    assert desk.context is context

    _connect(qtbot, window, server_address)
    qtbot.waitUntil(lambda: isinstance(desk.context, RemoteContext) and window.ready, timeout=WAIT)
    shown = server_identity.fingerprint().replace(":", " ")
    assert len(dialogs.confirms) == 1 and shown in dialogs.confirms[0]
    pins = PinStore(secrets)
    assert pins.get(server_address).fingerprint == server_identity.fingerprint()
    qtbot.waitUntil(lambda: pins.chosen_server() == server_address, timeout=WAIT)
    assert window.server_choice.text() == f"Showroom server: {server_address}"

    with qtbot.waitSignal(desk.main_window_shown, timeout=WAIT):
        log_in(qtbot, desk, "sam", SAM_PASSWORD)
    assert desk.session.org_key == b""  # the key stayed on the server
    assert remote_backend.session_count() == 1
    desk.log_out()
    qtbot.waitUntil(lambda: remote_backend.session_count() == 0, timeout=WAIT)
    assert dialogs.generic_errors == 0


def test_a_fingerprint_not_confirmed_or_changed_keeps_the_desk_where_it_was(
    qtbot, context, admin_session, make_desk, dialogs, secrets, server_address, remote_backend
):
    desk = make_desk()
    window = desk.login_window
    qtbot.waitUntil(lambda: window.ready, timeout=WAIT)
    dialogs.confirm_answer = False
    _connect(qtbot, window, server_address)
    qtbot.waitUntil(lambda: window.server_error.text() != "", timeout=WAIT)
    assert "not confirmed" in window.server_error.text()
    assert desk.context is context and PinStore(secrets).get(server_address) is None

    PinStore(secrets).set(server_address, Pin("AB:" * 31 + "AB"))  # another server was here
    qtbot.waitUntil(lambda: window.server_connect.isEnabled(), timeout=WAIT)
    qtbot.mouseClick(window.server_connect, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "different certificate" in window.server_error.text(), timeout=WAIT)
    assert desk.context is context and PinStore(secrets).chosen_server() == ""


def test_a_mistyped_address_is_explained_without_connecting(
    qtbot, admin_session, make_desk, dialogs
):
    desk = make_desk()
    window = desk.login_window
    qtbot.waitUntil(lambda: window.ready, timeout=WAIT)
    _connect(qtbot, window, "showroom:port")
    assert "not a server address" in window.server_error.text()
    assert dialogs.confirms == []


def test_going_back_to_this_computers_database(
    qtbot,
    context,
    admin_session,
    make_desk,
    secrets,
    server_address,
    server_identity,
    remote_backend,
):
    pins = PinStore(secrets)
    pins.set(server_address, Pin(server_identity.fingerprint()))
    opened = []

    def opener(_secrets):
        chosen = pins.chosen_server()
        opened.append(chosen)
        if chosen:
            from alko_desk.remote.desk import open_remote_context

            return open_remote_context(chosen, secrets)
        return context

    pins.choose_server(server_address)
    desk = make_desk(opener=opener)
    window = desk.login_window
    qtbot.waitUntil(lambda: window.ready, timeout=WAIT)
    assert isinstance(desk.context, RemoteContext) and window.server == server_address
    qtbot.mouseClick(window.server_toggle, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.use_local, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desk.context is context and window.ready, timeout=WAIT)
    assert opened == [server_address, ""] and window.server == ""
    assert window.server_choice.text() == "Database: this computer"
