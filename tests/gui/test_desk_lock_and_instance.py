"""The idle lock over an open dialog, and one desk per data folder (issue 7, items 2 and 3)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui


SAM_PASSWORD = "sam chooses a long passphrase 9"


@pytest.fixture
def idle_desk(qtbot, make_desk, make_user):
    make_user("sam", Role.SALES)
    desk = make_desk(idle_timeout_ms=400)
    log_in(qtbot, desk, "sam", SAM_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    return desk


def test_lock_prompt_takes_the_password_while_a_modal_dialog_is_open(qtbot, idle_desk, dialogs):
    desk = idle_desk
    page = desk.main_window.show_section("clients")
    qtbot.waitUntil(lambda: page.new_button.isEnabled(), timeout=10_000)
    page.new_client()
    form = page.form_dialog
    qtbot.waitExposed(form)
    form.form.first_name.setFocus()
    qtbot.keyClicks(form.form.first_name, "Half-typed")
    qtbot.waitUntil(lambda: desk.locked, timeout=5_000)

    panel = desk.desk_lock.panel
    assert panel.window() is form  # on the window that still takes input, not behind it
    assert panel.isVisible() and panel.password.isEnabled()
    assert panel.geometry() == form.rect()
    qtbot.keyClick(panel.password, Qt.Key.Key_Escape)  # does not reach the form's Cancel
    assert form.isVisible() and dialogs.confirms == []
    qtbot.keyClicks(panel.password, SAM_PASSWORD)
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)  # nor the form's Save
    qtbot.waitUntil(lambda: not desk.locked, timeout=10_000)
    assert form.isVisible() and form.isEnabled() and form.save_attempts == 0
    assert form.form.first_name.text() == "Half-typed"
    assert desk.main_window.centralWidget().isEnabled()
    dialogs.confirm_answer = True
    form.reject()


def test_second_start_on_one_data_folder_brings_the_first_forward(qtbot, tmp_path):
    from alko_desk.ui.single_instance import SingleInstance

    first = SingleInstance(tmp_path / "data")
    assert first.claim() and first.owner
    second = SingleInstance(tmp_path / "data" / ".." / "data")  # the same folder, written otherwise
    with qtbot.waitSignal(first.activated, timeout=5_000):
        assert not second.claim()
    assert not second.owner
    elsewhere = SingleInstance(tmp_path / "other")
    assert elsewhere.claim()  # another data folder is another desk
    elsewhere.release()
    first.release()
    again = SingleInstance(tmp_path / "data")
    assert again.claim()  # once the first has quit, the next start is the desk
    again.release()


def test_second_app_start_exits_at_once_and_never_touches_the_database(
    qtbot, tmp_path, monkeypatch
):
    """The second copy never attaches to the first's embedded server, so it cannot lose it."""
    from alko_desk.ui import app as app_module
    from alko_desk.ui.single_instance import SingleInstance

    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("ALKO_DATA_DIR", str(folder))
    first = SingleInstance(folder)
    assert first.claim()
    opened = []
    monkeypatch.setattr(
        app_module, "DeskController", lambda *a, **k: opened.append(a) or pytest.fail("started")
    )
    with qtbot.waitSignal(first.activated, timeout=5_000):
        assert app_module.run_gui(["alko-desk"]) == 0
    assert opened == []
    first.release()


def test_bring_to_front_shows_the_login_window(qtbot, make_desk):
    desk = make_desk()
    desk.login_window.showMinimized()
    desk.bring_to_front()
    assert desk.login_window.isVisible() and not desk.login_window.isMinimized()
