"""`alko-desk demo seed` fills the database through the same services the window uses."""

from alko_desk.models.users import Role
from tests.test_cli import alko, cli_env  # noqa: F401 - fixture reused


def test_demo_seed_registers_searchable_clients_with_diacritics_and_cyrillic(
    cli_env,  # noqa: F811 - the fixture imported above
    context,
    make_user,
):
    sales = make_user("sam", Role.SALES)
    result = alko(
        "demo",
        "seed",
        "--clients",
        "60",
        "--as",
        "sam",
        env={**cli_env, "ALKO_PASSWORD": "sam chooses a long passphrase 9"},
    )
    assert result.returncode == 0, result.stderr
    assert "Added 60 demo clients" in result.stdout
    clients = context.services_for(sales).clients
    assert clients.count() == 60
    names = [row.display_name for row in clients.page(0, 60)]
    assert any(
        not name.isascii() and any("\u0400" <= ch <= "\u04ff" for ch in name) for name in names
    )
    assert any(any(ch in "čćšžđöüäéřł" for ch in name.lower()) for name in names)
    assert clients.search("client7@demo.alko.example")[0].id


def test_demo_seed_is_refused_to_an_admin_without_client_rights(cli_env, context):  # noqa: F811
    from tests.conftest import ADMIN_PASSWORD

    result = alko(
        "demo",
        "seed",
        "--clients",
        "5",
        "--as",
        "admin",
        env={**cli_env, "ALKO_PASSWORD": ADMIN_PASSWORD},
    )
    assert result.returncode != 0
    assert "Your role (Admin) may not" in result.stderr
    assert "Traceback" not in result.stderr
