"""The desk's files are the OS user's alone, and no personal value reaches a log."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from alko_desk.models.errors import ValidationError
from alko_desk.models.users import Role
from alko_desk.paths import data_dir, database_dir
from alko_desk.services.clients import new_client_id
from alko_desk.storage.embedded import EmbeddedServer
from alko_desk.storage.mongo import connect
from tests.clients_data import draft

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_and_embedded_database_files_are_private_to_the_user(tmp_path, monkeypatch):
    old = tmp_path / "data"
    (old / "database" / "sqlite").mkdir(parents=True)
    os.chmod(old, 0o755)  # as an earlier version left it
    leftover = old / "database" / "ferretdb.log"
    leftover.write_bytes(b"an older log\n")
    os.chmod(leftover, 0o644)
    monkeypatch.setenv("ALKO_DATA_DIR", str(old))
    folder = data_dir()
    assert mode(folder) == 0o700

    server = EmbeddedServer(database_dir(folder))
    client = None
    try:
        server.start()
        client = connect(server.uri)
        client["t_private"]["things"].insert_many([{"n": n} for n in range(50)])
        status = Path(f"/proc/{server.process.pid}/status")
        if status.exists():
            umask = next(
                line for line in status.read_text().splitlines() if line.startswith("Umask")
            )
            assert umask.split()[1] == "0077"
        files = [p for p in database_dir(folder).rglob("*") if p.is_file()]
        assert any(p.suffix == ".sqlite" for p in files)  # the server wrote its own files
        for path in [database_dir(folder), *database_dir(folder).rglob("*")]:
            if path.is_dir():
                assert mode(path) == 0o700, path
            else:
                assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"
    finally:
        if client is not None:
            client.drop_database("t_private")
            client.close()
        server.stop()


BIRTH_DATE = "14.03.1985"  # a value no log may carry
EMAIL = "iva.privatna@example.hr"
FULL_NAME = "Ivan Horvat"


def provoke_a_birth_date_parse_error(context, make_user) -> BaseException:
    """A client whose stored birth date does not parse: reading it raises with the value in
    the exception's message (date.fromisoformat's habit)."""
    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    client = clients.register(new_client_id(), draft(email=EMAIL))
    record = context.clients_repo.get(client.id)
    # written with the keys (a bug, not an attack): sealed and signed for the next version
    cipher = clients._cipher(client.id)
    plain = {f: cipher.decrypt(f, blob, 1) for f, blob in record.sealed.items()}
    plain["birth_date"] = BIRTH_DATE
    sealed = {f: cipher.encrypt(f, value, 2) for f, value in plain.items()}
    tampered = clients._signed(replace(record, version=2, sealed=sealed))
    assert context.clients_repo.update_if_version(tampered, record.version)
    with pytest.raises(Exception) as raised:
        clients.get(client.id)
    assert BIRTH_DATE in str(raised.value)  # the raw exception does carry it
    return raised.value


def other_errors() -> list[BaseException]:
    errors: list[BaseException] = []
    try:
        {}[EMAIL]
    except KeyError as exc:
        errors.append(exc)
    try:
        try:
            int(FULL_NAME)
        except ValueError as inner:
            raise RuntimeError(f"could not read {EMAIL}") from inner
    except RuntimeError as exc:
        errors.append(exc)
    try:  # even a message written for users may name a client
        raise ValidationError(f"{FULL_NAME}: the phone number is not valid")
    except ValidationError as exc:
        errors.append(exc)
    return errors


def test_cli_log_keeps_tracebacks_but_not_personal_values(
    context, make_user, tmp_path, monkeypatch
):
    from alko_desk import cli

    monkeypatch.setenv("ALKO_DATA_DIR", str(tmp_path / "desk"))
    for exc in [provoke_a_birth_date_parse_error(context, make_user), *other_errors()]:
        assert cli._log_unexpected(exc) == tmp_path / "desk" / "logs" / "cli.log"
    text = (tmp_path / "desk" / "logs" / "cli.log").read_text("utf-8")
    assert "Traceback (most recent call last)" in text and "ValueError" in text
    assert "services/clients.py" in text  # where it happened is still there
    for value in (BIRTH_DATE, "1985", EMAIL, "Horvat"):
        assert value not in text
    assert mode(tmp_path / "desk" / "logs" / "cli.log") == 0o600


def test_desk_log_of_the_error_reporter_has_no_personal_values(context, make_user, tmp_path, qapp):
    from alko_desk.logsafe import install_desk_logging
    from alko_desk.ui.errors import ErrorReporter

    class NoDialogs:
        def generic_error(self, parent=None) -> None:
            pass

    handler = install_desk_logging(tmp_path / "desk")
    root = logging.getLogger()
    try:
        reporter = ErrorReporter(NoDialogs())
        for exc in [provoke_a_birth_date_parse_error(context, make_user), *other_errors()]:
            reporter.report(exc)
        logging.getLogger("alko_desk.secrets").warning("keyring failed: %s", KeyError(EMAIL))
    finally:
        root.removeHandler(handler)
        handler.close()
    text = (tmp_path / "desk" / "logs" / "desk.log").read_text("utf-8")
    assert text.count("unexpected error") == 4 and "KeyError" in text
    assert "ValidationError" in text
    for value in (BIRTH_DATE, "1985", EMAIL, "Horvat"):
        assert value not in text


def test_the_servers_web_layer_logs_only_through_the_redacting_handlers(
    context, make_user, server_identity
):
    """uvicorn logs an error escaping a response (a streamed result failing half-way) with
    the exception's message; its own handler wrote that to stderr, birth date and all."""
    import io

    from alko_desk.logsafe import redact_handlers
    from alko_desk.remote.server import uvicorn_config

    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        redact_handlers(root)  # as the command line does before `server` starts
        uvicorn_config(lambda scope, receive, send: None, server_identity, "127.0.0.1", 0)
        for name in ("uvicorn", "uvicorn.error"):
            assert logging.getLogger(name).handlers == [], name
        exc = provoke_a_birth_date_parse_error(context, make_user)
        # as uvicorn.protocols.http reports it
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=exc)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "Exception in ASGI application" in text and "Traceback" in text
    assert BIRTH_DATE not in text and "1985" not in text
