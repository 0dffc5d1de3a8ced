"""Fixtures for the pytest-qt flows: a desk built on the test's AppContext, scripted prompts, a keyring in memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from alko_desk.secrets import SecretStore
from alko_desk.ui.app import DeskController
from alko_desk.ui.gc import GuiThreadGarbageCollector
from alko_desk.ui.main_window import MainWindow
from alko_desk.ui.preferences import Preferences
from alko_desk.ui.tasks import TaskRunner
from tests.gui.helpers import MemoryKeyring, ScriptedDialogs


@pytest.fixture(scope="session", autouse=True)
def gui_thread_garbage_collection(qapp):
    """As in the app: cycles are collected on the GUI thread, never in a worker (which crashes Qt)."""
    collector = GuiThreadGarbageCollector(interval_ms=200)
    yield collector
    collector.stop()


@pytest.fixture
def dialogs() -> ScriptedDialogs:
    return ScriptedDialogs()


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def secrets(keyring_backend) -> SecretStore:
    return SecretStore(backend=keyring_backend)


@pytest.fixture
def preferences(tmp_path) -> Preferences:
    return Preferences(QSettings(str(tmp_path / "preferences.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_desk(qtbot, context, secrets, dialogs, preferences):
    """Builds and starts a DeskController on the test's context (or on a given opener)."""
    desks: list[DeskController] = []

    def _make(
        *, opener=None, idle_timeout_ms: int | None = 60_000, start: bool = True
    ) -> DeskController:
        desk = DeskController(
            opener or (lambda _secrets: context),
            make_secrets=lambda: secrets,
            dialogs=dialogs,
            preferences=preferences,
            idle_timeout_ms=idle_timeout_ms,
            close_context_on_exit=False,
        )
        qtbot.addWidget(desk.login_window)
        desks.append(desk)
        if start:
            desk.start()
        return desk

    yield _make
    for desk in desks:
        desk.idle.stop()
        desk.tasks.wait_for_done(10_000)
        desk._end_session()
        desk.shutdown()
    QApplication.processEvents()


@pytest.fixture
def open_main(qtbot, context, dialogs):
    """Opens a MainWindow for a session directly, without the login flow."""
    runners, windows = [], []  # qtbot only keeps weak references

    def _open(session) -> MainWindow:
        runner = TaskRunner(dialogs)
        runners.append(runner)
        tasks = runner.for_session(lambda pw: context.auth.confirm_password(session, pw))
        window = MainWindow(context, context.services_for(session), tasks)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        return window

    yield _open
    for runner in runners:
        runner.wait_for_done(10_000)


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshot tests save their PNGs: ALKO_SCREENSHOTS (the docs), else a temporary folder."""
    folder = Path(os.environ.get("ALKO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
