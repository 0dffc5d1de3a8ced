"""Two desks on one showroom server: this process's window, and a scripted desk in another
process. A client the other desk registers is on this window's open list within 2 s,
carried by the server's change stream (no refresh pressed, no polling of the list)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.users import Role
from alko_desk.remote.desk import RemoteContext
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft
from tests.gui.helpers import log_in

pytestmark = pytest.mark.gui
WAIT = 10_000
SAM_PASSWORD = "sam chooses a long passphrase 9"
REPO = Path(__file__).resolve().parents[2]


def _names(page) -> set[str]:
    return {
        page.model.index(row, 0).data(Qt.ItemDataRole.DisplayRole)
        for row in range(page.model.rowCount())
    }


def test_a_client_registered_on_another_desk_appears_on_the_open_list_within_2_s(
    qtbot,
    context,
    make_user,
    connect_remote,
    make_desk,
    dialogs,
    clock,
    remote_backend,
    server_address,
    server_identity,
):
    sam = context.services_for(make_user("sam", Role.SALES)).clients
    sam.register(new_client_id(), draft())
    other = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.remote_desk_script",
            server_address,
            server_identity.fingerprint(),
            "sam",
            SAM_PASSWORD,
            "Zdenka",
            "Horvat",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        remote = RemoteContext(connect_remote(), clock)
        desk = make_desk(opener=lambda _secrets: remote)
        with qtbot.waitSignal(desk.main_window_shown, timeout=WAIT):
            log_in(qtbot, desk, "sam", SAM_PASSWORD)
        window = desk.main_window
        qtbot.waitUntil(lambda: _clients_page(window) is not None, timeout=WAIT)
        page = _clients_page(window)
        qtbot.waitUntil(lambda: page.model.ever_loaded and not page.model.loading, timeout=WAIT)
        assert _names(page) == {"Željko Kovačević"}
        feed = desk.context.services_for(desk.session).changes
        qtbot.waitUntil(lambda: feed.live, timeout=WAIT)  # the window listens to the stream
        assert json.loads(other.stdout.readline())["ready"]

        other.stdin.write("go\n")
        other.stdin.flush()
        saved = json.loads(other.stdout.readline())
        qtbot.waitUntil(lambda: "Zdenka Horvat" in _names(page), timeout=5_000)
        seen_after = time.monotonic() - saved["saved"]
        print(f"two desks: shown {seen_after * 1000:.0f} ms after the other desk saved")
        assert seen_after < 2.0, f"shown {seen_after:.2f} s after the other desk saved"
        assert feed.delivered >= 2  # the first batch, then the pushed change
        assert other.wait(timeout=30) == 0
        desk.log_out()
        assert dialogs.generic_errors == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


def _clients_page(window):
    from alko_desk.ui.clients.page import ClientsPage

    pages = window.findChildren(ClientsPage)
    return pages[0] if pages else None
