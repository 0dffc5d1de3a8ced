"""Sensitive actions need the password confirmed within the last few minutes, over both
transports; re-confirmation (and the idle unlock, which is one) is throttled like login."""

from dataclasses import replace

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.errors import (
    AccountLocked,
    AuthenticationError,
    ReauthenticationRequired,
)
from alko_desk.models.remote import SessionEnded
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD
from tests.desks import all_at_once

SAM_PASSWORD = "sam chooses a long passphrase 9"


def _stale(clock, services) -> None:
    """Six minutes since the password was typed, the session kept alive on the way (the
    server's idle expiry is the desk lock's five minutes)."""
    clock.advance(minutes=3)
    services.settings.company()
    clock.advance(minutes=3)


SENSITIVE = {
    "create an admin": lambda s, ctx: s.users.create_user(
        "ada", "Ada Admin", Role.ADMIN, STAFF_PASSWORD
    ),
    "disable an account": lambda s, ctx: s.users.set_active("sam", False),
    "unlock an account": lambda s, ctx: s.users.unlock("sam"),
    "change company settings": lambda s, ctx: s.settings.update_company(
        replace(s.settings.company(), address="Ilica 1, 10000 Zagreb")
    ),
    "change deal settings": lambda s, ctx: s.deals.update_settings(
        replace(s.deals.settings(), reservation_days=9)
    ),
    "change invoice settings": lambda s, ctx: s.invoices.update_settings(s.invoices.settings()),
}


@pytest.mark.parametrize("action", sorted(SENSITIVE))
def test_admin_actions_need_a_recent_password(action, desk, desk_admin, desk_user, clock, context):
    desk_user("sam", Role.SALES)
    _stale(clock, desk_admin)
    with pytest.raises(ReauthenticationRequired) as asked:
        SENSITIVE[action](desk_admin, context)
    assert "password" in asked.value.message
    desk_admin.confirm_password(ADMIN_PASSWORD)
    SENSITIVE[action](desk_admin, context)  # the UI's retry after the prompt


def test_the_effect_waits_for_the_password(desk, desk_admin, desk_user, clock, context):
    desk_user("sam", Role.SALES)
    _stale(clock, desk_admin)
    with pytest.raises(ReauthenticationRequired):
        desk_admin.users.set_active("sam", False)
    with pytest.raises(ReauthenticationRequired):
        desk_admin.users.create_user("ada", "Ada Admin", Role.ADMIN, STAFF_PASSWORD)
    assert context.users_repo.get("sam").active and context.users_repo.get("ada") is None


def test_a_sales_account_is_created_without_confirming_again(desk, desk_admin, clock, context):
    _stale(clock, desk_admin)
    desk_admin.users.create_user("sam", "Sam Sales", Role.SALES, STAFF_PASSWORD)
    assert context.users_repo.get("sam").role is Role.SALES


def test_revealing_numbers_needs_a_recent_password(desk, desk_user, clock):
    sales = desk_user("sam", Role.SALES)
    client = sales.clients.register(new_client_id(), draft())
    assert sales.clients.reveal(client.id)["id_number"]  # just logged in: no prompt
    _stale(clock, sales)
    with pytest.raises(ReauthenticationRequired):
        sales.clients.reveal(client.id)
    sales.confirm_password(SAM_PASSWORD)
    assert sales.clients.reveal(client.id)["id_number"]


def test_wrong_reconfirmations_lock_the_account_like_login(desk, desk_user, context):
    sales = desk_user("sam", Role.SALES)
    for _ in range(4):
        with pytest.raises(AuthenticationError) as wrong:
            sales.confirm_password("not my password at all")
        assert not isinstance(wrong.value, AccountLocked)
    # The fifth locks the account: in-process the unlock box says so; the server also ends
    # the session.
    with pytest.raises((AccountLocked, SessionEnded)):
        sales.confirm_password("not my password at all")
    assert context.throttle_repo.get("sam")["locked_until"] is not None
    with pytest.raises((AccountLocked, SessionEnded)):
        sales.confirm_password(SAM_PASSWORD)  # the right one is refused while locked
    with pytest.raises(AccountLocked):
        desk.login("sam", SAM_PASSWORD)
    failed = context.audit_log.query(AuditFilter(action_prefix="reauth.failed"))
    assert len(failed) == 5 and all(e.actor == "sam" for e in failed)


def test_reconfirmation_and_login_failures_share_one_counter(desk, desk_user, context):
    sales = desk_user("sam", Role.SALES)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            desk.login("sam", "not my password at all")
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            sales.confirm_password("not my password at all")
    with pytest.raises(AccountLocked):
        desk.login("sam", SAM_PASSWORD)


def test_a_right_reconfirmation_clears_earlier_failures(context, make_user):
    sam = make_user("sam", Role.SALES)
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            context.auth.confirm_password(sam, "not my password at all")
    context.auth.confirm_password(sam, SAM_PASSWORD)
    with pytest.raises(AuthenticationError) as wrong:
        context.auth.confirm_password(sam, "not my password at all")
    assert not isinstance(wrong.value, AccountLocked)


def test_parallel_wrong_reconfirmations_are_all_counted(context, make_user):
    sam = make_user("sam", Role.SALES)
    outcomes = all_at_once(lambda: context.auth.confirm_password(sam, "not my password at all"), 12)
    # Five are checked and fail; every later one meets the lockout without a check.
    assert outcomes.count(AuthenticationError) == 4
    assert outcomes.count(AccountLocked) == 8
    checked = context.audit_log.query(AuditFilter(action_prefix="reauth.failed"))
    assert len(checked) == 5


def test_a_disabled_account_cannot_unlock_the_idle_lock(context, admin_session, make_user):
    sam = make_user("sam", Role.SALES)
    context.services_for(admin_session).users.set_active("sam", False)
    with pytest.raises(AuthenticationError, match="disabled"):
        context.auth.confirm_password(sam, SAM_PASSWORD)
