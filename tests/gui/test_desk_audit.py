"""The audit log draws a manager to flagged entries and explains itself (issue 7, item 11)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.audit import AuditFilter
from alko_desk.models.users import Role
from alko_desk.services.audit import FLAG_PREFIX
from alko_desk.ui.audit_page import AuditColumn

pytestmark = pytest.mark.gui
WAIT = 10_000


def flag(context, target: str) -> int:
    entry = context.audit_log.record(
        "sam",
        "fraud.identity_conflict",
        target,
        {"reason": "same ID number under a different name"},
    )
    return entry.seq


@pytest.fixture
def manager_window(qtbot, open_main, make_user, context):
    flag(context, "client:a1")
    flag(context, "client:b2")
    window = open_main(make_user("mia", Role.MANAGER))
    window.resize(1366, 740)
    return window


def audit_page(qtbot, window):
    page = window.show_section("audit")
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() > 0, timeout=WAIT)
    return page


def test_managers_see_how_many_flags_wait_for_review_and_can_list_only_those(qtbot, manager_window):
    page = audit_page(qtbot, manager_window)
    qtbot.waitUntil(lambda: page.flags_banner.isVisible(), timeout=WAIT)
    assert "2 flagged entries" in page.flags_label.text()
    qtbot.mouseClick(page.show_flags_button, Qt.MouseButton.LeftButton)
    assert page.only_flags.isChecked()
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() == 2, timeout=WAIT)
    assert all(e.action.startswith(FLAG_PREFIX) for e in page.presenter.model.entries)


def test_a_row_opens_its_details_and_a_flag_can_be_marked_reviewed(
    qtbot, manager_window, context, admin_session
):
    page = audit_page(qtbot, manager_window)
    page.only_flags.setChecked(True)
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() == 2, timeout=WAIT)
    page.table.setFocus()
    page.table.selectRow(0)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    dialog = page.entry_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.values["reason"].text() == "same ID number under a different name"
    assert dialog.values["Target"].text() == "client:b2"
    qtbot.mouseClick(dialog.review_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: "1 flagged entry " in page.flags_label.text(), timeout=WAIT)
    [review] = context.services_for(admin_session).audit.entries(
        AuditFilter(action_prefix="review.done")
    )
    assert review.actor == "mia" and review.details["seq"] > 0


def test_an_empty_search_says_no_entries_match(qtbot, manager_window):
    page = audit_page(qtbot, manager_window)
    page.actor.setText("nobody-at-all")
    qtbot.keyClick(page.actor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.empty.isVisible(), timeout=WAIT)
    assert page.empty.text().startswith("No entries match")
    page.actor.clear()
    page.search()
    qtbot.waitUntil(lambda: not page.empty.isVisible(), timeout=WAIT)


def test_the_intact_line_is_dated_and_says_when_newer_entries_appear(
    qtbot, manager_window, context
):
    page = audit_page(qtbot, manager_window)
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "intact" in page.report.text(), timeout=WAIT)
    assert page.report.text().startswith("Checked 20")
    flag(context, "client:c3")
    page.search()
    qtbot.waitUntil(lambda: "verify again" in page.report.text(), timeout=WAIT)


def test_details_column_is_on_screen_with_an_elided_tooltip(qtbot, manager_window):
    page = audit_page(qtbot, manager_window)
    qtbot.wait(50)
    header = page.table.horizontalHeader()
    right = header.sectionViewportPosition(AuditColumn.DETAILS) + 60
    assert right < page.table.viewport().width()
    model = page.presenter.model
    row = next(r for r, e in enumerate(model.entries) if e.action.startswith(FLAG_PREFIX))
    tip = model.data(model.index(row, AuditColumn.DETAILS), Qt.ItemDataRole.ToolTipRole)
    assert "same ID number under a different name" in tip


def test_sales_may_not_list_flags(context, make_user):
    from alko_desk.models.errors import PermissionDenied

    sales = context.services_for(make_user("sam", Role.SALES))
    with pytest.raises(PermissionDenied):
        sales.audit.unreviewed_flags()
