"""The embedded default database: a private FerretDB 1.24.2 on loopback, SQLite storage.

Started before login and stopped when the app exits. On Linux the server gets
PDEATHSIG, so it dies with the app even when the app crashes; a pid file lets the
next start clean up a server left behind on other systems.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pymongo

from alko_desk.paths import private_dir, tighten_files

FERRETDB_VERSION = "v1.24.2"
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
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

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
        ]

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
                    client.admin.command("ping")
                    return
                except pymongo.errors.PyMongoError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise EmbeddedServerError(f"The embedded database did not answer within {timeout:.0f} s.")

    def running_uri(self) -> str | None:
        """The address of a live server for this folder that another process owns, if any."""
        port = self._running_shared_server()
        return f"mongodb://127.0.0.1:{port}/?directConnection=true" if port else None

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
