"""Helpers for the GUI flows: a keyring in memory, scripted prompts, logging in through the window."""

from __future__ import annotations

import keyring.errors
from PySide6.QtCore import Qt

from alko_desk.ui.app import DeskController
from alko_desk.ui.dialogs import DialogService


class MemoryKeyring:
    """Stands in for the OS keyring: same three calls, nothing leaves the process."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, key: str) -> str | None:
        return self.values.get((service, key))

    def set_password(self, service: str, key: str, value: str) -> None:
        self.values[(service, key)] = value

    def delete_password(self, service: str, key: str) -> None:
        if (service, key) not in self.values:
            raise keyring.errors.PasswordDeleteError(key)
        del self.values[(service, key)]


class ScriptedDialogs(DialogService):
    """Records every prompt and answers from a script instead of waiting for a click."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.retries: list[str] = []
        self.password_prompts: list[tuple[str, str]] = []
        self.confirms: list[str] = []
        self.generic_errors = 0
        self.retry_answers: list[bool] = []
        self.password_answers: list[str | None] = []
        self.choose_answers: list[str | None] = []
        self.text_prompts: list[str] = []
        self.text_buttons: list[str] = []  # the button that answers each prompt
        self.text_answers: list[str | None] = []
        self.confirm_answer = True

    def error(self, parent, title, text):
        self.errors.append(text)

    def info(self, parent, title, text):
        self.infos.append(text)

    def confirm(self, parent, title, text, ok_text=""):
        self.confirms.append(text)
        return self.confirm_answer

    def retry(self, parent, title, text):
        self.retries.append(text)
        return self.retry_answers.pop(0) if self.retry_answers else False

    def password(self, parent, title, text, error=""):
        self.password_prompts.append((text, error))
        return self.password_answers.pop(0) if self.password_answers else None

    def choose(self, parent, title, label, items, current=0):
        return self.choose_answers.pop(0) if self.choose_answers else None

    def text(self, parent, title, label, required=False, ok_text=""):
        self.text_prompts.append(label)
        self.text_buttons.append(ok_text)
        return self.text_answers.pop(0) if self.text_answers else None

    def generic_error(self, parent):
        self.generic_errors += 1


def log_in(qtbot, desk: DeskController, username: str, password: str) -> None:
    """Types into the real login window once it is ready and clicks Log in."""
    window = desk.login_window
    qtbot.waitUntil(lambda: window.login_button.isEnabled(), timeout=10_000)
    window.username.clear()
    qtbot.keyClicks(window.username, username)
    qtbot.keyClicks(window.password, password)
    qtbot.mouseClick(window.login_button, Qt.MouseButton.LeftButton)


def wait_idle(qtbot, runner) -> None:
    qtbot.waitUntil(lambda: runner.active_count == 0, timeout=10_000)
