"""`alko-desk server` as an admin runs it: init, refusing an open database, serving a desk."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alko_desk.remote.desk import RemoteDesk
from alko_desk.remote.trust import PinStore
from alko_desk.storage.embedded import free_port
from alko_desk.storage.privileges import database_privileges
from tests.conftest import ADMIN_PASSWORD, MemorySecrets
from tests.test_cli import alko


@pytest.fixture
def server_env(context, admin_session, mongo_uri, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALKO_")}
    env.update(
        ALKO_MONGODB_URI=mongo_uri,
        ALKO_DB_NAME=context.store.db.name,
        ALKO_DATA_DIR=str(tmp_path / "data"),
        ALKO_SERVER_DIR=str(tmp_path / "server-keys"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


def _init(env) -> tuple[str, str]:
    done = alko("server", "init", "--host", "127.0.0.1", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    fingerprint = lines[2].strip()
    code = lines[3].rsplit(" ", 1)[1]
    return fingerprint, code


def test_init_keeps_the_keys_private_and_refuses_to_replace_them(server_env):
    fingerprint, code = _init(server_env)
    assert len(fingerprint) == 95 and len(code) == 19
    folder = Path(server_env["ALKO_SERVER_DIR"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    again = alko("server", "init", env=server_env)
    assert again.returncode == 1 and "already exist" in again.stderr
    shown = alko("server", "fingerprint", env=server_env)
    assert shown.stdout.strip() == fingerprint
    os.chmod(folder, 0o755)
    loose = alko("server", "fingerprint", env=server_env)
    assert loose.returncode == 1 and "can be read by other users" in loose.stderr


def test_the_server_refuses_a_database_login_that_may_do_everything(server_env, context):
    _init(server_env)
    report = database_privileges(context.store)
    # The test FerretDB runs with authentication (as the embedded one does), but FerretDB 1.x
    # has no roles: the login may drop the database and create logins.
    assert report.users and report.users[0].startswith("alko_desk@alko_login_")
    assert report.unrestricted
    done = alko("server", "--port", str(free_port()), env=server_env, timeout=60)
    assert done.returncode == 1 and "may do everything" in done.stderr


def test_a_desk_logs_in_through_a_started_server_and_ctrl_c_stops_it(server_env, context):
    fingerprint, _ = _init(server_env)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alko_desk",
            "server",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--allow-unauthenticated-database",
        ],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        desk = None
        deadline = time.monotonic() + 60
        while desk is None:
            try:
                desk = RemoteDesk(
                    f"127.0.0.1:{port}", pins=PinStore(MemorySecrets()), fingerprint=fingerprint
                )
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        admin = desk.login("admin", ADMIN_PASSWORD)
        assert admin.settings.company().name == "ALKO Cars d.o.o."
        admin.logout()
        desk.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert fingerprint in out and "has stopped" in out


def test_trust_pins_a_server_in_the_keyring_only_with_the_right_fingerprint(
    server_address, server_identity, remote_backend, tmp_path
):
    from alko_desk.secrets import SecretStore

    if not SecretStore().available:
        pytest.skip("no Secret Service in this session")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALKO_")}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env["ALKO_DATA_DIR"] = str(tmp_path / "desk")
    pins = PinStore(SecretStore())
    try:
        wrong = alko("server", "trust", server_address, "--fingerprint", "AB:" * 31 + "AB", env=env)
        assert wrong.returncode == 1 and "another fingerprint" in wrong.stderr
        assert pins.get(server_address) is None
        right = alko(
            "server",
            "trust",
            server_address,
            "--fingerprint",
            server_identity.fingerprint(),
            env=env,
        )
        assert right.returncode == 0, right.stderr
        assert pins.get(server_address).fingerprint == server_identity.fingerprint()
    finally:
        pins.set(server_address, None)
