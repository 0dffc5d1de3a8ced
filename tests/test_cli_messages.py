"""The command line says what is true and exits as the README says (issue 7, item 14)."""

from __future__ import annotations

from alko_desk.models.audit import AuditFilter
from tests.test_cli import add_sam, alko, as_admin, cli_env  # noqa: F401 - the fixture

__all__ = ["cli_env"]


def test_unlocking_an_account_that_does_not_exist_fails_with_a_clear_sentence(
    cli_env,  # noqa: F811
    context,
    admin_session,
):
    result = alko("user", "unlock", "nobody", "--as", "admin", env=as_admin(cli_env))
    assert result.returncode == 1
    assert "There is no account named “nobody”." in result.stderr
    assert "can log in again" not in result.stdout
    audit = context.services_for(admin_session).audit
    assert audit.entries(AuditFilter(action_prefix="user.unlocked")) == []


def test_a_negative_client_count_is_a_usage_mistake(cli_env):  # noqa: F811
    result = alko("demo", "seed", "--clients", "-5", "--as", "sam", env=cli_env)
    assert result.returncode == 2
    assert "--clients" in result.stderr and "1 or more" in result.stderr
    result = alko("demo", "seed", "--clients", "many", "--as", "sam", env=cli_env)
    assert result.returncode == 2 and "not a whole number" in result.stderr


def test_validation_errors_name_the_fields_instead_of_highlighting_them(cli_env):  # noqa: F811
    result = alko(
        "user",
        "add",
        "x",
        "--name",
        " ",
        "--role",
        "sales",
        "--as",
        "admin",
        env=as_admin(cli_env, ALKO_NEW_PASSWORD="short"),
    )
    assert result.returncode == 1
    assert "highlighted" not in result.stderr
    assert "Please correct: " in result.stderr
    assert "\n  username: " in result.stderr and "\n  password: " in result.stderr
