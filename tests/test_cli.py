"""`alko-desk` as a person or a script runs it: a subprocess on the test database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alko_desk import __version__
from alko_desk.models.errors import AuthenticationError
from alko_desk.models.users import Role
from alko_desk.storage.audit_repo import block_of, entry_id
from tests.conftest import ADMIN_PASSWORD

NEW_PASSWORD = "a temporary passphrase for sam"


def alko(*args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    # A new session: no controlling terminal, so nothing can wait at a password prompt.
    return subprocess.run(
        [sys.executable, "-m", "alko_desk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=False,
    )


@pytest.fixture
def cli_env(context, admin_session, mongo_uri, tmp_path) -> dict[str, str]:
    """The CLI on the same database and data folder (so the same audit head anchor) as `context`."""
    env = dict(os.environ)
    for inherited in ("ALKO_PASSWORD", "ALKO_NEW_PASSWORD", "ALKO_FERRETDB"):
        env.pop(inherited, None)
    env.update(
        ALKO_MONGODB_URI=mongo_uri,
        ALKO_DB_NAME=context.store.db.name,
        ALKO_DATA_DIR=str(tmp_path),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


def as_admin(env: dict[str, str], password: str = ADMIN_PASSWORD, **extra: str) -> dict[str, str]:
    return {**env, "ALKO_PASSWORD": password, **extra}


def add_sam(env: dict[str, str]) -> subprocess.CompletedProcess:
    return alko(
        "user",
        "add",
        "sam",
        "--name",
        "Sam Sales",
        "--role",
        "sales",
        "--as",
        "admin",
        env=as_admin(env, ALKO_NEW_PASSWORD=NEW_PASSWORD),
    )


def audit_part(context, seq: int):
    collection, _ = context.store.partitioned_collection("audit").part(block_of(seq))
    return collection


def test_version_prints_the_app_version():
    result = alko("--version", env=dict(os.environ))
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_admin_adds_a_user_and_the_list_shows_it(cli_env, context):
    added = add_sam(cli_env)
    assert added.returncode == 0, added.stderr
    assert "sam" in added.stdout

    listed = alko("user", "list", "--as", "admin", env=as_admin(cli_env))
    assert listed.returncode == 0, listed.stderr
    sam_line = next(line for line in listed.stdout.splitlines() if line.startswith("sam "))
    assert "Sam Sales" in sam_line and "sales" in sam_line and "must choose a password" in sam_line
    assert context.auth.login("sam", NEW_PASSWORD).user.must_change_password


def test_wrong_admin_password_is_refused_with_a_clear_message(cli_env, context):
    result = alko(
        "user", "list", "--as", "admin", env=as_admin(cli_env, "not the admin's password!")
    )
    assert result.returncode != 0
    assert "username or password is not right" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_sales_user_may_not_add_accounts(cli_env, context, make_user):
    make_user("sam", Role.SALES)
    result = alko(
        "user",
        "add",
        "eve",
        "--name",
        "Eve",
        "--role",
        "admin",
        "--as",
        "sam",
        env=as_admin(cli_env, "sam chooses a long passphrase 9", ALKO_NEW_PASSWORD=NEW_PASSWORD),
    )
    assert result.returncode != 0
    assert "may not create staff accounts" in result.stderr
    assert context.users_repo.get("eve") is None


def test_a_weak_temporary_password_is_refused_naming_the_problem(cli_env, context):
    result = alko(
        "user",
        "add",
        "sam",
        "--name",
        "Sam",
        "--role",
        "sales",
        "--as",
        "admin",
        env=as_admin(cli_env, ALKO_NEW_PASSWORD="short"),
    )
    assert result.returncode != 0
    assert "password:" in result.stderr
    assert context.users_repo.get("sam") is None


def test_without_a_password_or_a_terminal_the_cli_says_how_to_give_one(cli_env):
    result = alko("user", "list", "--as", "admin", env=cli_env)
    assert result.returncode != 0
    assert "ALKO_PASSWORD" in result.stderr


def test_reset_gives_a_new_temporary_password_and_unlock_lifts_a_lockout(
    cli_env, context, make_user
):
    make_user("sam", Role.SALES)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            context.auth.login("sam", "wrong password, wrong!")
    unlocked = alko("user", "unlock", "sam", "--as", "admin", env=as_admin(cli_env))
    assert unlocked.returncode == 0, unlocked.stderr
    assert context.auth.login("sam", "sam chooses a long passphrase 9")

    reset = alko(
        "user",
        "reset",
        "sam",
        "--as",
        "admin",
        env=as_admin(cli_env, ALKO_NEW_PASSWORD=NEW_PASSWORD),
    )
    assert reset.returncode == 0, reset.stderr
    assert context.auth.login("sam", NEW_PASSWORD).user.must_change_password


def test_unknown_user_is_reported_without_a_traceback(cli_env):
    result = alko(
        "user",
        "reset",
        "nobody",
        "--as",
        "admin",
        env=as_admin(cli_env, ALKO_NEW_PASSWORD=NEW_PASSWORD),
    )
    assert result.returncode == 1
    assert "no account named" in result.stderr and "Traceback" not in result.stderr


def test_audit_verify_passes_then_names_a_hand_edited_entry(cli_env, context):
    add_sam(cli_env)
    intact = alko("audit", "verify", env=cli_env)
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout

    edited = 2
    changed = audit_part(context, edited).update_one(
        {"_id": entry_id(edited)}, {"$set": {"actor": "mallory"}}
    )
    assert changed.matched_count == 1
    broken = alko("audit", "verify", env=cli_env)
    assert broken.returncode == 3
    assert f"First bad entry: {edited} " in broken.stderr


def test_audit_verify_detects_the_last_entry_deleted(cli_env, context):
    head = context.audit_log.record("admin", "test.marker").seq
    assert alko("audit", "verify", env=cli_env).returncode == 0

    assert audit_part(context, head).delete_one({"_id": entry_id(head)}).deleted_count == 1
    broken = alko("audit", "verify", env=cli_env)
    assert broken.returncode == 3
    assert f"First bad entry: {head} " in broken.stderr


def test_cutting_the_end_and_the_head_hint_is_caught_by_the_desks_anchor(cli_env, context):
    head = context.audit_log.record("admin", "test.marker").seq
    audit_part(context, head).delete_one({"_id": entry_id(head)})
    context.store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"seq": head - 1}})
    broken = alko("audit", "verify", env=cli_env)
    assert broken.returncode == 3
    assert "this desk saw entry" in broken.stderr


def test_user_commands_on_a_database_never_set_up_point_to_the_setup_wizard(
    context, mongo_uri, tmp_path
):
    env = {
        **os.environ,
        "ALKO_MONGODB_URI": mongo_uri,
        "ALKO_DB_NAME": context.store.db.name,
        "ALKO_DATA_DIR": str(tmp_path),
        "ALKO_PASSWORD": ADMIN_PASSWORD,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = alko("user", "list", "--as", "admin", env=env)
    assert result.returncode == 1
    assert "not been set up" in result.stderr


def test_unreachable_database_gives_a_message_not_a_traceback(tmp_path):
    env = {
        **os.environ,
        "ALKO_MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
        "ALKO_DATA_DIR": str(tmp_path),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = alko("audit", "verify", env=env)
    assert result.returncode == 1
    assert "cannot be reached" in result.stderr and "Traceback" not in result.stderr


def test_a_group_without_a_command_prints_its_help_and_fails():
    result = alko("user", env=dict(os.environ))
    assert result.returncode == 2
    assert "add" in result.stderr and "unlock" in result.stderr
