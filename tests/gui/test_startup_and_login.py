"""Start-up, first-run wizard and login, through the real windows against the real database."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from alko_desk.models.errors import DatabaseUnavailable
from alko_desk.models.users import Role
from alko_desk.secrets import MONGODB_URI_KEY, REMEMBERED_USERNAME_KEY, SERVICE
from tests.conftest import ADMIN_PASSWORD, COMPANY, STAFF_PASSWORD
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui


def fill_company_page(qtbot, wizard) -> None:
    form = wizard.company_page.form
    qtbot.keyClicks(form.name, COMPANY.name)
    qtbot.keyClicks(form.address, COMPANY.address)
    qtbot.keyClicks(form.vat_id, COMPANY.vat_id)
    qtbot.keyClicks(form.bank_account, COMPANY.bank_account)
    form.vat_rate.clear()
    qtbot.keyClicks(form.vat_rate, "13,5")


def test_login_window_appears_before_the_database_is_ready(
    qtbot, make_desk, context, admin_session
):
    release = threading.Event()

    def slow_opener(_secrets):
        release.wait(10)
        return context

    desk = make_desk(opener=slow_opener)
    assert desk.login_window.isVisible()
    assert "Connecting to the database" in desk.login_window.status.text()
    assert not desk.login_window.login_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: desk.login_window.ready, timeout=10_000)


def test_first_run_wizard_creates_the_organisation_and_admin_then_login_appears(
    qtbot, make_desk, context
):
    desk = make_desk()
    qtbot.waitUntil(lambda: desk.wizard is not None and desk.wizard.isVisible(), timeout=10_000)
    wizard = desk.wizard
    assert not desk.login_window.isVisible()
    fill_company_page(qtbot, wizard)
    wizard.next()
    assert wizard.currentPage() is wizard.admin_page
    page = wizard.admin_page
    qtbot.keyClicks(page.username, "ana")
    qtbot.keyClicks(page.full_name, "Ana Admin")
    qtbot.keyClicks(page.passwords.first, "short")
    assert "at least 15" in page.passwords.verdict.text()
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    page.passwords.first.clear()
    qtbot.keyClicks(page.passwords.first, ADMIN_PASSWORD)
    assert "same password twice" in page.passwords.verdict.text()
    qtbot.keyClicks(page.passwords.second, ADMIN_PASSWORD)
    assert "can be used" in page.passwords.verdict.text()
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)

    qtbot.waitUntil(
        lambda: desk.login_window.isVisible() and desk.login_window.ready, timeout=10_000
    )
    assert desk.wizard is None
    assert desk.login_window.username.text() == "ana"
    assert context.setup.is_set_up()
    session = context.auth.login("ana", ADMIN_PASSWORD)
    assert session.user.role is Role.ADMIN
    profile = context.services_for(session).settings.company()
    assert profile.name == COMPANY.name and str(profile.vat_rate) == "13.5"


def test_wizard_shows_the_service_field_errors_beside_the_fields(qtbot, make_desk, context):
    desk = make_desk()
    qtbot.waitUntil(lambda: desk.wizard is not None, timeout=10_000)
    wizard = desk.wizard
    fill_company_page(qtbot, wizard)
    wizard.company_page.form.currency.setCurrentText("EURO")
    wizard.next()
    page = wizard.admin_page
    qtbot.keyClicks(page.username, "ana")
    qtbot.keyClicks(page.full_name, "Ana Admin")
    qtbot.keyClicks(page.passwords.first, ADMIN_PASSWORD)
    qtbot.keyClicks(page.passwords.second, ADMIN_PASSWORD)
    wizard.button(QWizard.WizardButton.FinishButton).click()
    form = wizard.company_page.form
    qtbot.waitUntil(lambda: form.fields.error_text("currency") != "", timeout=10_000)
    assert "three-letter" in form.fields.error_text("currency")
    assert wizard.currentPage() is wizard.company_page
    assert not context.setup.is_set_up()
    assert form.name.text() == COMPANY.name  # nothing typed is lost


def test_admin_logs_in_and_the_main_window_opens(
    qtbot, make_desk, admin_session, secrets, keyring_backend
):
    desk = make_desk()
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(
        lambda: desk.main_window is not None and desk.main_window.isVisible(), timeout=10_000
    )
    assert not desk.login_window.isVisible()
    assert desk.main_window.user_label.text() == "Ana Admin"
    assert (SERVICE, REMEMBERED_USERNAME_KEY) not in keyring_backend.values  # not asked to remember


def test_remembered_username_is_kept_in_the_keyring_never_the_password(
    qtbot, make_desk, admin_session, keyring_backend
):
    desk = make_desk()
    desk.login_window.remember.setChecked(True)
    log_in(qtbot, desk, "Admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert keyring_backend.values[(SERVICE, REMEMBERED_USERNAME_KEY)] == "admin"
    assert ADMIN_PASSWORD not in keyring_backend.values.values()

    second = make_desk()
    qtbot.waitUntil(lambda: second.login_window.ready, timeout=10_000)
    assert second.login_window.username.text() == "admin"
    assert second.login_window.remember.isChecked()


def test_wrong_password_shows_a_message_in_the_login_window(qtbot, make_desk, admin_session):
    desk = make_desk()
    log_in(qtbot, desk, "admin", "this is not the password")
    qtbot.waitUntil(lambda: desk.login_window.error.text() != "", timeout=10_000)
    assert "username or password is not right" in desk.login_window.error.text()
    assert desk.main_window is None
    assert desk.login_window.login_button.isEnabled()
    # The next attempt can be typed straight away: the password field has the focus again.
    qtbot.waitUntil(lambda: desk.login_window.focusWidget() is desk.login_window.password)
    assert desk.login_window.password.selectedText() == desk.login_window.password.text()


def test_five_failed_logins_show_the_lockout_message(qtbot, make_desk, admin_session, dialogs):
    desk = make_desk()
    window = desk.login_window
    for attempt in range(5):
        window.error.clear()
        log_in(qtbot, desk, "admin", f"wrong password number {attempt}")
        qtbot.waitUntil(
            lambda: window.error.text() != "" and window.login_button.isEnabled(), timeout=10_000
        )
    assert "Too many failed attempts" in window.error.text()
    window.error.clear()
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: window.error.text() != "", timeout=10_000)
    assert "Too many failed attempts" in window.error.text()
    assert desk.main_window is None
    assert dialogs.generic_errors == 0


def test_new_user_is_forced_to_choose_a_password_before_the_main_window(
    qtbot, make_desk, context, admin_session
):
    context.services_for(admin_session).users.create_user(
        "sam", "Sam Sales", Role.SALES, STAFF_PASSWORD
    )
    desk = make_desk()
    log_in(qtbot, desk, "sam", STAFF_PASSWORD)
    qtbot.waitUntil(
        lambda: desk.password_dialog is not None and desk.password_dialog.isVisible(),
        timeout=10_000,
    )
    assert desk.main_window is None
    dialog = desk.password_dialog
    assert dialog.current.isHidden()  # typed at the login a moment ago: not asked again
    qtbot.keyClicks(dialog.passwords.first, "sam picks a sentence of his own")
    qtbot.keyClicks(dialog.passwords.second, "sam picks a sentence of his own")
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert not desk.main_window.services.session.user.must_change_password
    assert not context.auth.login(
        "sam", "sam picks a sentence of his own"
    ).user.must_change_password


def test_database_down_at_start_shows_retry_and_settings_then_retry_connects(
    qtbot, make_desk, context, admin_session, keyring_backend, dialogs
):
    attempts = []

    def flaky_opener(_secrets):
        attempts.append(1)
        if len(attempts) == 1:
            raise DatabaseUnavailable(
                "The database cannot be reached.", hint="Check that it is running."
            )
        return context

    desk = make_desk(opener=flaky_opener)
    window = desk.login_window
    qtbot.waitUntil(lambda: window.stack.currentIndex() == 1, timeout=10_000)
    assert "cannot be reached" in window.problem.text()
    assert window.retry_button.isVisible() and window.settings_button.isVisible()
    assert not window.login_button.isEnabled()
    assert dialogs.generic_errors == 0

    dialog = desk.open_database_settings()
    qtbot.keyClicks(dialog.editor.uri, "mongodb://db.example:27017/?tls=true")
    qtbot.mouseClick(dialog.editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ready, timeout=10_000)  # saving retries at once
    assert (
        keyring_backend.values[(SERVICE, MONGODB_URI_KEY)] == "mongodb://db.example:27017/?tls=true"
    )
    assert len(attempts) == 2
    assert window.stack.currentIndex() == 0


def test_an_unexpected_start_failure_shows_its_message_not_a_traceback(qtbot, make_desk, dialogs):
    def broken(_secrets):
        raise RuntimeError(
            "The embedded database (FerretDB 1.24.2) is not installed. Looked in: /nowhere"
        )

    desk = make_desk(opener=broken)
    qtbot.waitUntil(lambda: desk.login_window.stack.currentIndex() == 1, timeout=10_000)
    text = desk.login_window.problem.text()
    assert "is not installed" in text and "Traceback" not in text and "RuntimeError" not in text
    qtbot.mouseClick(desk.login_window.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: desk.login_window.stack.currentIndex() == 1 and desk.tasks.active_count == 0
    )


def test_unreachable_mongodb_uri_at_start_shows_the_problem_panel(
    qtbot, make_desk, tmp_path, monkeypatch
):
    import socket

    from alko_desk.bootstrap import open_context

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv(
        "ALKO_MONGODB_URI", f"mongodb://127.0.0.1:{closed_port}/?serverSelectionTimeoutMS=300"
    )
    desk = make_desk(opener=lambda secrets: open_context(tmp_path, secrets, db_name="unreachable"))
    qtbot.waitUntil(lambda: desk.login_window.stack.currentIndex() == 1, timeout=15_000)
    assert "cannot be reached" in desk.login_window.problem.text()


def test_cancelling_the_first_run_wizard_quits_without_setting_up(qtbot, make_desk, context):
    desk = make_desk()
    qtbot.waitUntil(lambda: desk.wizard is not None, timeout=10_000)
    with qtbot.waitSignal(desk.quit_requested, timeout=2_000):
        desk.wizard.reject()
    assert not context.setup.is_set_up()


def test_keyring_warning_is_shown_once_on_the_login_window(
    qtbot, make_desk, admin_session, monkeypatch, secrets
):
    monkeypatch.setattr(secrets, "warning", "No secure keyring is available on this computer.")
    desk = make_desk()
    qtbot.waitUntil(lambda: desk.login_window.ready, timeout=10_000)
    assert desk.login_window.notice.isVisible()
    assert "No secure keyring" in desk.login_window.notice.text()


def test_login_window_names_the_configured_database_server_without_its_password(
    qtbot, make_desk, tmp_path, monkeypatch, mongo_uri, store, admin_session
):
    """With ALKO_MONGODB_URI the desk works on that server, not "this computer"."""
    from urllib.parse import urlsplit

    from alko_desk.bootstrap import open_context

    parts = urlsplit(mongo_uri)
    monkeypatch.setenv("ALKO_MONGODB_URI", mongo_uri)
    opened = []

    def opener(secrets):
        context = open_context(tmp_path, secrets, db_name=store.db.name)
        opened.append(context)
        return context

    desk = make_desk(opener=opener)
    try:
        qtbot.waitUntil(lambda: desk.login_window.ready, timeout=15_000)
        shown = desk.login_window.server_choice.text()
        assert shown == f"Database: {parts.hostname}:{parts.port}"
        assert "this computer" not in shown
    finally:
        for context in opened:
            context.close()
    from alko_desk.bootstrap import uri_address

    secret_uri = "mongodb://sales:s3cret-Pass@db.showroom.lan:27018/alko?tls=true"
    assert uri_address(secret_uri) == "db.showroom.lan:27018"
