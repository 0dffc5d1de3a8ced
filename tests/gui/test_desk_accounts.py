"""Staff account and password forms: every message in its own row, one verdict at a time
(issue 7, items 1 and 6)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from tests.conftest import STAFF_PASSWORD
from tests.gui.helpers import log_in
from tests.gui.layout_checks import clipped, overlaps

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def create_dialog(qtbot, open_main, admin_session):
    window = open_main(admin_session)
    page = window.show_section("users")
    qtbot.waitUntil(lambda: not page.presenter.loading, timeout=WAIT)
    dialog = page.open_create_dialog()
    qtbot.waitExposed(dialog)
    return dialog


def test_an_empty_staff_form_shows_every_error_in_its_own_row(qtbot, create_dialog):
    d = create_dialog
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert "2–32 letters" in d.fields.error_text("username")
    assert "full name" in d.fields.error_text("full_name")
    assert d.password.verdict.styleSheet().startswith("color: #b3261e")
    assert overlaps(d) == [] and clipped(d) == []
    qtbot.keyClicks(d.username, "m")  # the message goes as the user types
    assert d.fields.error_text("username") == ""


def test_suggest_one_shows_only_the_green_verdict(qtbot, create_dialog):
    d = create_dialog
    qtbot.keyClicks(d.username, "mia")
    qtbot.keyClicks(d.full_name, "Mia Manager")
    qtbot.keyClicks(d.password.first, "short")
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    assert "at least 15" in d.password.verdict.text()
    qtbot.mouseClick(d.password.suggest, Qt.MouseButton.LeftButton)
    assert d.password.verdict.text() == "This password can be used."
    from PySide6.QtWidgets import QLabel

    red = [
        w.text()
        for w in d.findChildren(QLabel)
        if w.isVisible() and "b3261e" in w.styleSheet() and w.text()
    ]
    assert red == []


def test_password_verdict_keeps_its_height_as_the_message_changes(qtbot, create_dialog):
    d = create_dialog
    repeat_top = d.password.second.geometry().top()
    ok_top = d.ok_button.mapTo(d, d.ok_button.rect().topLeft()).y()
    d.password.first.setText("a")
    d.password.first.setText("")  # the longest message has been shown once
    qtbot.wait(50)
    ok_top = d.ok_button.mapTo(d, d.ok_button.rect().topLeft()).y()
    for text in ("a", "a fairly long but not quite", "a fairly long passphrase for anna", ""):
        d.password.first.setText(text)
        qtbot.wait(20)
        assert d.password.second.geometry().top() == repeat_top
        assert d.ok_button.mapTo(d, d.ok_button.rect().topLeft()).y() == ok_top, text


def test_enter_creates_the_account_and_cancel_is_never_the_default(qtbot, create_dialog, context):
    d = create_dialog
    assert d.ok_button.isDefault()
    assert all(
        not b.autoDefault() for b in (d.password.suggest, *d.findChildren(type(d.ok_button)))
    )
    qtbot.keyClicks(d.username, "mia")
    qtbot.keyClicks(d.full_name, "Mia Manager")
    qtbot.mouseClick(d.password.suggest, Qt.MouseButton.LeftButton)
    qtbot.keyClick(d.full_name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not d.isVisible(), timeout=WAIT)
    assert context.users_repo.get("mia") is not None


def test_first_login_change_does_not_ask_again_and_keeps_focus_off_log_out(
    qtbot, make_desk, context, admin_session
):
    context.services_for(admin_session).users.create_user(
        "sam", "Sam Sales", Role.SALES, STAFF_PASSWORD
    )
    desk = make_desk()
    log_in(qtbot, desk, "sam", STAFF_PASSWORD)
    qtbot.waitUntil(lambda: desk.password_dialog is not None, timeout=WAIT)
    dialog = desk.password_dialog
    qtbot.waitExposed(dialog)
    assert dialog.current.isHidden()
    cancel = [b for b in dialog.buttons.buttons() if b is not dialog.ok_button][0]
    assert cancel.text() == "Log out" and not cancel.autoDefault()
    qtbot.keyClicks(dialog.passwords.first, STAFF_PASSWORD)
    qtbot.keyClicks(dialog.passwords.second, STAFF_PASSWORD)
    assert "different from the current" in dialog.passwords.verdict.text()
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.passwords.second, Qt.Key.Key_Return)  # Enter does not log out
    assert dialog.isVisible() and desk.password_dialog is dialog
    dialog.passwords.clear()
    qtbot.keyClicks(dialog.passwords.first, "sam picks a sentence of his own")
    qtbot.keyClicks(dialog.passwords.second, "sam picks a sentence of his own")
    assert dialog.passwords.verdict.text() == "This password can be used."
    qtbot.keyClick(dialog.passwords.second, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=WAIT)


def test_escape_on_a_half_filled_staff_form_asks_first(qtbot, create_dialog, dialogs):
    d = create_dialog
    qtbot.keyClicks(d.full_name, "Mia Manager")
    dialogs.confirm_answer = False
    qtbot.keyClick(d.full_name, Qt.Key.Key_Escape)
    assert d.isVisible() and d.full_name.text() == "Mia Manager"
    assert "not been saved" in dialogs.confirms[-1]
    dialogs.confirm_answer = True
    qtbot.keyClick(d.full_name, Qt.Key.Key_Escape)
    assert not d.isVisible()
