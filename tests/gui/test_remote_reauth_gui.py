"""Over the showroom server, a sensitive action with a stale password: the window asks for
the password, the server confirms it, and the action goes through on the retry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.remote.desk import RemoteContext
from tests.conftest import ADMIN_PASSWORD
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui
WAIT = 10_000


def test_disabling_an_account_through_the_server_asks_for_the_password_then_goes_through(
    qtbot, context, make_user, connect_remote, make_desk, dialogs, clock, remote_backend
):
    make_user("sam", Role.SALES)
    remote = RemoteContext(connect_remote(), clock)
    desk = make_desk(opener=lambda _secrets: remote)
    with qtbot.waitSignal(desk.main_window_shown, timeout=WAIT):
        log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    page = desk.main_window.show_section("users")
    qtbot.waitUntil(lambda: page.presenter.model.row_of("sam") >= 0, timeout=WAIT)
    services = remote.services_for(desk.session)
    clock.advance(minutes=3)
    services.settings.company()  # in use (the server's idle limit is the desk lock's 5 min)
    clock.advance(minutes=3)  # the password typed at login is no longer recent

    dialogs.password_answers = ["not my password at all", ADMIN_PASSWORD]
    page.select_user("sam")
    qtbot.waitUntil(lambda: page.active_button.text() == "Disable", timeout=WAIT)
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not context.users_repo.get("sam").active, timeout=15_000)
    assert len(dialogs.password_prompts) == 2
    assert "password again" in dialogs.password_prompts[0][0]
    assert dialogs.password_prompts[1][1] == "That password is not right."
    assert dialogs.errors == [] and dialogs.generic_errors == 0
