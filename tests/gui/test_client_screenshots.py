"""The Clients screens as a user sees them: rendered offscreen, checked for cut-off text.

`ALKO_SCREENSHOTS=docs/screenshots pytest tests/gui/test_client_screenshots.py`
writes the PNGs used in the docs; without it they go to the test's temporary folder.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.services.demo import DemoSeeder
from alko_desk.ui.clients.list_model import ClientColumn
from alko_desk.ui.clients.page import ClientsPage
from tests.clients_data import IVAN, draft

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def tasks(qapp, dialogs):
    from alko_desk.ui.tasks import TaskRunner

    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)
    qapp.processEvents()


def cut_off(root: QWidget) -> list[str]:
    """Visible labels and buttons narrower than their text needs."""
    problems = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.window() is not root.window():
            continue
        if isinstance(widget, QLabel) and not widget.wordWrap() and widget.text():
            if widget.width() + 1 < widget.minimumSizeHint().width():
                problems.append(
                    f"label {widget.text()!r}: {widget.width()} < {widget.minimumSizeHint().width()}"
                )
        elif (
            isinstance(widget, QAbstractButton)
            and widget.text()
            and widget.width() + 1 < widget.minimumSizeHint().width()
        ):
            problems.append(f"button {widget.text()!r}")
    return problems


def headers_fit(page: ClientsPage) -> list[str]:
    header = page.view.horizontalHeader()
    metrics = header.fontMetrics()
    return [
        c.header
        for c in ClientColumn
        if header.sectionSize(c) < metrics.horizontalAdvance(c.header) + 24
    ]  # room for the sort arrow


def settle(qtbot, widget: QWidget) -> None:
    qtbot.wait(50)
    widget.repaint()


def test_list_and_detail_with_demo_clients_render_without_cut_off_text(
    qtbot, context, make_user, tasks, shots
):
    services = context.services_for(make_user("sam", Role.SALES, "Sam Sales"))
    DemoSeeder(services.clients, seed=11).seed(48)
    z = services.clients.register(new_client_id(), draft(marketing_consent=True))
    services.clients.register(new_client_id(), draft(**IVAN))
    page = ClientsPage(context, services, tasks)
    qtbot.addWidget(page)
    page.resize(1176, 700)  # the page of a 1366×768 window
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 50 and not page.model.loading, timeout=WAIT)
    settle(qtbot, page)
    assert headers_fit(page) == []
    assert cut_off(page) == []
    page.view.scrollToBottom()  # the end of the alphabet, where the Cyrillic names follow the Latin ones
    settle(qtbot, page)
    page.grab().save(str(shots / "clients-list.png"))

    page.open_client(z.id)
    qtbot.waitUntil(
        lambda: (
            page.detail.client_id == z.id
            and page.detail.stack.currentWidget() is page.detail.client_page
        ),
        timeout=WAIT,
    )
    settle(qtbot, page)
    assert "•" in page.detail.text_of("id_number")
    assert cut_off(page) == []
    page.grab().save(str(shots / "clients-detail.png"))

    qtbot.keyClicks(page.search, "kov")
    qtbot.waitUntil(lambda: page.model.searching and not page.presenter.searching, timeout=WAIT)
    settle(qtbot, page)
    assert cut_off(page) == []
    page.grab().save(str(shots / "clients-search.png"))


def test_registration_form_with_messages_and_duplicates_renders_without_cut_off_text(
    qtbot, context, make_user, tasks, shots
):
    services = context.services_for(make_user("sam", Role.SALES, "Sam Sales"))
    services.clients.register(new_client_id(), draft())
    page = ClientsPage(context, services, tasks)
    qtbot.addWidget(page)
    page.resize(1176, 700)  # the page of a 1366×768 window
    page.show()
    qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
    page.new_client()
    form = page.form_dialog
    f = form.form
    for widget, text in (
        (f.first_name, "Marija"),
        (f.last_name, "Kovačević"),
        (f.birth_date, "31.02.1986"),
        (f.id_number, "12"),
        (f.email, "marija@example"),
        (f.phone, "091 234"),
    ):
        widget.setText(text)
        widget.textEdited.emit(text)
    settle(qtbot, form)
    assert f.error_text("email") and f.error_text("phone") and f.error_text("birth_date")
    assert cut_off(form) == []
    form.grab().save(str(shots / "clients-register.png"))

    for widget, text in (
        (f.birth_date, "12.05.1986"),
        (f.id_number, "998877665"),
        (f.email, "zeljko.kovacevic@example.hr"),
        (f.phone, ""),
    ):
        widget.setText(text)
        widget.textEdited.emit(text)
    form.save()
    qtbot.waitUntil(lambda: form.duplicates.isVisible() and not form.saving, timeout=WAIT)
    form.adjustSize()
    settle(qtbot, form)
    assert cut_off(form) == []
    form.grab().save(str(shots / "clients-duplicates.png"))


def test_conflict_dialog_and_unreadable_client_render_without_cut_off_text(
    qtbot, context, make_user, tasks, shots
):
    services = context.services_for(make_user("sam", Role.SALES, "Sam Sales"))
    c = services.clients.register(new_client_id(), draft())
    broken = services.clients.register(new_client_id(), draft(**IVAN))
    context.client_keys_repo.destroy(broken.id)
    page = ClientsPage(context, services, tasks)
    qtbot.addWidget(page)
    page.resize(1176, 700)  # the page of a 1366×768 window
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.model.loading, timeout=WAIT)

    page.open_client(broken.id)
    qtbot.waitUntil(
        lambda: page.detail.stack.currentWidget() is page.detail.unreadable_page, timeout=WAIT
    )
    settle(qtbot, page)
    assert cut_off(page) == []
    page.grab().save(str(shots / "clients-unreadable.png"))

    page.open_client(c.id)
    qtbot.waitUntil(
        lambda: (
            page.detail.client_id == c.id
            and page.detail.stack.currentWidget() is page.detail.client_page
        ),
        timeout=WAIT,
    )
    page.edit_client()
    form = page.form_dialog
    other = context.services_for(make_user("sue", Role.SALES, "Sue Sales")).clients
    theirs = other.get(c.id)
    other.update(
        theirs, replace(theirs.draft, email="z.kovacevic@example.hr", phone="+385 98 111 2233")
    )
    form.form.notes.setPlainText("Wants a red one.")
    form.save()
    qtbot.waitUntil(
        lambda: form.conflict_dialog is not None and form.conflict_dialog.isVisible(), timeout=WAIT
    )
    dialog = form.conflict_dialog
    settle(qtbot, dialog)
    assert cut_off(dialog) == []
    dialog.grab().save(str(shots / "clients-conflict.png"))
