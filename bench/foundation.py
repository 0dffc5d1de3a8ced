"""The Foundation's figures: cold start, embedded database start, login, memory after login."""

from __future__ import annotations

import json
import selectors
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.registry import Result, benchmark
from bench.workspace import ADMIN, ADMIN_PASSWORD, Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SHOWN = "BENCH-SHOWN"

# Both windows report the same moment: their first turn of the event loop after showEvent,
# when the window has been laid out and painted once.
EMPTY_WINDOW = textwrap.dedent(f"""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    def shown():
        print("{SHOWN}", flush=True)
        QApplication.quit()

    class Window(QWidget):
        def showEvent(self, event):
            super().showEvent(event)
            QTimer.singleShot(0, shown)

    app = QApplication(sys.argv)
    window = Window()
    window.resize(460, 400)
    window.show()
    app.exec()
""")

# The real `alko-desk` start (alko_desk.cli.main with no arguments), with a hook on the login
# window's showEvent, so that the app itself needs no benchmark code.
APP_TO_LOGIN = textwrap.dedent(f"""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from alko_desk.ui import login

    original = login.LoginWindow.showEvent

    def shown():
        print("{SHOWN}", flush=True)
        QTimer.singleShot(0, QApplication.quit)

    def show_event(self, event):
        original(self, event)
        QTimer.singleShot(0, shown)

    login.LoginWindow.showEvent = show_event
    from alko_desk.cli import main
    sys.exit(main([]))
""")

AFTER_LOGIN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import psutil
    from keyring.backends import fail
    from PySide6.QtWidgets import QApplication
    from alko_desk.bootstrap import open_context
    from alko_desk.paths import data_dir, set_application_names
    from alko_desk.secrets import SecretStore
    from alko_desk.ui.dialogs import DialogService
    from alko_desk.ui.main_window import MainWindow
    from alko_desk.ui.tasks import TaskRunner

    try:  # as run_gui does
        from alko_desk.ui.qt_setup import prepare_qt
        prepare_qt()
    except ImportError:
        pass
    app = QApplication(sys.argv)
    set_application_names()
    try:  # as run_gui does: cycles collected on the GUI thread only
        from alko_desk.ui.gc import GuiThreadGarbageCollector
        collector = GuiThreadGarbageCollector(app)
    except ImportError:
        pass
    context = open_context(data_dir(), SecretStore(fail.Keyring()))
    session = context.auth.login(sys.argv[1], sys.argv[2])
    services = context.services_for(session)
    tasks = TaskRunner(DialogService())
    confirm = lambda password: context.auth.confirm_password(session, password)
    window = MainWindow(context, services, tasks.for_session(confirm))
    window.show()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # let the first page load its data
        app.processEvents()
        time.sleep(0.01)
    tasks.wait_for_done(10_000)
    app.processEvents()
    rss = psutil.Process().memory_info().rss
    process = context.server.process if context.server else None
    server = psutil.Process(process.pid).memory_info().rss if process else 0
    print(json.dumps({"rss": rss, "server_rss": server}), flush=True)
    window.close()
    context.close()
""")


def time_to_marker(args: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from spawning the process to its SHOWN line; the process is then left to exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                remaining = started + timeout - time.perf_counter()
                if remaining <= 0 or not selector.select(remaining):
                    raise RuntimeError(f"no window within {timeout:.0f} s")
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(
                        "exited before showing a window: " + proc.stderr.read()[-400:].strip()
                    )
                if line.strip() == SHOWN:
                    return time.perf_counter() - started
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@benchmark("Cold start to the login window", target="<= 3x an empty PySide6 window", order=10)
def cold_start(ws: Workspace) -> Result:
    desk = ws.desk_data_dir()
    env = ws.child_env(desk, ALKO_LOG_LEVEL="WARNING")
    empty_cmd = [sys.executable, "-c", EMPTY_WINDOW]
    app_cmd = [sys.executable, "-c", APP_TO_LOGIN]
    time_to_marker(empty_cmd, env)  # warm the file cache for both, as a desk that ran before
    time_to_marker(app_cmd, env)
    empty, app = [], []
    for _ in range(5):  # interleaved, so that both see the same machine load
        empty.append(time_to_marker(empty_cmd, env))
        app.append(time_to_marker(app_cmd, env))
    ratio = statistics.median(app) / statistics.median(empty)
    return Result.at_most(
        ratio,
        3.0,
        "x",
        f"app {statistics.median(app):.3f} s, empty window "
        f"{statistics.median(empty):.3f} s (medians of 5)",
    )


@benchmark("Embedded database ready", target="< 2 s", order=20)
def embedded_ready(ws: Workspace) -> Result:
    from alko_desk.storage.embedded import EmbeddedServer

    times = []
    for _ in range(3):
        server = EmbeddedServer(ws.path("ready"))
        started = time.perf_counter()
        server.start()
        times.append(time.perf_counter() - started)
        server.stop()
    return Result.at_most(
        statistics.median(times),
        2.0,
        "s",
        f"EmbeddedServer.start on a fresh folder, median of 3 (max {max(times):.2f} s)",
    )


@benchmark("Login round trip", target="< 300 ms", order=30)
def login_round_trip(ws: Workspace) -> Result:
    ctx = ws.context()
    ctx.auth.login(ADMIN, ADMIN_PASSWORD)  # first use of the connection pool
    times = []
    for _ in range(7):
        started = time.perf_counter()
        ctx.auth.login(ADMIN, ADMIN_PASSWORD)
        times.append((time.perf_counter() - started) * 1000)
    return Result.at_most(
        statistics.median(times),
        300,
        "ms",
        "AuthService.login with Argon2id and audit entry, median of 7",
    )


@benchmark("Resident memory after login", target="< 250 MB", order=40)
def memory_after_login(ws: Workspace) -> Result:
    desk = ws.desk_data_dir()
    out = subprocess.run(
        [sys.executable, "-c", AFTER_LOGIN, ADMIN, ADMIN_PASSWORD],
        env=ws.child_env(desk),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    mb = figures["rss"] / 2**20
    return Result.at_most(
        mb,
        250,
        "MB",
        "app process with the main window, offscreen; "
        f"the embedded server adds {figures['server_rss'] / 2**20:.0f} MB",
    )
