"""The audit viewer's action filter offers the whole catalogue, and its client and fraud entries work."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.audit import AuditAction, AuditCategory
from alko_desk.models.clients import DuplicateClient
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft

pytestmark = pytest.mark.gui


def offered(page) -> list[str]:
    return [page.action.itemText(i) for i in range(page.action.count())]


def test_action_filter_offers_every_category_and_action_with_its_label(
    qtbot, open_main, admin_session
):
    page = open_main(admin_session).show_section("audit")
    items = offered(page)
    assert items[0] == ""  # any action
    for category in AuditCategory:
        assert category.value in items
    assert len(items) == len(set(items))
    for action in AuditAction:
        assert action.value in items
        row = items.index(action.value)
        label = page.action.itemData(row, Qt.ItemDataRole.ToolTipRole)
        # "login" is an action and the prefix of its category: offered once, as the category
        assert label == (
            action.category.label if action.value == action.category.value else action.label
        )
    assert items.index("client.") < items.index("client.registered")
    assert "fraud.identity_conflict" in items


def test_filtering_by_the_client_and_fraud_categories(
    qtbot, open_main, context, admin_session, make_user
):
    sales = context.services_for(make_user("sam", Role.SALES)).clients
    sales.register(new_client_id(), draft())
    with pytest.raises(DuplicateClient):  # same ID number, another name: flagged for managers
        sales.register(new_client_id(), draft("Marko", "Horvat", email="m@example.hr", phone=""))
    page = open_main(admin_session).show_section("audit")
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() > 0, timeout=10_000)

    def shown() -> list[str]:
        return [e.action for e in page.presenter.model.entries]

    page.action.setCurrentIndex(offered(page).index("fraud."))
    page.search()
    qtbot.waitUntil(lambda: shown() == ["fraud.identity_conflict"], timeout=10_000)
    page.action.setCurrentIndex(offered(page).index("client."))
    page.search()
    qtbot.waitUntil(lambda: "client.registered" in shown(), timeout=10_000)
    assert all(a.startswith("client.") for a in shown())
