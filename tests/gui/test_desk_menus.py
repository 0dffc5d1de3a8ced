"""Keyboard and menus: Ctrl+N, F5 in a menu, Change my password, a printed client card
(issue 7, item 10)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtPrintSupport import QPrinter

from alko_desk.models.audit import AuditFilter
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def sales_window(qtbot, open_main, make_user):
    window = open_main(make_user("sam", Role.SALES))
    page = window.show_section("clients")
    qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
    return window


def menu_texts(window) -> dict[str, list[str]]:
    return {
        m.title().replace("&", ""): [a.text().replace("&", "") for a in m.actions() if a.text()]
        for m in (a.menu() for a in window.menuBar().actions())
        if m is not None
    }


def test_menus_list_every_desk_action_with_its_shortcut(sales_window):
    menus = menu_texts(sales_window)
    assert "Change my password…" in menus["File"]
    assert menus["Client"] == ["New client…", "Print client card…"]
    assert menus["View"] == ["Refresh"]
    assert sales_window.new_client_action.shortcut() == QKeySequence("Ctrl+N")
    assert sales_window.refresh_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Refresh)


def test_ctrl_n_opens_a_new_client_form(qtbot, sales_window):
    qtbot.keyClick(sales_window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    page = sales_window.page("clients")
    qtbot.waitUntil(lambda: page.form_dialog is not None and page.form_dialog.isVisible())
    page.form_dialog.reject()


def test_f5_refreshes_the_list_through_the_view_menu(qtbot, sales_window, monkeypatch):
    page = sales_window.page("clients")
    calls = []
    monkeypatch.setattr(page.presenter, "refresh", lambda: calls.append(1))
    qtbot.keyClick(page.view, Qt.Key.Key_F5)
    assert calls == [1]  # exactly once: the page's own F5 no longer competes


def test_change_my_password_from_the_menu(qtbot, sales_window, context):
    dialog = sales_window.change_password()
    qtbot.waitExposed(dialog)
    assert dialog.current.isVisible()  # not forced: the current password is asked
    qtbot.keyClicks(dialog.current, "sam chooses a long passphrase 9")
    qtbot.keyClicks(dialog.passwords.first, "sam changes to another sentence")
    qtbot.keyClicks(dialog.passwords.second, "sam changes to another sentence")
    qtbot.keyClick(dialog.passwords.second, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "changed" in sales_window.statusBar().currentMessage(), timeout=WAIT)
    assert context.auth.login("sam", "sam changes to another sentence")


def test_a_client_card_prints_through_the_print_dialog_and_is_audited(
    qtbot, open_main, make_user, context, admin_session, tmp_path
):
    session = make_user("sam", Role.SALES)
    client = context.services_for(session).clients.register(new_client_id(), draft())
    window = open_main(session)
    page = window.show_section("clients")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT)
    assert not window.print_client_card()  # nothing selected: says so in the status bar
    assert "Select a client" in window.statusBar().currentMessage()
    page.view.selectRow(0)
    qtbot.waitUntil(lambda: page.detail.client_id == client.id, timeout=WAIT)
    pdf = tmp_path / "card.pdf"
    chosen = []

    def pdf_printer(parent):
        printer = QPrinter()
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(pdf))
        chosen.append(parent)
        return printer

    window.printer_chooser = pdf_printer
    qtbot.keyClick(page.view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: pdf.exists() and pdf.stat().st_size > 1000, timeout=WAIT)
    assert chosen == [window]
    audit = context.services_for(admin_session).audit
    [entry] = audit.entries(AuditFilter(action_prefix="client.printed"))
    assert entry.target == f"client:{client.id}" and entry.actor == "sam"
    window.printer_chooser = lambda parent: None  # cancelled in the dialog: nothing printed
    assert not window.print_client_card()
    assert len(audit.entries(AuditFilter(action_prefix="client.printed"))) == 1
