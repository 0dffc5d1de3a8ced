"""The main window: sections by role, status bar, About, the Clients page hook, logout."""

from __future__ import annotations

import sys
import types

import pymongo
import PySide6
import pytest
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QLabel, QWidget

from alko_desk.models.users import Role, permissions_of
from alko_desk.ui.pages import CLIENTS_MODULE, SECTIONS, PlaceholderPage
from tests.conftest import ADMIN_PASSWORD
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(
    "role, expected",
    [
        (Role.SALES, ["Clients", "Vehicles", "Deals"]),
        # finance reads vehicles and deals (read-only): it invoices them and takes payments
        (Role.FINANCE, ["Clients", "Vehicles", "Deals", "Invoices", "Payments"]),
        # managers read invoices and payments (no Reports screen yet)
        (Role.MANAGER, ["Clients", "Vehicles", "Deals", "Invoices", "Payments", "Audit log"]),
    ],
)
def test_navigation_shows_only_the_sections_of_the_role(open_main, make_user, role, expected):
    window = open_main(make_user("staff1", role))
    assert window.section_titles() == expected
    assert window.role_label.text() == f"Role: {role.label}"
    # the same as the role's permissions say, for every section that has a screen
    allowed = permissions_of(role)
    assert expected == [s.title for s in SECTIONS if s.factory and s.permission in allowed]


def test_manager_reads_invoices_but_cannot_issue_pay_or_credit(open_main, make_user, qtbot):
    window = open_main(make_user("mia", Role.MANAGER))
    page = window.show_section("invoices")
    qtbot.waitUntil(lambda: not page.loading, timeout=15_000)
    assert page.print_button.isVisibleTo(page)
    for hidden in (page.issue_button, page.pay_button, page.credit_button):
        assert not hidden.isVisibleTo(page)


def test_admin_sees_users_settings_backups_privacy_and_audit_but_no_client_data(
    open_main, admin_session
):
    window = open_main(admin_session)
    assert window.section_titles() == ["Users", "Settings", "Audit log"]
    assert "clients" not in window.section_keys()


def test_sales_user_logging_in_through_the_desk_sees_only_sales_sections(
    qtbot, make_desk, make_user
):
    make_user("sam", Role.SALES, "Sam Sales")
    desk = make_desk()
    log_in(qtbot, desk, "sam", "sam chooses a long passphrase 9")
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert desk.main_window.section_titles() == ["Clients", "Vehicles", "Deals"]
    assert desk.main_window.user_label.text() == "Sam Sales"


def test_status_bar_names_the_user_role_and_database(open_main, admin_session, context):
    context.database_label = "Embedded FerretDB 1.24.2 (this computer)"
    window = open_main(admin_session)
    assert window.user_label.text() == "Ana Admin"
    assert window.role_label.text() == "Role: Admin"
    assert "Embedded FerretDB 1.24.2" in window.database_label.text()


def test_sections_without_a_screen_yet_are_hidden(open_main, admin_session):
    window = open_main(admin_session)
    for unbuilt in ("backups", "privacy", "vehicles", "deals", "reports"):
        assert unbuilt not in window.section_keys()
    assert all("later release" not in t for t in window.section_titles())


def test_about_dialog_shows_app_qt_pyside_pymongo_and_server_versions(
    open_main, admin_session, qtbot
):
    window = open_main(admin_session)
    window.about_action.trigger()
    qtbot.waitUntil(lambda: window.about_dialog is not None and window.about_dialog.isVisible())
    text = window.about_dialog.plain_text()
    from alko_desk import __version__

    assert (
        __version__
        in window.about_dialog.windowTitle() + text + window.about_dialog.findChild(QLabel).text()
    )
    assert qVersion() in text and PySide6.__version__ in text
    assert pymongo.version in text
    assert "FerretDB" in text or "MongoDB" in text


def test_clients_section_uses_the_clients_page_when_the_module_provides_one(
    open_main, make_user, monkeypatch
):
    made = []

    class FakeClientsPage(QWidget):
        def __init__(self, context, services, tasks, *, changes=None):
            super().__init__()
            made.append((context, services, tasks, changes))

    module = types.ModuleType(CLIENTS_MODULE)
    module.ClientsPage = FakeClientsPage
    monkeypatch.setitem(sys.modules, CLIENTS_MODULE, module)
    window = open_main(make_user("sam", Role.SALES))
    page = window.show_section("clients")
    assert isinstance(page, FakeClientsPage)
    _context, services, tasks, changes = made[0]
    assert services.session.user.username == "sam" and tasks is window.tasks
    assert changes is window.changes  # the window's one change watcher


def test_clients_section_is_a_placeholder_when_the_module_is_missing(
    open_main, make_user, monkeypatch
):
    monkeypatch.setitem(
        sys.modules, CLIENTS_MODULE, None
    )  # imports fail as if the module were absent
    window = open_main(make_user("sam", Role.SALES))
    assert isinstance(window.show_section("clients"), PlaceholderPage)


def test_a_section_that_fails_to_build_shows_a_message_and_the_generic_dialog(
    open_main, make_user, monkeypatch, dialogs
):
    class BrokenPage(QWidget):
        def __init__(self, *args):
            raise RuntimeError("boom")

    module = types.ModuleType(CLIENTS_MODULE)
    module.ClientsPage = BrokenPage
    monkeypatch.setitem(sys.modules, CLIENTS_MODULE, module)
    window = open_main(make_user("sam", Role.SALES))
    page = window.show_section("clients")
    assert "could not be opened" in page.message.text()
    assert dialogs.generic_errors == 1


def test_log_out_from_the_menu_returns_to_the_login_and_is_audited(
    qtbot, make_desk, admin_session, context
):
    desk = make_desk()
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    window = desk.main_window
    window.logout_action.trigger()
    qtbot.waitUntil(lambda: desk.login_window.isVisible() and desk.main_window is None)
    assert desk.login_window.password.text() == ""
    assert not window.isVisible()
    desk.tasks.wait_for_done(5000)
    from alko_desk.models.audit import AuditFilter

    qtbot.waitUntil(
        lambda: any(
            e.action == "logout"
            for e in context.services_for(admin_session).audit.entries(AuditFilter(actor="admin"))
        )
    )
