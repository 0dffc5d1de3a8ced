"""The embedded default database: a private FerretDB 1.24.2 on loopback, SQLite storage.

Started before login and stopped when the app exits. On Linux the server gets
PDEATHSIG, so it dies with the app even when the app crashes; a pid file lets the
next start clean up a server left behind on other systems.

It runs with FerretDB's authentication on (`--test-enable-new-auth`, SCRAM-SHA-256; called
experimental in 1.24, the default from 2.0): every command but a handful of handshakes
(hello, ping, saslStart...) needs a login. The login is made at the first start with
`--setup-database/--setup-username` and the password in FERRETDB_SETUP_PASSWORD (an
environment variable, which other OS users cannot read, unlike the command line); the
credentials live in `credentials.json` beside the database files (0600, folder 0700). The
login's database has a random name, so a data folder from before this (or one whose
credentials file was lost) gets a new login instead of being locked out. FerretDB 1.x has
authentication only, no authorization: the login may do anything, including drop databases
and create users.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pymongo

from alko_desk.paths import private_dir, tighten_files

FERRETDB_VERSION = "v1.24.2"
LOGIN_USER = "alko_desk"
REPO_ROOT = Path(__file__).resolve().parents[2]


class EmbeddedServerError(Exception):
    """The embedded server cannot start; the message says where we looked and what to do."""


def find_ferretdb() -> Path | None:
    candidates = []
    if os.environ.get("ALKO_FERRETDB"):
        candidates.append(Path(os.environ["ALKO_FERRETDB"]))
    candidates.append(REPO_ROOT / ".tools" / "bin" / "ferretdb")
    found = shutil.which("ferretdb")
    if found:
        candidates.append(Path(found))
    candidates.append(Path.home() / "go" / "bin" / "ferretdb")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def search_locations() -> list[str]:
    return [
        "$ALKO_FERRETDB",
        str(REPO_ROOT / ".tools" / "bin" / "ferretdb"),
        "ferretdb on PATH",
        str(Path.home() / "go" / "bin" / "ferretdb"),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Launcher:
    """Starts child processes from one thread that lives as long as the app.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the
    process. The GUI opens the database from a pool thread, which Qt retires after
    30 s idle: a server forked there would be killed under a working desk.
    """

    _lock = threading.Lock()
    _requests: queue.Queue | None = None

    @classmethod
    def popen(cls, *args, **kwargs) -> subprocess.Popen:
        with cls._lock:
            if cls._requests is None:
                cls._requests = queue.Queue()
                threading.Thread(
                    target=cls._serve, args=(cls._requests,), name="alko-launcher", daemon=True
                ).start()
        done: queue.Queue = queue.Queue(maxsize=1)
        cls._requests.put((args, kwargs, done))
        ok, result = done.get()
        if not ok:
            raise result
        return result

    @staticmethod
    def _serve(requests: queue.Queue) -> None:
        while True:
            args, kwargs, done = requests.get()
            try:
                done.put((True, subprocess.Popen(*args, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                done.put((False, exc))


@dataclass
class EmbeddedServer:
    data_dir: Path
    binary: Path | None = None
    port: int = 0
    process: subprocess.Popen | None = None
    tie_to_parent: bool = True

    @property
    def uri(self) -> str:
        """The address with the login (for connecting; never shown: see `public_uri`)."""
        return self._uri(self.port)

    def _uri(self, port: int) -> str:
        login = self.credentials()
        return (
            f"mongodb://{quote(login['username'], safe='')}:{quote(login['password'], safe='')}"
            f"@127.0.0.1:{port}/?directConnection=true&authSource={login['database']}"
            "&authMechanism=SCRAM-SHA-256"
        )

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    def credentials(self) -> dict[str, str]:
        """The embedded server's login, made once per data folder (0600 file, 0700 folder)."""
        try:
            login = json.loads(self.credentials_file.read_text())
            if {"username", "password", "database"} <= login.keys():
                return login
        except (OSError, ValueError):
            pass
        login = {
            "username": LOGIN_USER,
            "password": secrets.token_urlsafe(32),
            # A new name each time: FerretDB creates the login only with a new database.
            "database": f"alko_login_{secrets.token_hex(4)}",
        }
        private_dir(self.data_dir)
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(login))
        return login

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "ferretdb.pid.json"

    def command(self) -> list[str]:
        assert self.binary is not None
        return [
            str(self.binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir / 'sqlite'}/",
            f"--state-dir={self.data_dir / 'state'}",
            f"--listen-addr=127.0.0.1:{self.port}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
            "--test-enable-new-auth",
            f"--setup-database={self.credentials()['database']}",
            f"--setup-username={self.credentials()['username']}",
        ]

    def environment(self) -> dict[str, str]:
        """The child's environment: the setup password goes here, not on the command line,
        which every OS user can read (/proc/PID/cmdline; /proc/PID/environ is the owner's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRETDB_")}
        env["FERRETDB_SETUP_PASSWORD"] = self.credentials()["password"]
        return env

    def start(self, timeout: float = 15.0) -> str:
        self.binary = self.binary or find_ferretdb()
        if self.binary is None:
            raise EmbeddedServerError(
                "The embedded database (FerretDB 1.24.2) is not installed. Looked in: "
                + ", ".join(search_locations())
                + ". Run `make run` (it installs it), or set ALKO_MONGODB_URI to use a MongoDB server."
            )
        # The database files are this OS user's alone: folders 0700, files 0600, and the
        # server runs with umask 077 so that the files SQLite creates later are 0600 too.
        for sub in ("sqlite", "state"):
            private_dir(self.data_dir / sub)
        private_dir(self.data_dir)
        tighten_files(self.data_dir)
        shared = self._running_shared_server()
        if shared:
            self.port = shared
            return self.uri
        self._stop_leftover()
        self.port = self.port or free_port()
        log_fd = os.open(
            self.data_dir / "ferretdb.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        log = os.fdopen(log_fd, "ab")  # handed to the child process
        self.process = _Launcher.popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            preexec_fn=_die_with_parent if self.tie_to_parent and os.name == "posix" else None,
            umask=0o077 if os.name == "posix" else -1,
        )
        log.close()
        pid_fd = os.open(self.pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(pid_fd, "w") as pid_file:
            pid_file.write(
                json.dumps({"pid": self.process.pid, "port": self.port, "owner_pid": os.getpid()})
            )
        self._wait_ready(timeout)
        return self.uri

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=200, connectTimeoutMS=200)
        try:
            while time.monotonic() < deadline:
                if self.process and self.process.poll() is not None:
                    tail = (self.data_dir / "ferretdb.log").read_text(errors="replace")[-600:]
                    raise EmbeddedServerError(f"The embedded database stopped at start:\n{tail}")
                try:
                    # listCollections needs the login, which FerretDB creates a moment
                    # after it first answers (ping alone would pass without it).
                    client.admin.command("listCollections", nameOnly=True)
                    return
                except pymongo.errors.PyMongoError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise EmbeddedServerError(f"The embedded database did not answer within {timeout:.0f} s.")

    def running_uri(self) -> str | None:
        """The address (with the login) of a live server for this folder that another process
        owns, if any."""
        port = self._running_shared_server()
        return self._uri(port) if port else None

    def _running_shared_server(self) -> int | None:
        """The port of a server for this folder whose owner (`alko-desk db start`, another desk) lives."""
        try:
            import psutil

            info = json.loads(self.pid_file.read_text())
            if psutil.pid_exists(int(info["owner_pid"])) and psutil.pid_exists(int(info["pid"])):
                client = pymongo.MongoClient(
                    f"mongodb://127.0.0.1:{int(info['port'])}/?directConnection=true",
                    serverSelectionTimeoutMS=500,
                )
                try:
                    client.admin.command("ping")
                    return int(info["port"])
                finally:
                    client.close()
        except Exception:  # noqa: BLE001 - no usable shared server
            return None
        return None

    def _stop_leftover(self) -> None:
        """Stop a server that an earlier run of this data folder left behind."""
        try:
            info = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return
        pid = int(info.get("pid", 0))
        try:
            import psutil

            proc = psutil.Process(pid)
            if "ferretdb" in " ".join(proc.cmdline()) and str(self.data_dir) in " ".join(
                proc.cmdline()
            ):
                proc.terminate()
                proc.wait(5)
        except Exception:  # noqa: BLE001 - nothing left to stop, or not ours
            pass

    def stop(self) -> None:
        if self.process is None:
            return  # attached to a server someone else owns
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        try:
            self.pid_file.unlink()
        except OSError:
            pass


def public_uri(uri: str) -> str:
    """`uri` without its login, to show (the password stays in the credentials file)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
