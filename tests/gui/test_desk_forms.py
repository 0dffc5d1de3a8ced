"""Forms that keep what was typed and say the right thing at the right time (issue 7, items 1 and 7)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.ui.clients.form import ClientFormDialog
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import draft
from tests.gui.test_clients_gui import ZELJKO_TYPED, type_into

pytestmark = pytest.mark.gui
WAIT = 10_000


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)
    qapp.processEvents()


@pytest.fixture
def sales(context, make_user):
    return context.services_for(make_user("sam", Role.SALES))


@pytest.fixture
def form(qtbot, sales, tasks, clock):
    dialog = ClientFormDialog(
        sales.clients, tasks, region=lambda: "HR", today=lambda: clock.now().date()
    )
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def test_enter_on_the_duplicate_panel_keeps_the_dialog_open(qtbot, form, sales, dialogs):
    sales.clients.register(new_client_id(), draft())
    type_into(
        qtbot,
        form,
        first_name="Marija",
        last_name="Kovačević",
        birth_date="12.05.1986",
        id_number="998877665",
        email="zeljko.kovacevic@example.hr",
    )
    qtbot.keyClick(form.form.email, Qt.Key.Key_Return)  # Enter in a line edit submits
    qtbot.waitUntil(form.duplicates.isVisible, timeout=WAIT)
    qtbot.waitUntil(lambda: not form.saving, timeout=WAIT)
    assert not form.cancel_button.isDefault() and not form.cancel_button.autoDefault()
    assert form.save_button.isDefault()
    dialogs.confirm_answer = False
    focused = form.focusWidget()
    assert focused is not form.cancel_button
    qtbot.keyClick(focused, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert form.isVisible()
    assert form.form.first_name.text() == "Marija"
    # Enter on a focused Cancel does not discard either
    form.cancel_button.setFocus()
    qtbot.keyClick(form.cancel_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not form.saving, timeout=WAIT)
    assert form.isVisible() and form.form.first_name.text() == "Marija"


def test_escape_on_a_half_filled_form_asks_discard_changes(qtbot, form, dialogs):
    type_into(qtbot, form, first_name="Ana")
    dialogs.confirm_answer = False
    qtbot.keyClick(form.form.first_name, Qt.Key.Key_Escape)
    assert dialogs.confirms and form.isVisible()
    assert "unsaved" in dialogs.confirms[-1] or "not been saved" in dialogs.confirms[-1]
    qtbot.mouseClick(form.cancel_button, Qt.MouseButton.LeftButton)
    assert len(dialogs.confirms) == 2 and form.isVisible()
    assert form.form.first_name.text() == "Ana"
    dialogs.confirm_answer = True
    qtbot.keyClick(form.form.first_name, Qt.Key.Key_Escape)
    assert not form.isVisible()


def test_escape_on_an_untouched_form_closes_without_asking(qtbot, form, dialogs):
    qtbot.keyClick(form.form.first_name, Qt.Key.Key_Escape)
    assert not form.isVisible() and dialogs.confirms == []


def test_a_date_that_does_not_exist_is_called_so(qtbot, form):
    type_into(qtbot, form, birth_date="31.02.1980")
    assert "no such date" in form.form.error_text("birth_date")
    form.form.birth_date.clear()
    type_into(qtbot, form, birth_date="1980 Feb")
    assert "DD.MM.YYYY" in form.form.error_text("birth_date")


def test_required_fields_are_marked_before_any_submit(form):
    from PySide6.QtWidgets import QLabel

    texts = [label.text() for label in form.form.findChildren(QLabel)]
    for name in ("First name *", "Last name *", "Date of birth *", "ID number *"):
        assert name in texts
    assert "* required" in form.form.required_note.text()


def counter(form) -> str:
    """The counter without the locale's digit grouping."""
    return "".join(ch for ch in form.form.notes_counter.text() if ch.isdigit() or ch == "/")


def test_notes_counter_counts_towards_the_limit(qtbot, form):
    assert counter(form) == "0/2000"
    form.form.notes.setFocus()
    qtbot.keyClicks(form.form.notes, "Looking for an estate car")
    assert counter(form) == "25/2000"
    form.form.notes.setPlainText("x" * 2001)  # as if saved by an older version
    assert counter(form) == "2001/2000"
    qtbot.waitUntil(lambda: "At most 2000" in form.form.error_text("notes"), timeout=WAIT)


def test_a_paste_longer_than_the_notes_limit_is_cut_and_says_so(qtbot, form):
    from PySide6.QtCore import QMimeData

    data = QMimeData()
    data.setText("y" * 2500)
    form.form.notes.insertFromMimeData(data)
    assert form.form.notes.length() == 2000
    assert "at most" in form.form.error_text("notes")


def test_typing_ten_thousand_characters_into_notes_stays_responsive(qtbot, form):
    """Qt re-lays a paragraph per keystroke (quadratic): past the limit, keys must cost nothing."""
    form.form.notes.setFocus()
    started = time.perf_counter()
    for _ in range(10):
        qtbot.keyClicks(form.form.notes, "abcd efgh " * 100)
    elapsed = time.perf_counter() - started
    assert form.form.notes.length() == 2000
    assert "at most" in form.form.error_text("notes")
    assert elapsed < 8.0, f"10,000 keystrokes took {elapsed:.1f} s"


def test_licence_is_kept_as_typed(qtbot, form, sales):
    type_into(qtbot, form, **{**ZELJKO_TYPED, "licence_number": "HR-DL-887766"})
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=WAIT)
    [row] = sales.clients.search("zeljko.kovacevic@example.hr")
    assert sales.clients.reveal(row.id)["licence_number"] == "HR-DL-887766"


def test_licence_written_another_way_is_not_an_edit(sales):
    client = sales.clients.register(new_client_id(), draft(licence="HR-DL-887766"))
    from dataclasses import replace

    again = sales.clients.update(client, replace(client.draft, licence_number="hr dl 887766"))
    assert again.version == client.version  # nothing changed
    assert sales.clients.reveal(client.id)["licence_number"] == "HR-DL-887766"


def test_tab_order_follows_the_layout(qtbot, form):
    f = form.form
    expected = [
        f.first_name,
        f.last_name,
        f.birth_date,
        f.id_type,
        f.id_number,
        f.licence_number,
        f.email,
        f.phone,
        f.preferred_channel,
        f.street,
        f.postal_code,
        f.city,
        f.country,
        f.marketing_consent,
        f.notes,
        form.save_button,
    ]
    f.first_name.setFocus()
    seen = [f.first_name]
    for _ in range(len(expected) - 1):
        qtbot.keyClick(form.focusWidget(), Qt.Key.Key_Tab)
        seen.append(form.focusWidget())
    assert [w.accessibleName() or w.objectName() or type(w).__name__ for w in seen] == [
        w.accessibleName() or w.objectName() or type(w).__name__ for w in expected
    ]
