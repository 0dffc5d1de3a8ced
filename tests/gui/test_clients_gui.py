"""The Clients screen on the real widgets, against the real FerretDB (pytest-qt, offscreen)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import shiboken6
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from alko_desk.models.audit import AuditFilter
from alko_desk.models.changes import Change, ChangeBatch, ChangeKind
from alko_desk.models.errors import DatabaseUnavailable
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.ui.changes import ChangeWatcher
from alko_desk.ui.clients.form import ClientFormDialog
from alko_desk.ui.clients.list_model import (
    CLIENT_ID_ROLE,
    ClientColumn,
    ClientListModel,
    client_rows,
)
from alko_desk.ui.clients.page import ClientsPage
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)  # before the test database is dropped
    qapp.processEvents()
    assert dialogs.generic_errors == 0, "an unexpected error reached the generic dialog"


@pytest.fixture
def sales(context, make_user):
    return context.services_for(make_user("sam", Role.SALES))


@pytest.fixture
def audit(context, admin_session):
    return lambda prefix: context.services_for(admin_session).audit.entries(
        AuditFilter(action_prefix=prefix)
    )


@pytest.fixture
def open_page(qtbot, context, tasks):
    def _open(services) -> ClientsPage:
        page = ClientsPage(context, services, tasks)
        qtbot.addWidget(page)
        page.resize(1200, 700)
        page.show()
        qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
        return page

    return _open


def new_form(qtbot, page: ClientsPage) -> ClientFormDialog:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert page.form_dialog is not None and page.form_dialog.isVisible()
    return page.form_dialog


def type_text(qtbot, widget, text: str) -> None:
    """Types like a keyboard: qtbot.keyClicks for ASCII; key events carrying the character otherwise
    (QTest only knows ASCII keys and aborts on "Ž")."""
    run = ""
    for ch in text + "\0":
        if ch.isascii() and ch != "\0":
            run += ch
            continue
        if run:
            qtbot.keyClicks(widget, run)
            run = ""
        if ch != "\0":
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(
                    widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch)
                )


def type_into(qtbot, form: ClientFormDialog, **values: str) -> None:
    for name, text in values.items():
        widget = form.form.widget(name)
        widget.setFocus()
        type_text(qtbot, widget, text)


ZELJKO_TYPED = {
    "first_name": "Željko",
    "last_name": "Kovačević",
    "birth_date": "09.03.1984",
    "id_number": "112233445",
    "licence_number": "HR778899",
    "email": "zeljko.kovacevic@example.hr",
    "phone": "091 234 5678",
    "street": "Ulica Domovinskog rata 12",
    "postal_code": "21000",
    "city": "Split",
    "country": "Hrvatska",
}


def closed(form: ClientFormDialog) -> bool:
    return not shiboken6.isValid(form) or not form.isVisible()


def saved_and_closed(qtbot, form: ClientFormDialog) -> None:
    qtbot.waitUntil(lambda: closed(form), timeout=WAIT)


# -- registration ----------------------------------------------------------------------------


def test_registering_through_the_form_saves_the_client_and_opens_it(qtbot, open_page, sales):
    page = open_page(sales)
    assert page.empty.isVisible() and "No clients registered yet" in page.empty.text()
    form = new_form(qtbot, page)
    type_into(qtbot, form, **ZELJKO_TYPED)
    form.form.marketing_consent.setChecked(True)
    assert "2024-01" in form.form.consent_note.text()  # the policy version the client was shown
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)

    [row] = sales.clients.search("zeljko.kovacevic@example.hr")
    client = sales.clients.get(row.id)
    assert client.draft.phone == "+385912345678" and client.draft.address.city == "Split"
    assert client.consent.granted and client.consent.policy_version == "2024-01"
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT)
    assert page.view.isVisible() and not page.empty.isVisible()
    assert page.detail.name.text() == "Željko Kovačević"
    assert page.detail.text_of("email") == "zeljko.kovacevic@example.hr"


def test_validation_messages_appear_beside_the_fields_as_the_user_types(qtbot, open_page, sales):
    form = new_form(qtbot, open_page(sales))
    type_into(
        qtbot, form, email="not-an-email", phone="12", birth_date="31.02.1990", id_number="x!"
    )
    assert "not an email address" in form.form.error_text("email")
    assert "not valid" in form.form.error_text("phone") or "not a phone" in form.form.error_text(
        "phone"
    )
    assert "no such date" in form.form.error_text("birth_date")
    assert "letters and digits" in form.form.error_text("id_number")
    assert form.form.error_text("first_name") == ""  # untouched fields are not scolded yet

    form.form.email.clear()
    type_into(qtbot, form, email="ana@example.hr")
    assert form.form.error_text("email") == ""
    form.form.birth_date.clear()
    type_into(qtbot, form, birth_date="01.01.2020")
    assert "at least 16" in form.form.error_text("birth_date")

    qtbot.mouseClick(
        form.save_button, Qt.MouseButton.LeftButton
    )  # refused before the service is asked
    assert form.form.error_text("first_name") == "Required."
    assert form.isVisible() and form.save_attempts == 0


def test_double_click_on_register_creates_one_client(qtbot, open_page, sales, audit):
    page = open_page(sales)
    form = new_form(qtbot, page)
    type_into(qtbot, form, **ZELJKO_TYPED)
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)  # a double-click: press, release,
    assert form.saving and not form.save_button.isEnabled()
    qtbot.mouseDClick(form.save_button, Qt.MouseButton.LeftButton)  # then the double-click event,
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    form.save()  # and Enter pressed while the first save runs
    saved_and_closed(qtbot, form)
    assert form.save_attempts == 1
    assert sales.clients.count() == 1
    assert len(audit("client.registered")) == 1


def test_database_gone_while_saving_keeps_the_form_and_retry_saves(
    qtbot, open_page, sales, dialogs, monkeypatch
):
    page = open_page(sales)
    form = new_form(qtbot, page)
    type_into(qtbot, form, **ZELJKO_TYPED)
    real_register = sales.clients.register
    calls = []

    def flaky_register(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            raise DatabaseUnavailable("The database cannot be reached.")
        return real_register(*args, **kwargs)

    monkeypatch.setattr(sales.clients, "register", flaky_register)
    dialogs.retry_answers = [False]  # first the user declines: the form and its text stay
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialogs.retries) and form.save_button.isEnabled(), timeout=WAIT)
    assert form.isVisible() and form.form.email.text() == "zeljko.kovacevic@example.hr"
    assert sales.clients.count() == 0
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)
    assert calls == [form.client_id, form.client_id] and sales.clients.count() == 1


# -- duplicates ------------------------------------------------------------------------------


def test_same_email_is_shown_side_by_side_and_may_be_registered_anyway(qtbot, open_page, sales):
    existing = sales.clients.register(new_client_id(), draft())
    page = open_page(sales)
    form = new_form(qtbot, page)
    type_into(
        qtbot,
        form,
        first_name="Marija",
        last_name="Kovačević",
        birth_date="12.05.1986",
        id_number="998877665",
        email="zeljko.kovacevic@example.hr",
    )
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    panel = form.duplicates
    qtbot.waitUntil(panel.isVisible, timeout=WAIT)
    grid = panel.grid_host.layout()
    assert grid.itemAtPosition(0, 1).widget().text() == "You are registering"
    assert grid.itemAtPosition(1, 1).widget().text() == "Marija Kovačević"
    assert grid.itemAtPosition(1, 2).widget().text() == "Željko Kovačević"
    assert "same" in grid.itemAtPosition(2, 2).widget().text()  # the email row
    assert grid.itemAtPosition(3, 2) is None  # the phone did not match
    assert existing.id in panel.open_buttons and panel.anyway_button.isVisible()
    assert sales.clients.count() == 1

    qtbot.mouseClick(panel.anyway_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)
    assert sales.clients.count() == 2


def test_open_existing_from_the_duplicates_shows_that_client(qtbot, open_page, sales):
    existing = sales.clients.register(new_client_id(), draft())
    page = open_page(sales)
    form = new_form(qtbot, page)
    type_into(
        qtbot,
        form,
        first_name="Z",
        last_name="K",
        birth_date="09.03.1984",
        id_number="5544332211",
        phone="091 234 5678",
    )
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(form.duplicates.isVisible, timeout=WAIT)
    qtbot.mouseClick(form.duplicates.open_buttons[existing.id], Qt.MouseButton.LeftButton)
    assert closed(form)
    qtbot.waitUntil(lambda: page.detail.client_id == existing.id, timeout=WAIT)
    assert page.detail.name.text() == "Željko Kovačević"
    assert sales.clients.count() == 1


def test_same_id_number_under_another_name_is_blocked_and_flagged(qtbot, open_page, sales, audit):
    existing = sales.clients.register(new_client_id(), draft())
    form = new_form(qtbot, open_page(sales))
    type_into(
        qtbot,
        form,
        first_name="Petar",
        last_name="Horvat",
        birth_date="01.02.1970",
        id_number="112 233 445",
        email="petar@example.hr",
    )
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    panel = form.duplicates
    qtbot.waitUntil(panel.isVisible, timeout=WAIT)
    assert panel.blocking and not panel.anyway_button.isVisible()
    assert "cannot be registered" in panel.message.text()
    assert "manager" in panel.explanation.text()
    assert list(panel.open_buttons) == [existing.id]
    assert sales.clients.count() == 1
    assert audit("fraud.identity_conflict")[0].target == f"client:{existing.id}"


# -- list and search -------------------------------------------------------------------------


def seed(services, n: int) -> None:
    services.clients.register_many(
        [
            (
                new_client_id(),
                draft(
                    f"Ime{i:03d}",
                    f"Prezime{i:03d}",
                    email=f"c{i}@example.hr",
                    phone="",
                    id_number=f"77{i:07d}",
                ),
            )
            for i in range(n)
        ]
    )


def test_list_loads_a_page_at_a_time_as_the_user_scrolls(qtbot, open_page, sales):
    seed(sales, 250)
    page = open_page(sales)
    model = page.model
    assert model.page_size == 100 and model.total == 250
    assert model.rowCount() == 100 and model.canFetchMore()
    assert "100 of 250" in page.status.text()
    for expected in (200, 250):
        page.view.scrollToBottom()
        qtbot.waitUntil(lambda n=expected: model.rowCount() == n, timeout=WAIT)
    assert not model.canFetchMore()
    names = [model.index(r, ClientColumn.NAME).data() for r in range(250)]
    assert names == sorted(names) and len(set(names)) == 250
    assert page.status.text() == "250 clients"


def test_a_client_registered_beyond_the_loaded_rows_is_scrolled_to_and_selected(
    qtbot, open_page, sales
):
    seed(sales, 250)  # Prezime000..249: only the first 100 are loaded
    page = open_page(sales)
    assert page.model.rowCount() == 100
    form = new_form(qtbot, page)
    type_into(qtbot, form, **{**ZELJKO_TYPED, "last_name": "Živković"})  # Ž sorts after P
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)

    qtbot.waitUntil(lambda: page.selected_client_id() is not None, timeout=WAIT)
    [row] = sales.clients.search("zeljko.kovacevic@example.hr")
    assert page.selected_client_id() == row.id
    at = page.model.row_of(row.id)
    assert at == 250 and page.model.rowCount() == 251
    qtbot.wait(600)  # the refresh the registration announced has come and gone
    assert page.selected_client_id() == row.id
    assert page.detail.name.text() == "Željko Živković"
    index = page.model.index(page.model.row_of(row.id), ClientColumn.NAME)
    assert page.view.viewport().rect().intersects(page.view.visualRect(index))  # scrolled to


def test_a_client_far_down_the_list_is_fetched_in_chunks_and_selected(
    qtbot, open_page, sales, monkeypatch
):
    import alko_desk.ui.table_models as table_models

    monkeypatch.setattr(table_models, "FETCH_CHUNK", 70)
    seed(sales, 250)
    page = open_page(sales)
    asked: list[int] = []
    source = page.model._source
    page.model._source = lambda request, progress: (
        asked.append(request.count) or source(request, progress)
    )
    form = new_form(qtbot, page)
    type_into(qtbot, form, **{**ZELJKO_TYPED, "last_name": "Živković"})
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)
    qtbot.waitUntil(lambda: page.selected_client_id() is not None, timeout=WAIT)
    assert page.model.row_of(page.selected_client_id()) == 250
    assert asked.count(70) >= 2, asked  # chunks, not one read of 250 rows


def test_list_that_cannot_be_read_says_so_and_tries_again(
    qtbot, context, tasks, sales, dialogs, monkeypatch
):
    seed(sales, 3)
    real_count = sales.clients.count

    def down():
        raise DatabaseUnavailable("The database cannot be reached.")

    monkeypatch.setattr(sales.clients, "count", down)
    page = ClientsPage(context, sales, tasks)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.retry_button.isVisible(), timeout=WAIT)
    assert dialogs.retries == ["The database cannot be reached."]  # the runner's message with Retry
    assert "could not be read" in page.status.text() and page.model.rowCount() == 0
    monkeypatch.setattr(sales.clients, "count", real_count)
    qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3 and not page.model.loading, timeout=WAIT)
    assert not page.retry_button.isVisible() and page.status.text() == "3 clients"


def test_sorting_by_name_descending_pages_in_the_service(qtbot, open_page, sales):
    seed(sales, 120)
    page = open_page(sales)
    page.view.horizontalHeader().setSortIndicator(ClientColumn.NAME, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(
        lambda: page.model.sort_order == Qt.SortOrder.DescendingOrder and not page.model.loading,
        timeout=WAIT,
    )
    assert page.model.index(0, 0).data() == "Ime119 Prezime119" and page.model.rowCount() == 100


def test_city_and_phone_cannot_be_sorted_and_say_why(qtbot, open_page, sales):
    seed(sales, 3)
    page = open_page(sales)
    header = page.view.horizontalHeader()
    qtbot.mouseClick(
        header.viewport(),
        Qt.MouseButton.LeftButton,
        pos=header.viewport().rect().topLeft() + _section_centre(header, ClientColumn.CITY),
    )
    assert header.sortIndicatorSection() == ClientColumn.NAME
    assert "encrypted" in page.model.headerData(
        ClientColumn.CITY, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert not page.model.loading


def _section_centre(header, column):
    from PySide6.QtCore import QPoint

    return QPoint(
        header.sectionViewportPosition(column) + header.sectionSize(column) // 2,
        header.height() // 2,
    )


def test_search_as_you_type_finds_zeljko_from_zelj_without_a_search_per_key(
    qtbot, open_page, sales, monkeypatch
):
    z = sales.clients.register(new_client_id(), draft())
    sales.clients.register(new_client_id(), draft(**IVAN))
    sales.clients.register(
        new_client_id(),
        draft("Ana", "Zelić", email="ana@example.hr", phone="098 765 4321", id_number="556677889"),
    )
    page = open_page(sales)
    searched, real_search = [], sales.clients.search
    monkeypatch.setattr(
        sales.clients, "search", lambda text: searched.append(text) or real_search(text)
    )
    qtbot.keyClicks(page.search, "zelj")
    assert page.search.text() == "zelj" and searched == []  # typing did not wait for the database
    qtbot.waitUntil(lambda: page.model.searching and not page.presenter.searching, timeout=WAIT)
    assert searched == ["zelj"]
    assert [page.model.index(r, 0).data(CLIENT_ID_ROLE) for r in range(page.model.rowCount())] == [
        z.id
    ]
    assert page.model.index(0, ClientColumn.NAME).data() == "Željko Kovačević"
    assert page.status.text() == "1 match for “zelj”"

    page.search.clear()
    qtbot.keyClicks(page.search, "nobody")
    qtbot.waitUntil(lambda: page.empty.isVisible(), timeout=WAIT)
    assert "No client matches “nobody”" in page.empty.text()
    page.search.clear()
    qtbot.waitUntil(lambda: not page.model.searching and page.model.rowCount() == 3, timeout=WAIT)


def test_an_older_slow_search_never_replaces_a_newer_answer(qtbot, open_page, sales, monkeypatch):
    sales.clients.register(new_client_id(), draft())
    sales.clients.register(new_client_id(), draft(**IVAN))
    page = open_page(sales)
    gate, real_search = threading.Event(), sales.clients.search

    def search(text):
        if text == "iv":
            gate.wait(5)
        return real_search(text)

    monkeypatch.setattr(sales.clients, "search", search)
    presenter = page.presenter
    presenter.set_search_text("iv")
    presenter.search_now()
    presenter.set_search_text("zelj")
    presenter.search_now()
    qtbot.waitUntil(lambda: page.model.query == "zelj" and not presenter.searching, timeout=WAIT)
    gate.set()
    qtbot.wait(300)
    assert page.model.query == "zelj"
    assert [page.model.index(0, 0).data()] == ["Željko Kovačević"] and page.model.rowCount() == 1


def test_exact_email_phone_and_id_number_work_in_the_same_box(qtbot, open_page, sales):
    z = sales.clients.register(new_client_id(), draft())
    sales.clients.register(new_client_id(), draft(**IVAN))
    page = open_page(sales)
    for text in ("Zeljko.Kovacevic@example.hr", "+385 91 234 5678", "112233445"):
        page.search.clear()
        qtbot.keyClicks(page.search, text)
        qtbot.waitUntil(
            lambda t=text: page.model.query == t and not page.presenter.searching, timeout=WAIT
        )
        assert [
            page.model.index(r, 0).data(CLIENT_ID_ROLE) for r in range(page.model.rowCount())
        ] == [z.id]
    assert page.model.index(0, ClientColumn.PHONE).data().endswith("78")
    assert "•" in page.model.index(0, ClientColumn.PHONE).data()


# -- detail, reveal, edit --------------------------------------------------------------------


def select_first_row(qtbot, page: ClientsPage, client_id: str) -> None:
    row = page.model.row_of(client_id)
    assert row >= 0
    page.view.selectRow(row)
    qtbot.waitUntil(
        lambda: (
            page.detail.client_id == client_id
            and page.detail.stack.currentWidget() is not page.detail.loading_page
        ),
        timeout=WAIT,
    )


def test_numbers_are_masked_until_reveal_which_is_audited(qtbot, open_page, sales, audit):
    c = sales.clients.register(new_client_id(), draft())
    page = open_page(sales)
    select_first_row(qtbot, page, c.id)
    detail = page.detail
    assert "•" in detail.text_of("id_number") and "112233445" not in detail.text_of("id_number")
    assert "•" in detail.text_of("licence_number") and detail.text_of("licence_number").endswith(
        "899"
    )
    assert detail.text_of("email") == "zeljko.kovacevic@example.hr"
    assert detail.text_of("birth_date") == "9 Mar 1984"
    assert audit("client.viewed")[0].target == f"client:{c.id}"
    assert audit("client.revealed") == []

    qtbot.mouseClick(detail.reveal_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.text_of("id_number") == "112233445", timeout=WAIT)
    assert detail.text_of("licence_number") == "HR778899"
    [entry] = audit("client.revealed")
    assert entry.target == f"client:{c.id}" and entry.actor == "sam"
    qtbot.mouseClick(detail.reveal_button, Qt.MouseButton.LeftButton)  # Hide
    assert "•" in detail.text_of("id_number")


def test_an_unreadable_client_is_shown_as_unreadable_not_as_empty_fields(
    qtbot, context, open_page, sales
):
    c = sales.clients.register(new_client_id(), draft())
    context.client_keys_repo.destroy(c.id)
    page = open_page(sales)
    select_first_row(qtbot, page, c.id)
    assert page.detail.stack.currentWidget() is page.detail.unreadable_page
    assert page.detail.unreadable_name.text() == "Željko Kovačević"
    assert "key" in page.detail.unreadable_reason.text()
    assert not page.detail.edit_button.isVisible()


def test_edit_conflict_lists_what_changed_and_reload_keeps_my_other_edits(
    qtbot, context, open_page, sales, make_user
):
    c = sales.clients.register(new_client_id(), draft())
    page = open_page(sales)
    select_first_row(qtbot, page, c.id)
    qtbot.mouseClick(page.detail.edit_button, Qt.MouseButton.LeftButton)
    form = page.form_dialog
    assert (
        form.form.email.text() == "zeljko.kovacevic@example.hr"
        and "•" in form.form.id_number.text()
    )

    other = context.services_for(make_user("sue", Role.SALES)).clients
    theirs = other.get(c.id)
    other.update(theirs, replace(theirs.draft, email="new@example.hr"))

    form.form.notes.clear()
    qtbot.keyClicks(form.form.notes, "Wants a red one.")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: form.conflict_dialog is not None and form.conflict_dialog.isVisible(), timeout=WAIT
    )
    conflict = form.conflict_dialog
    assert conflict.rows() == [("Email", "new@example.hr", "zeljko.kovacevic@example.hr")]
    assert conflict.message.text().startswith("sue saved this client while you were editing")
    assert (
        other.get(c.id).draft.notes == "Interested in a family estate car."
    )  # nothing overwritten

    qtbot.mouseClick(conflict.reload_button, Qt.MouseButton.LeftButton)
    assert form.form.email.text() == "new@example.hr"
    assert form.form.notes.toPlainText() == "Wants a red one."
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    saved_and_closed(qtbot, form)
    now = other.get(c.id)
    assert now.draft.email == "new@example.hr" and now.draft.notes == "Wants a red one."
    assert (
        other.reveal(c.id)["id_number"] == "112233445"
    )  # the masked number was kept, not saved over
    assert page.detail.text_of("notes") == "Wants a red one."


def test_edit_where_both_changed_a_field_shows_mine_beside_theirs(
    qtbot, context, open_page, sales, make_user
):
    c = sales.clients.register(new_client_id(), draft())
    page = open_page(sales)
    select_first_row(qtbot, page, c.id)
    qtbot.mouseClick(page.detail.edit_button, Qt.MouseButton.LeftButton)
    form = page.form_dialog
    other = context.services_for(make_user("sue", Role.SALES)).clients
    theirs = other.get(c.id)
    other.update(theirs, replace(theirs.draft, email="theirs@example.hr"))
    form.form.email.clear()
    type_into(qtbot, form, email="mine@example.hr")
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: form.conflict_dialog is not None and form.conflict_dialog.isVisible(), timeout=WAIT
    )
    assert form.conflict_dialog.rows() == [("Email", "theirs@example.hr", "mine@example.hr")]
    qtbot.mouseClick(form.conflict_dialog.reload_button, Qt.MouseButton.LeftButton)
    assert form.form.email.text() == "theirs@example.hr"
    assert "mine@example.hr" in form.form._fields["email"].conflict.text()
    assert other.get(c.id).draft.email == "theirs@example.hr"


def test_finance_reads_clients_without_new_edit_or_reveal(
    qtbot, context, open_page, sales, make_user
):
    c = sales.clients.register(new_client_id(), draft())
    finance = context.services_for(make_user("fin", Role.FINANCE))
    page = open_page(finance)
    assert not page.new_button.isVisibleTo(page)
    select_first_row(qtbot, page, c.id)
    assert page.detail.stack.currentWidget() is page.detail.client_page
    assert not page.detail.edit_button.isVisibleTo(
        page
    ) and not page.detail.reveal_button.isVisibleTo(page)
    page.new_client()
    page.edit_client()
    assert page.form_dialog is None
    assert page.model.rowCount() == 1


# -- the model -------------------------------------------------------------------------------


def test_client_list_model_passes_the_model_tester_through_paging_sorting_and_search(
    qtbot, qtmodeltester, sales, tasks
):
    seed(sales, 130)
    model = ClientListModel(client_rows(sales.clients), tasks, page_size=50)
    qtmodeltester.check(model, force_py=True)
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 50 and not model.loading, timeout=WAIT)
    while model.canFetchMore():
        before = model.rowCount()
        model.fetchMore()
        qtbot.waitUntil(lambda n=before: model.rowCount() > n and not model.loading, timeout=WAIT)
    assert model.rowCount() == 130
    model.sort(ClientColumn.STATUS, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(
        lambda: model.sort_column is ClientColumn.STATUS and not model.loading, timeout=WAIT
    )
    model.set_query("prezime01")
    qtbot.waitUntil(lambda: model.searching and not model.loading, timeout=WAIT)
    assert model.rowCount() == 10 and not model.canFetchMore()
    model.sort(ClientColumn.NAME, Qt.SortOrder.DescendingOrder)  # sorted by the service
    qtbot.waitUntil(
        lambda: model.sort_order == Qt.SortOrder.DescendingOrder and not model.loading,
        timeout=WAIT,
    )
    assert model.index(0, 0).data() == "Ime019 Prezime019"
    assert model.index(0, 0).data(CLIENT_ID_ROLE)
    model.set_query("")
    qtbot.waitUntil(
        lambda: not model.searching and model.rowCount() == 50 and not model.loading, timeout=WAIT
    )
    assert model.index(0, ClientColumn.NAME).data() == "Ime129 Prezime129"  # still by name, Z to A


def test_the_main_window_opens_this_page_in_the_clients_section(qtbot, open_main, make_user):
    window = open_main(make_user("sam", Role.SALES))
    page = window.show_section("clients")
    assert isinstance(page, ClientsPage)
    qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
    assert page.new_button.isVisible()


class ScriptedFeed:
    """Stands in for the session's change feed: a plain list of changes the test appends to."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def announce(self, kind: ChangeKind, *ids: str) -> None:
        self.changes.append(Change(len(self.changes) + 1, "clients", kind, ids))

    def head(self) -> int:
        return len(self.changes)

    def since(self, seq: int) -> ChangeBatch:
        return ChangeBatch(head=len(self.changes), changes=tuple(self.changes[seq:]))


@pytest.fixture
def watched_page(qtbot, context, tasks):
    def _open(services, feed: ScriptedFeed) -> ClientsPage:
        watcher = ChangeWatcher(feed, tasks, interval_ms=100)
        page = ClientsPage(context, services, tasks, changes=watcher)
        watcher.setParent(page)
        qtbot.addWidget(page)
        page.resize(1200, 400)
        page.show()
        watcher.start()
        qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
        qtbot.waitUntil(lambda: watcher.seen == 0, timeout=WAIT)
        return page

    return _open


def top_row_id(page: ClientsPage) -> str:
    return page.view.indexAt(page.view.viewport().rect().topLeft()).data(CLIENT_ID_ROLE)


def test_a_change_on_another_desk_refreshes_the_rows_keeping_selection_and_scroll(
    qtbot, watched_page, sales, context, make_user
):
    seed(sales, 150)
    feed = ScriptedFeed()
    page = watched_page(sales, feed)
    assert page.model.rowCount() == 100 and page.status.text().startswith("100 of 150")
    model, view = page.model, page.view
    view.scrollTo(model.index(40, 0), view.ScrollHint.PositionAtTop)
    selected = model.client_id(45)
    view.selectRow(45)
    qtbot.waitUntil(lambda: page.detail.client_id == selected, timeout=WAIT)
    top = top_row_id(page)
    height = page.list_stack.height()

    other = context.services_for(make_user("sue", Role.SALES)).clients
    first = other.register(
        new_client_id(), draft("Aaron", "Aaby", email="a@example.hr", id_number="123123123")
    )
    renamed_id = model.client_id(47)
    renamed = other.get(renamed_id)
    other.update(renamed, replace(renamed.draft, first_name="Ime047a"))  # stays in its place
    feed.announce(ChangeKind.ADDED, first.id)
    feed.announce(ChangeKind.UPDATED, renamed_id)

    qtbot.waitUntil(lambda: model.client_id(0) == first.id, timeout=WAIT)  # no click, no F5
    assert model.index(model.row_of(renamed_id), 0).data() == "Ime047a Prezime047"
    assert page.selected_client_id() == selected and page.detail.client_id == selected
    assert top_row_id(page) == top  # the rows did not move under the user
    assert page.list_stack.height() == height  # no banner pushed the list down
    assert page.status.text().startswith("100 of 151")

    other.update(other.get(selected), replace(other.get(selected).draft, notes="Changed there."))
    feed.announce(ChangeKind.UPDATED, selected)
    qtbot.waitUntil(lambda: page.detail.text_of("notes") == "Changed there.", timeout=WAIT)


def test_f5_after_another_desk_added_clients_shows_the_true_total_from_the_start(
    qtbot, open_page, sales, context, make_user
):
    seed(sales, 120)
    page = open_page(sales)
    other = context.services_for(make_user("sue", Role.SALES))
    seed_more = [
        (
            new_client_id(),
            draft(
                "Ana", f"Horvat{i:03d}", email=f"h{i}@example.hr", phone="", id_number=f"66{i:07d}"
            ),
        )
        for i in range(30)
    ]
    other.clients.register_many(seed_more)
    QTest.keyClick(page, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: page.model.total == 150 and not page.model.loading, timeout=WAIT)
    names = [page.model.index(r, 0).data() for r in range(page.model.rowCount())]
    assert names[0] == "Ana Horvat000" and page.status.text().startswith("100 of 150")


def test_search_shows_rows_in_the_order_the_list_does(qtbot, open_page, sales):
    for first, last, n in (("Ana", "Babić", 1), ("Iva", "Adamić", 2), ("Zora", "Anić", 3)):
        sales.clients.register(
            new_client_id(),
            draft(first, last, email=f"{n}@example.hr", phone="", id_number=f"55500{n}000"),
        )
    page = open_page(sales)
    listed = [page.model.index(r, 0).data() for r in range(page.model.rowCount())]
    assert listed == ["Iva Adamić", "Zora Anić", "Ana Babić"]
    qtbot.keyClicks(page.search, "a")
    qtbot.waitUntil(lambda: page.model.query == "a" and not page.presenter.searching, timeout=WAIT)
    found = [page.model.index(r, 0).data() for r in range(page.model.rowCount())]
    assert found == listed  # same service order under the same "Name ▲" header
    assert page.view.horizontalHeader().sortIndicatorSection() == ClientColumn.NAME


def test_the_detail_follows_the_highlighted_row_after_a_search_and_a_reload(
    qtbot, open_page, sales
):
    z = sales.clients.register(new_client_id(), draft())
    ivan = sales.clients.register(new_client_id(), draft(**IVAN))
    page = open_page(sales)
    select_first_row(qtbot, page, z.id)
    page.search.setText(IVAN["email"])  # Željko is not among the matches
    qtbot.waitUntil(
        lambda: page.model.query == IVAN["email"] and not page.presenter.searching, timeout=WAIT
    )
    assert page.model.rowCount() == 1 and page.selected_client_id() is None
    assert page.detail.client is None  # nothing highlighted: nothing shown
    page.edit_client()
    assert page.form_dialog is None  # and Edit has no one to edit

    select_first_row(qtbot, page, ivan.id)
    page.search.clear()  # back to the whole list: Ivan stays highlighted and shown
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.model.loading, timeout=WAIT)
    assert page.selected_client_id() == ivan.id and page.detail.client_id == ivan.id
    page.presenter.refresh()
    qtbot.waitUntil(lambda: not page.model.loading, timeout=WAIT)
    assert page.selected_client_id() == ivan.id and page.detail.client_id == ivan.id
    qtbot.mouseClick(page.detail.edit_button, Qt.MouseButton.LeftButton)
    assert page.form_dialog.form.first_name.text() == IVAN["first"]


def test_a_slow_open_of_a_previous_row_never_replaces_the_highlighted_one(
    qtbot, open_page, sales, monkeypatch
):
    z = sales.clients.register(new_client_id(), draft())
    ivan = sales.clients.register(new_client_id(), draft(**IVAN))
    page = open_page(sales)
    gate, real_get = threading.Event(), sales.clients.get

    def get(client_id):
        if client_id == z.id:
            gate.wait(5)
        return real_get(client_id)

    monkeypatch.setattr(sales.clients, "get", get)
    page.view.selectRow(page.model.row_of(z.id))
    page.presenter.search_now()
    page.presenter.open(z.id)
    page.view.selectRow(page.model.row_of(ivan.id))
    qtbot.waitUntil(lambda: page.detail.client_id == ivan.id, timeout=WAIT)
    gate.set()
    qtbot.wait(300)
    assert page.detail.client_id == ivan.id and page.selected_client_id() == ivan.id


def test_unsortable_columns_show_no_indicator_and_their_tooltip_says_so(qtbot, open_page, sales):
    seed(sales, 3)
    page = open_page(sales)
    header = page.view.horizontalHeader()
    for column in (ClientColumn.CITY, ClientColumn.PHONE):
        header.setSortIndicator(column, Qt.SortOrder.AscendingOrder)  # what a click does
        assert header.sortIndicatorSection() == ClientColumn.NAME
        tip = page.model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert "cannot be sorted" in tip
    assert not page.model.loading
