"""The embedded FerretDB: loopback only, no telemetry, no orphans, clear messages, `db` commands."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from alko_desk.storage import embedded
from alko_desk.storage.embedded import EmbeddedServer, EmbeddedServerError

REPO_ROOT = Path(__file__).resolve().parents[1]


def gone(pid: int, timeout: float = 10.0) -> bool:
    """True once the process has ended (a zombie waiting for a reaper counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALKO_")}
    env.update(
        ALKO_DATA_DIR=str(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", **extra
    )
    return env


def alko(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alko_desk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=False,
    )


@pytest.fixture
def server(tmp_path):
    srv = EmbeddedServer(tmp_path / "db")
    srv.start()
    yield srv
    srv.stop()


def test_server_listens_on_loopback_only_without_telemetry_or_debug_listener(server):
    proc = psutil.Process(server.process.pid)
    args = proc.cmdline()
    assert "--telemetry=disable" in args
    assert "--debug-addr=-" in args
    assert f"--listen-addr=127.0.0.1:{server.port}" in args
    listening = {
        c.laddr for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    }
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)
    assert {addr.port for addr in listening} == {server.port}


def test_stop_leaves_no_process_and_no_pid_file(tmp_path):
    srv = EmbeddedServer(tmp_path / "db")
    srv.start()
    pid = srv.process.pid
    srv.stop()
    assert gone(pid)
    assert not srv.pid_file.exists()


def test_server_started_from_a_worker_thread_outlives_the_thread(tmp_path):
    # The GUI opens the database from a pool thread that Qt retires when idle.
    srv = EmbeddedServer(tmp_path / "db")
    worker = threading.Thread(target=srv.start)
    worker.start()
    worker.join()
    try:
        time.sleep(1.0)
        assert srv.process.poll() is None
    finally:
        srv.stop()


CRASHING_APP = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from alko_desk.storage.embedded import EmbeddedServer
    server = EmbeddedServer(Path(sys.argv[1]))
    server.start()
    print(server.process.pid, flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)
""")


@pytest.mark.parametrize("death", ["kill", "exit"])
def test_a_crashed_app_leaves_no_server_behind(tmp_path, death):
    app = subprocess.run(
        [sys.executable, "-c", CRASHING_APP, str(tmp_path / "db"), death],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
    )
    assert app.returncode != 0
    ferretdb_pid = int(app.stdout.split()[0])
    try:
        assert gone(ferretdb_pid), "ferretdb outlived the app that started it"
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(ferretdb_pid).kill()


def test_missing_binary_names_where_it_looked_and_the_alternative(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "REPO_ROOT", tmp_path / "checkout")
    monkeypatch.delenv("ALKO_FERRETDB", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(EmbeddedServerError) as err:
        EmbeddedServer(tmp_path / "db").start()
    message = str(err.value)
    assert str(tmp_path / "checkout" / ".tools" / "bin" / "ferretdb") in message
    assert str(tmp_path / "home" / "go" / "bin" / "ferretdb") in message
    assert "ALKO_MONGODB_URI" in message


def test_db_status_reports_the_embedded_default_and_its_program(tmp_path):
    result = alko("db", "status", env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "embedded FerretDB 1.24.2" in result.stdout
    assert str(embedded.find_ferretdb()) in result.stdout
    assert "not running" in result.stdout
    assert str(tmp_path / "database") in result.stdout


def test_db_status_reports_a_configured_server_and_whether_it_answers(tmp_path, mongo_uri):
    result = alko("db", "status", env=cli_env(tmp_path, ALKO_MONGODB_URI=mongo_uri))
    assert result.returncode == 0, result.stderr
    assert "from ALKO_MONGODB_URI" in result.stdout
    assert "answers" in result.stdout


def test_db_status_hides_credentials_and_fails_when_the_server_is_down(tmp_path):
    uri = "mongodb://alice:s3cret-pw@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    result = alko("db", "status", env=cli_env(tmp_path, ALKO_MONGODB_URI=uri))
    assert result.returncode == 1
    assert "NO" in result.stdout and "s3cret-pw" not in result.stdout + result.stderr
    assert "TLS" in result.stdout


def test_db_start_serves_the_desks_data_folder_until_terminated(tmp_path):
    env = cli_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "alko_desk", "db", "start"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        uri = ""
        for line in proc.stdout:
            if line.startswith("URI: "):
                uri = line.split(" ", 1)[1].strip()
                break
        assert uri.startswith("mongodb://127.0.0.1:")
        ferretdb = [p.pid for p in psutil.Process(proc.pid).children() if "ferretdb" in p.name()]
        assert len(ferretdb) == 1

        status = alko("db", "status", env=env)
        assert f"running at {uri}" in status.stdout and "answers" in status.stdout
        second = alko("db", "start", env=env)
        assert second.returncode == 1 and "already running" in second.stderr

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert gone(ferretdb[0])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
