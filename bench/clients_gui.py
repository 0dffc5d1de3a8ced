"""The client list as staff see it: first page shown, scrolling the whole list, memory.

Measured in a separate process (so resident memory is the app's alone), on the
database that bench/clients.py seeded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.clients import CLIENTS, SALES_PASSWORD, seeded
from bench.registry import Result, benchmark
from bench.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import psutil
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from alko_desk.bootstrap import open_context
    from alko_desk.secrets import SecretStore
    from alko_desk.ui.clients.page import ClientsPage
    from alko_desk.ui.dialogs import DialogService
    from alko_desk.ui.tasks import TaskRunner
    from keyring.backends import fail

    from alko_desk.ui.gc import GuiThreadGarbageCollector

    app = QApplication(sys.argv)
    collector = GuiThreadGarbageCollector(app) if not os.environ.get("NOGC") else None
    ctx = open_context(Path(os.environ["ALKO_DATA_DIR"]), SecretStore(fail.Keyring()))
    session = ctx.auth.login("sam", os.environ["ALKO_PASSWORD"])
    services = ctx.services_for(session)
    tasks = TaskRunner(DialogService())
    out = {}

    def wait(condition, limit_ms=120_000):
        clock = QElapsedTimer(); clock.start()
        while not condition():
            app.processEvents()
            time.sleep(0.001)
            if clock.elapsed() > limit_ms:
                raise SystemExit("timed out")

    started = time.perf_counter()
    page = ClientsPage(ctx, services, tasks)
    page.resize(1200, 800)
    page.show()
    wait(lambda: page.model.rowCount() > 0)
    out["first_page_ms"] = (time.perf_counter() - started) * 1000

    # A timer that should fire every 5 ms: any longer gap is the GUI thread stalled.
    gaps = []
    tick = QElapsedTimer(); tick.start()
    def on_tick():
        gaps.append((tick.restart(), page.model.rowCount()))
    timer = QTimer(); timer.setInterval(5); timer.timeout.connect(on_tick); timer.start()

    total = page.model.total
    bar = page.view.verticalScrollBar()
    scroll_started = time.perf_counter()
    from PySide6.QtCore import QModelIndex
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    viewport = page.view.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)

    def wheel_down(notches=10):  # what a user's mouse wheel sends
        event = QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120 * notches),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(viewport, event)

    while page.model.rowCount() < total:
        before = page.model.rowCount()
        while bar.value() < bar.maximum():
            wheel_down()
            app.processEvents()
        bar.setValue(bar.maximum())  # the view asks the model for more when it reaches the end
        app.processEvents()
        if page.model.rowCount() == before and page.model.canFetchMore(QModelIndex()):
            page.model.fetchMore(QModelIndex())
        wait(lambda: page.model.rowCount() > before or page.model.rowCount() >= total)
    bar.setValue(bar.maximum())
    for _ in range(20):
        app.processEvents(); time.sleep(0.005)
    timer.stop()
    out["scroll_s"] = time.perf_counter() - scroll_started
    out["rows"] = page.model.rowCount()
    out["worst_gap_ms"] = max([g for g, _ in gaps[1:]] or [0])
    out["worst_gaps"] = sorted(gaps[1:], reverse=True)[:8]  # (ms, rows loaded then)
    out["rss_mb"] = psutil.Process().memory_info().rss / 2**20
    print("RESULT " + json.dumps(out), flush=True)
    tasks.wait_for_done(10_000)
    ctx.close()
""")


def measure(ws: Workspace) -> dict:
    cached = getattr(ws, "_clients_gui", None)
    if cached:
        return cached
    ctx, _ = seeded(ws)
    env = ws.child_env(
        ws.path("gui-desk"),
        ALKO_MONGODB_URI=ws.mongo_uri(),
        ALKO_DB_NAME=ctx.store.db.name,
        ALKO_PASSWORD=SALES_PASSWORD + "!",
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        Path("/tmp/alko-bench-gui.log").write_text(proc.stdout + proc.stderr)
        raise RuntimeError(
            f"the measuring process failed (exit {proc.returncode}; log in /tmp/alko-bench-gui.log)"
        )
    ws._clients_gui = json.loads(lines[-1][len("RESULT ") :])
    return ws._clients_gui


@benchmark("Client list: first page shown in the window", target="< 150 ms", order=250)
def first_page_shown(ws: Workspace) -> Result:
    m = measure(ws)
    return Result.at_most(
        m["first_page_ms"], 150, "ms", detail="ClientsPage built → first rows in the model"
    )


@benchmark(f"Scrolling all {CLIENTS:,} clients: worst GUI stall", target="< 50 ms", order=260)
def scroll_stall(ws: Workspace) -> Result:
    m = measure(ws)
    return Result.at_most(
        m["worst_gap_ms"],
        50,
        "ms",
        detail=f"{m['rows']:,} rows in {m['scroll_s']:.0f} s; 5 ms timer's longest gap; "
        f"worst (ms, rows loaded): {m['worst_gaps'][:4]}",
    )


@benchmark("Resident memory with the client list open", target="< 300 MB", order=270)
def memory_with_list(ws: Workspace) -> Result:
    m = measure(ws)
    return Result.at_most(m["rss_mb"], 300, "MB", detail="after scrolling the whole list")
