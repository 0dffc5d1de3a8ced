"""Service behaviour over both transports: in-process and through the showroom server."""

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.clients import Client, ClientRow, ClientSort, DuplicateClient
from alko_desk.models.errors import (
    AuthenticationError,
    PasswordChangeRequired,
    PermissionDenied,
    ReauthenticationRequired,
    ValidationError,
)
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from tests.clients_data import IVAN, draft
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD


def test_wrong_password_and_unknown_user_get_the_same_message(desk, desk_admin):
    with pytest.raises(AuthenticationError) as wrong:
        desk.login("admin", "not the password at all!")
    with pytest.raises(AuthenticationError) as unknown:
        desk.login("nobody", "not the password at all!")
    assert wrong.value.message == unknown.value.message


def test_sales_user_calling_an_admin_service_is_refused_and_audited(desk, desk_admin, desk_user):
    sales = desk_user("sam", Role.SALES)
    with pytest.raises(PermissionDenied) as refused:
        sales.users.create_user("evil", "Evil", Role.ADMIN, STAFF_PASSWORD)
    assert "Sales" in refused.value.message and refused.value.hint
    with pytest.raises(PermissionDenied):
        sales.settings.update_company(desk_admin.settings.company())
    denials = desk_admin.audit.entries(AuditFilter(action_prefix="permission.denied"))
    assert [d.actor for d in denials][:2] == ["sam", "sam"]
    assert denials[-1].details["operation"] == "create staff accounts"
    assert "evil" not in [u.username for u in desk_admin.users.list_users()]


def test_new_account_must_choose_its_own_password_before_anything_else(desk, desk_admin):
    desk_admin.users.create_user("fin", "Fran Finance", Role.FINANCE, STAFF_PASSWORD)
    fin = desk.login("fin", STAFF_PASSWORD)
    assert fin.session.user.must_change_password
    with pytest.raises(PasswordChangeRequired):
        fin.clients.count()
    fin.change_password(STAFF_PASSWORD, "fran picks her own passphrase")
    assert not fin.session.user.must_change_password
    assert fin.clients.count() == 0


def test_role_change_needs_a_recent_password(desk, desk_admin, desk_user, clock, context):
    desk_user("sam", Role.SALES)
    clock.advance(minutes=4)
    desk_admin.users.list_users()  # in use: the server's idle limit is the desk lock (5 min)
    clock.advance(minutes=3)
    with pytest.raises(ReauthenticationRequired):
        desk_admin.users.change_role("sam", Role.MANAGER)
    desk_admin.confirm_password(ADMIN_PASSWORD)
    desk_admin.users.change_role("sam", Role.MANAGER)
    assert context.users_repo.get("sam").role is Role.MANAGER


def test_password_policy_errors_arrive_with_their_field(desk, desk_admin):
    with pytest.raises(ValidationError) as err:
        desk_admin.users.create_user("x1", "", Role.SALES, "short pass")
    assert set(err.value.field_errors) == {"full_name", "password"}


def test_register_list_and_get_a_client(desk, desk_user):
    sales = desk_user("sam", Role.SALES).clients
    a = sales.register(new_client_id(), draft())
    b = sales.register(new_client_id(), draft(**IVAN))
    assert isinstance(a, Client) and a.draft.first_name == "Željko"
    rows = sales.page(0, 10, ClientSort.NAME, progress=lambda done, total: None)
    assert [type(r) for r in rows] == [ClientRow, ClientRow]
    assert {r.display_name for r in rows} == {"Željko Kovačević", "Иван Петров"}
    got = sales.get(b.id)
    assert got.draft.last_name == "Петров" and got.draft.birth_date == IVAN["birth"]
    assert got.created_at.tzinfo is not None and got.version == 1
    assert sales.count() == 2
    assert [r.id for r in sales.search("петр")] == [b.id]


def test_duplicate_error_carries_its_matches(desk, desk_user):
    sales = desk_user("sam", Role.SALES).clients
    first = sales.register(new_client_id(), draft())
    with pytest.raises(DuplicateClient) as dup:
        sales.register(new_client_id(), draft("Marija", "Kovačević", id_number="998877665"))
    assert not dup.value.blocking
    assert dup.value.matches[0].client_id == first.id
    assert "email" in dup.value.matches[0].matched_on


def test_reveal_is_refused_to_finance(desk, desk_user):
    sales = desk_user("sam", Role.SALES).clients
    c = sales.register(new_client_id(), draft())
    assert sales.reveal(c.id) == {"id_number": "112233445", "licence_number": "HR778899"}
    finance = desk_user("fin", Role.FINANCE).clients
    with pytest.raises(PermissionDenied):
        finance.reveal(c.id)


def test_the_remote_services_have_the_shape_of_the_in_process_ones(desk, desk_admin):
    import inspect

    from alko_desk.bootstrap import SessionServices
    from alko_desk.remote.api import public_methods, service_classes

    classes = service_classes(SessionServices)
    assert set(classes) == {
        "users",
        "settings",
        "audit",
        "clients",
        "client_cards",
        "changes",
        "vehicles",
        "deals",
        "invoices",
        "documents",
    }  # optional services (`X | None`) too: every service a later issue adds is remote
    for name, cls in classes.items():
        service = getattr(desk_admin, name)
        for method in public_methods(cls):
            unbound = inspect.signature(getattr(cls, method))
            expected = unbound.replace(parameters=list(unbound.parameters.values())[1:])
            assert inspect.signature(getattr(service, method)) == expected, (name, method)
