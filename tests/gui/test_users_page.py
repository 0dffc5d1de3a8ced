"""The Users page: admins manage staff accounts through the real widgets, off the GUI thread."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.errors import AuthenticationError, DatabaseUnavailable
from alko_desk.models.users import Role, User
from alko_desk.ui.users_page import USERNAME_ROLE, UserColumn, UsersModel
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD

pytestmark = pytest.mark.gui


@pytest.fixture
def users_page(qtbot, open_main, admin_session):
    window = open_main(admin_session)
    page = window.show_section("users")
    qtbot.waitUntil(
        lambda: page.presenter.model.rowCount() >= 1 and not page.presenter.loading, timeout=10_000
    )
    return page


def cell(page, username: str, column: UserColumn) -> str:
    model = page.presenter.model
    return model.data(model.index(model.row_of(username), column))


def wait_for_row(qtbot, page, username: str) -> None:
    qtbot.waitUntil(lambda: page.presenter.model.row_of(username) >= 0, timeout=10_000)


def test_users_model_passes_the_qt_model_tester(qtmodeltester):
    model = UsersModel()
    model.set_users(
        [
            User("ana", "Ana Admin", Role.ADMIN),
            User("sam", "Sam Sales", Role.SALES, active=False, must_change_password=True),
        ]
    )
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    assert model.data(model.index(1, UserColumn.USERNAME), USERNAME_ROLE) == "sam"


def test_admin_creates_a_sales_user_through_the_users_page(qtbot, users_page, context):
    page = users_page
    assert cell(page, "admin", UserColumn.ROLE) == "Admin"
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.username, "sam")
    qtbot.keyClicks(dialog.full_name, "Sam Sales")
    dialog.role.setCurrentIndex(dialog.role.findData(Role.SALES))
    qtbot.keyClicks(dialog.password.first, STAFF_PASSWORD)
    qtbot.keyClicks(dialog.password.second, STAFF_PASSWORD)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait_for_row(qtbot, page, "sam")
    assert not dialog.isVisible()
    assert cell(page, "sam", UserColumn.ROLE) == "Sales"
    assert cell(page, "sam", UserColumn.MUST_CHANGE) == "Yes"
    assert page.selected_user().username == "sam"
    assert context.auth.login("sam", STAFF_PASSWORD).user.must_change_password


def test_create_dialog_shows_field_errors_and_keeps_what_was_typed(qtbot, users_page, context):
    page = users_page
    dialog = page.open_create_dialog()
    qtbot.keyClicks(dialog.username, "no spaces allowed")
    qtbot.keyClicks(dialog.password.first, STAFF_PASSWORD)
    qtbot.keyClicks(dialog.password.second, STAFF_PASSWORD)
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.fields.error_text("username") != "", timeout=10_000)
    assert "letters, digits" in dialog.fields.error_text("username")
    assert "full name" in dialog.fields.error_text("full_name")
    assert dialog.isVisible() and dialog.username.text() == "no spaces allowed"
    assert context.users_repo.get("no spaces allowed") is None


def test_lost_database_offers_retry_and_the_open_form_keeps_its_text(
    qtbot, users_page, dialogs, monkeypatch
):
    page = users_page
    users = page.presenter.users
    real_create = users.create_user
    calls = []

    def flaky_create(*args):
        calls.append(args)
        if len(calls) == 1:
            raise DatabaseUnavailable(
                "The database cannot be reached.", hint="Check the server, then Retry."
            )
        return real_create(*args)

    monkeypatch.setattr(users, "create_user", flaky_create)
    dialogs.retry_answers = [False]
    dialog = page.open_create_dialog()
    qtbot.keyClicks(dialog.username, "fran")
    qtbot.keyClicks(dialog.full_name, "Fran Finance")
    dialog.password.set_password(STAFF_PASSWORD)
    dialog.submit()
    qtbot.waitUntil(
        lambda: len(dialogs.retries) == 1 and dialog.ok_button.isEnabled(), timeout=10_000
    )
    assert "cannot be reached" in dialogs.retries[0]
    assert (
        dialog.isVisible() and dialog.full_name.text() == "Fran Finance"
    )  # declined: the form stays

    dialogs.retry_answers = [True]
    calls.clear()
    dialog.submit()
    wait_for_row(qtbot, page, "fran")
    assert len(calls) == 2 and len(dialogs.retries) == 2  # failed once more, retried, then worked
    assert not dialog.isVisible()


def test_admin_disables_and_re_enables_an_account(qtbot, users_page, make_user, dialogs, context):
    make_user("sam", Role.SALES)
    page = users_page
    page.presenter.refresh()
    wait_for_row(qtbot, page, "sam")
    page.select_user("sam")
    assert page.active_button.text() == "Disable"
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page, "sam", UserColumn.STATUS) == "Disabled", timeout=10_000)
    assert dialogs.confirms and "Sam" not in dialogs.errors
    with pytest.raises(AuthenticationError, match="disabled"):
        context.auth.login("sam", "sam chooses a long passphrase 9")
    qtbot.waitUntil(
        lambda: page.selected_user() is not None and page.active_button.text() == "Enable"
    )
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page, "sam", UserColumn.STATUS) == "Active", timeout=10_000)


def test_reset_password_asks_for_the_admins_password_again_then_goes_through(
    qtbot, users_page, make_user, clock, dialogs, context
):
    make_user("sam", Role.SALES)
    page = users_page
    page.presenter.refresh()
    wait_for_row(qtbot, page, "sam")
    clock.advance(minutes=10)  # the admin's password is no longer recent
    page.select_user("sam")
    dialog = page.open_reset_dialog()
    qtbot.mouseClick(dialog.password.suggest, Qt.MouseButton.LeftButton)
    temporary = dialog.password.password()
    assert len(temporary) >= 15
    dialogs.password_answers = ["not my password at all", ADMIN_PASSWORD]
    dialog.submit()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15_000)
    assert len(dialogs.password_prompts) == 2
    assert dialogs.password_prompts[1][1] == "That password is not right."
    assert context.auth.login("sam", temporary).user.must_change_password


def test_cancelling_the_password_prompt_leaves_the_role_unchanged(
    qtbot, users_page, make_user, clock, dialogs, context
):
    make_user("sam", Role.SALES)
    page = users_page
    page.presenter.refresh()
    wait_for_row(qtbot, page, "sam")
    clock.advance(minutes=10)
    page.select_user("sam")
    dialogs.choose_answers = ["Manager"]
    dialogs.password_answers = [None]
    page.change_role()
    qtbot.waitUntil(
        lambda: len(dialogs.password_prompts) == 1 and page.presenter.tasks.active_count == 0
    )
    assert context.users_repo.get("sam").role is Role.SALES
    assert dialogs.errors == []

    dialogs.choose_answers = ["Manager"]
    dialogs.password_answers = [ADMIN_PASSWORD]
    page.select_user("sam")
    page.change_role()
    qtbot.waitUntil(lambda: cell(page, "sam", UserColumn.ROLE) == "Manager", timeout=10_000)
    assert context.users_repo.get("sam").role is Role.MANAGER


def test_admin_unlocks_a_locked_out_account(qtbot, users_page, make_user, context):
    make_user("sam", Role.SALES)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            context.auth.login("sam", "guessing the password!!")
    page = users_page
    page.presenter.refresh()
    qtbot.waitUntil(
        lambda: (
            page.presenter.model.row_of("sam") >= 0 and bool(cell(page, "sam", UserColumn.LOCKED))
        ),
        timeout=10_000,
    )
    page.select_user("sam")
    assert page.unlock_button.isEnabled()
    qtbot.mouseClick(page.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page, "sam", UserColumn.LOCKED) == "", timeout=10_000)
    assert context.auth.login("sam", "sam chooses a long passphrase 9")


def test_an_account_made_on_another_desk_appears_and_the_highlight_stays(
    qtbot, users_page, context, admin_session
):
    users_page.select_user("admin")
    other_desk = context.services_for(admin_session).users
    other_desk.create_user("vesna", "Vesna Vozačić", Role.SALES, STAFF_PASSWORD)
    wait_for_row(qtbot, users_page, "vesna")  # no Refresh pressed
    assert users_page.selected_user().username == "admin"
    other_desk.change_role("vesna", Role.FINANCE)
    qtbot.waitUntil(lambda: cell(users_page, "vesna", UserColumn.ROLE) == "Finance", timeout=10_000)
