import pytest

from alko_desk.models.errors import (
    AccountLocked,
    AuthenticationError,
    PasswordChangeRequired,
    PermissionDenied,
    ReauthenticationRequired,
    ValidationError,
)
from alko_desk.models.users import Role
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD


def test_admin_logs_in_after_setup_and_unlocks_the_organisation_key(context, admin_session):
    assert admin_session.user.role is Role.ADMIN
    assert len(admin_session.org_key) == 32
    again = context.auth.login("ADMIN ", ADMIN_PASSWORD)
    assert again.org_key == admin_session.org_key


def test_wrong_password_and_unknown_user_get_the_same_message(context, admin_session):
    with pytest.raises(AuthenticationError) as wrong:
        context.auth.login("admin", "not the password at all!")
    with pytest.raises(AuthenticationError) as unknown:
        context.auth.login("nobody", "not the password at all!")
    assert wrong.value.message == unknown.value.message


@pytest.mark.parametrize("username", ["admin", "ghost"])
def test_five_failures_lock_the_name_for_a_growing_delay(context, clock, admin_session, username):
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            context.auth.login(username, "wrong password, wrong!")
    with pytest.raises(AccountLocked):
        context.auth.login(username, "wrong password, wrong!")
    with pytest.raises(AccountLocked):
        context.auth.login(username, ADMIN_PASSWORD)
    clock.advance(minutes=1, seconds=1)
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            context.auth.login(username, "wrong password, wrong!")
    with pytest.raises(AccountLocked) as second:
        context.auth.login(username, "wrong password, wrong!")
    assert "2 minutes" in second.value.message


def test_admin_unlocks_a_locked_account(context, clock, admin_session, make_user):
    make_user("sam", Role.SALES)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            context.auth.login("sam", "wrong password, wrong!")
    context.services_for(admin_session).users.unlock("sam")
    assert context.auth.login("sam", "sam chooses a long passphrase 9").user.username == "sam"


def test_new_account_must_choose_its_own_password_before_anything_else(context, admin_session):
    admin = context.services_for(admin_session)
    admin.users.create_user("fin", "Fran Finance", Role.FINANCE, STAFF_PASSWORD)
    session = context.auth.login("fin", STAFF_PASSWORD)
    assert session.user.must_change_password
    with pytest.raises(PasswordChangeRequired):
        context.services_for(session).audit.entries.__self__  # noqa: B018 - services exist
        context.services_for(session).users.list_users()
    changed = context.auth.change_password(session, STAFF_PASSWORD, "fran picks her own passphrase")
    assert not changed.user.must_change_password
    assert changed.org_key == admin_session.org_key


def test_password_policy_refuses_short_common_and_dealership_passwords(context, admin_session):
    users = context.services_for(admin_session).users
    for bad in [
        "short pass",
        "passwordpassword",
        "alkocars12345678",
        "aaaaaaaaaaaaaaaaaa",
        "123456789012345678",
    ]:
        with pytest.raises(ValidationError):
            users.create_user("x1", "X", Role.SALES, bad)
    users.create_user("x1", "X", Role.SALES, "Ž a long enough sentence with ćevapi")


def test_sales_user_calling_an_admin_service_is_refused_and_audited(
    context, admin_session, make_user
):
    sales = make_user("sam", Role.SALES)
    with pytest.raises(PermissionDenied):
        context.services_for(sales).users.create_user("evil", "Evil", Role.ADMIN, STAFF_PASSWORD)
    denials = list(
        context.services_for(admin_session).audit.entries(
            __import__("alko_desk.models.audit", fromlist=["AuditFilter"]).AuditFilter(
                action_prefix="permission.denied"
            )
        )
    )
    assert denials and denials[0].actor == "sam"


def test_role_change_needs_a_recent_password(context, clock, admin_session, make_user):
    make_user("sam", Role.SALES)
    clock.advance(minutes=6)
    users = context.services_for(admin_session).users
    with pytest.raises(ReauthenticationRequired):
        users.change_role("sam", Role.MANAGER)
    context.auth.confirm_password(admin_session, ADMIN_PASSWORD)
    users.change_role("sam", Role.MANAGER)
    assert context.users_repo.get("sam").role is Role.MANAGER


def test_disabled_account_cannot_log_in_and_can_be_re_enabled(context, admin_session, make_user):
    make_user("sam", Role.SALES)
    users = context.services_for(admin_session).users
    users.set_active("sam", False)
    with pytest.raises(AuthenticationError, match="disabled"):
        context.auth.login("sam", "sam chooses a long passphrase 9")
    users.set_active("sam", True)
    assert context.auth.login("sam", "sam chooses a long passphrase 9")


def test_reset_password_rewraps_the_organisation_key(context, admin_session, make_user):
    make_user("sam", Role.SALES)
    context.services_for(admin_session).users.reset_password("sam", "a brand new temporary phrase")
    session = context.auth.login("sam", "a brand new temporary phrase")
    assert session.user.must_change_password and session.org_key == admin_session.org_key
