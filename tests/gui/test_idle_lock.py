"""The idle lock: the desk hides its data, the password unlocks it, another user can take over.

Time is a clock the tests move (`IdleWatcher.clock`), and `check()` is what the watcher's timer
would call: nothing here depends on how fast a busy machine runs the event loop.
"""

from __future__ import annotations

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from alko_desk.models.audit import AuditFilter
from alko_desk.models.users import Role
from tests.conftest import ADMIN_PASSWORD
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui


class IdleClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idle_clock() -> IdleClock:
    return IdleClock()


@pytest.fixture
def idle_desk(qtbot, make_desk, admin_session, idle_clock):
    desk = make_desk(idle_timeout_ms=300)
    desk.idle.clock = idle_clock
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert desk.idle.active and not desk.locked
    return desk


def let_time_pass(desk, clock: IdleClock, ms: int) -> None:
    clock.now += ms / 1000
    desk.idle.check()  # what the watcher's timer does when it wakes


def covers_whole_window(desk) -> bool:
    panel, window = desk.desk_lock.panel, desk.main_window
    return panel.isVisible() and panel.geometry() == window.rect()


def test_idle_desk_locks_and_hides_the_data(qtbot, idle_desk, idle_clock):
    desk = idle_desk
    users = desk.main_window.show_section("users")
    let_time_pass(desk, idle_clock, 290)
    assert not desk.locked
    let_time_pass(desk, idle_clock, 20)
    assert desk.locked
    assert covers_whole_window(desk)
    assert not desk.main_window.centralWidget().isEnabled()
    assert not desk.main_window.logout_action.isEnabled()
    assert users.isVisible() is True  # still there underneath, with its data in memory
    assert desk.session is not None


def test_input_keeps_the_desk_unlocked(qtbot, idle_desk, idle_clock):
    desk = idle_desk
    for _ in range(6):  # 1.2 s in all, never 300 ms without a key
        let_time_pass(desk, idle_clock, 200)
        qtbot.keyClick(desk.main_window.navigation, Qt.Key.Key_Down)
    assert not desk.locked
    let_time_pass(desk, idle_clock, 290)
    assert not desk.locked
    let_time_pass(desk, idle_clock, 20)
    assert desk.locked


def test_password_unlocks_and_open_forms_keep_what_was_typed(qtbot, idle_desk, idle_clock):
    desk = idle_desk
    page = desk.main_window.show_section("users")
    dialog = page.open_create_dialog()
    qtbot.keyClicks(dialog.full_name, "Half-typed Name")
    let_time_pass(desk, idle_clock, 310)
    assert desk.locked
    assert desk.desk_lock.panel.window() is dialog  # the unlock form on the one window taking input
    panel = desk.desk_lock.panel
    qtbot.keyClicks(panel.password, "not the right password")
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.error.text() != "", timeout=10_000)
    assert desk.locked and "not right" in panel.error.text()

    panel.password.clear()
    qtbot.keyClicks(panel.password, ADMIN_PASSWORD)
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not desk.locked, timeout=10_000)
    assert dialog.isVisible() and dialog.isEnabled()
    assert dialog.full_name.text() == "Half-typed Name"
    assert desk.main_window.centralWidget().isEnabled()
    assert desk.idle.active  # watching again
    dialog.reject()


def test_log_in_as_someone_else_ends_the_first_session(
    qtbot, idle_desk, idle_clock, make_user, context, admin_session
):
    desk = idle_desk
    make_user("sam", Role.SALES)
    first_window = desk.main_window
    first_session = desk.session
    let_time_pass(desk, idle_clock, 310)
    assert desk.locked
    qtbot.mouseClick(desk.desk_lock.panel.switch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: desk.login_window.isVisible() and desk.main_window is None, timeout=5_000
    )
    assert not shiboken6.isValid(first_window) or not first_window.isVisible()
    assert desk.session is None
    assert desk.login_window.password.text() == ""

    log_in(qtbot, desk, "sam", "sam chooses a long passphrase 9")
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert desk.main_window.section_titles() == ["Clients", "Vehicles", "Deals"]
    desk.tasks.wait_for_done(5_000)
    logouts = context.services_for(admin_session).audit.entries(
        AuditFilter(actor="admin", action_prefix="logout")
    )
    assert any(e.details.get("session") == first_session.session_id for e in logouts)


def test_lock_desk_menu_item_locks_at_once(qtbot, make_desk, admin_session):
    desk = make_desk(idle_timeout_ms=60_000)
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    desk.main_window.lock_action.trigger()
    assert desk.locked
    assert desk.desk_lock.panel.findChild(QLineEdit).echoMode() == QLineEdit.EchoMode.Password


def test_idle_timeout_comes_from_the_company_settings(qtbot, make_desk, context, admin_session):
    from dataclasses import replace

    settings = context.services_for(admin_session).settings
    settings.update_company(replace(settings.company(), idle_lock_minutes=7))
    desk = make_desk(idle_timeout_ms=None)
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert desk.idle.timeout_ms == 7 * 60_000


def test_lock_reaches_an_open_modal_message_and_unlocks_from_it(qtbot, idle_desk, idle_clock):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    desk = idle_desk
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Clients",
        "A message with client data",
        QMessageBox.StandardButton.Ok,
        desk.main_window,
    )
    box.setWindowModality(Qt.WindowModality.ApplicationModal)
    seen = {}

    def enter_password():
        if QApplication.activeModalWidget() is not box:  # exec() has not shown it yet
            QTimer.singleShot(20, enter_password)
            return
        let_time_pass(desk, idle_clock, 310)
        seen["locked"] = desk.locked
        panel = desk.desk_lock.panel
        seen["host"] = panel.parentWidget()
        seen["main_covered"] = any(
            type(c).__name__ == "PlainCover" and c.parentWidget() is desk.main_window
            for c in desk.desk_lock._covers
        )
        panel.password.setText(ADMIN_PASSWORD)
        panel.unlock_button.click()
        QTimer.singleShot(50, close_when_unlocked)

    def close_when_unlocked():
        if desk.locked:
            QTimer.singleShot(50, close_when_unlocked)
            return
        seen["unlocked"] = True
        box.accept()

    QTimer.singleShot(0, enter_password)
    box.exec()  # the desk locks while this waits for an answer
    assert seen["locked"]
    assert seen["host"] is box  # the only window that could still take the password
    assert seen["main_covered"] and seen["unlocked"]
    assert desk.main_window.centralWidget().isEnabled()


def test_watcher_wakes_itself_on_the_real_clock_and_reports_idle_once(qtbot):
    from alko_desk.ui.idle import IdleWatcher

    watcher = IdleWatcher(50)
    fired = []
    watcher.idle.connect(lambda: fired.append(True))
    watcher.start()
    with qtbot.waitSignal(watcher.idle, timeout=10_000):
        pass
    assert not watcher.active
    watcher.check()  # a late wake-up after the lock does not report again
    assert fired == [True]
    watcher.stop()


def test_wrong_passwords_at_the_unlock_lock_the_account_like_login(
    qtbot, make_desk, admin_session, context
):
    desk = make_desk(idle_timeout_ms=60_000)
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    desk.main_window.lock_action.trigger()
    panel = desk.desk_lock.panel
    for _ in range(5):
        panel.password.setText("twenty-five guesses, one at a time")
        qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.unlock_button.isEnabled(), timeout=10_000)
    assert "Too many failed attempts" in panel.error.text()
    panel.password.setText(ADMIN_PASSWORD)  # the right one, too late: still locked
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.unlock_button.isEnabled(), timeout=10_000)
    assert desk.locked and "Too many failed attempts" in panel.error.text()
    assert context.throttle_repo.get("admin")["locked_until"] is not None


def test_lock_over_a_reason_prompt_shows_the_whole_unlock_card_and_keeps_the_reason(
    qtbot, idle_desk, idle_clock
):
    from PySide6.QtCore import QRect, QTimer
    from PySide6.QtWidgets import QApplication, QFrame

    from alko_desk.ui.dialogs import DialogService, TextPromptDialog

    desk = idle_desk
    seen = {}

    def lock_then_unlock():
        prompt = QApplication.activeModalWidget()
        if not isinstance(prompt, TextPromptDialog):
            QTimer.singleShot(20, lock_then_unlock)
            return
        qtbot.keyClicks(prompt.edit, "client bought elsewhere")
        seen["size"] = prompt.size()
        let_time_pass(desk, idle_clock, 310)
        panel = desk.desk_lock.panel
        qtbot.wait(50)  # the host grows to its new minimum
        card = panel.findChild(QFrame, "lockCard")
        seen["host"] = panel.parentWidget() is prompt
        seen["card_inside"] = QRect(0, 0, prompt.width(), prompt.height()).contains(
            card.geometry().translated(panel.pos())
        )
        seen["margin"] = (card.x(), panel.width() - card.x() - card.width())
        panel.password.setText(ADMIN_PASSWORD)
        panel.unlock_button.click()
        QTimer.singleShot(50, send_when_unlocked)

    def send_when_unlocked():
        prompt = QApplication.activeModalWidget()
        if desk.locked:
            QTimer.singleShot(50, send_when_unlocked)
            return
        seen["kept"] = prompt.edit.text()
        seen["focus_back"] = QApplication.focusWidget() is prompt.edit
        seen["selected"] = prompt.edit.selectedText()
        seen["size_after"] = prompt.size()
        qtbot.keyClick(prompt.edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, lock_then_unlock)
    answer = DialogService().text(desk.main_window, "Cancel deal D-1", "Why?", True)
    assert seen["host"] and seen["card_inside"], seen
    left, right = seen["margin"]
    assert left >= 8 and right >= 8 and abs(left - right) <= 2  # centred, not cut at the edge
    assert seen["kept"] == "client bought elsewhere" and answer == "client bought elsewhere"
    assert seen["size_after"] == seen["size"]  # the prompt is its own size again
    assert seen["focus_back"] and seen["selected"] == ""  # typing on adds to the reason


def test_a_click_anywhere_on_the_lock_screen_leaves_the_typing_in_the_password(
    qtbot, idle_desk, idle_clock
):
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    desk = idle_desk
    desk.main_window.activateWindow()
    let_time_pass(desk, idle_clock, 310)
    panel = desk.desk_lock.panel
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.password, timeout=5_000)
    for where in (QPoint(5, 5), QPoint(panel.width() // 2, panel.height() - 5)):
        qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=where)  # the dark cover
        assert QApplication.focusWidget() is panel.password
    qtbot.keyClicks(QApplication.focusWidget(), ADMIN_PASSWORD)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not desk.locked, timeout=10_000)


def test_enter_on_an_empty_password_is_not_a_failed_unlock(qtbot, idle_desk, idle_clock, context):
    desk = idle_desk
    let_time_pass(desk, idle_clock, 310)
    panel = desk.desk_lock.panel
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    assert desk.locked and panel.error.text() == ""
    failures = context.audit_log.query(AuditFilter(action_prefix="reauth.failed"))
    assert failures == []
