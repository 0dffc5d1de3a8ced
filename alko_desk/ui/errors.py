"""Unexpected errors: logged with their traceback, shown once in one generic dialog.

Messages of `AlkoError`s are written for users and shown as they are (by the task
runner); everything else is a bug, and a user must never see its `repr` or a
traceback. Electrum's `exception_window.py` is the model: one hook, installed
once, that drops duplicates.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtWidgets import QWidget

log = logging.getLogger("alko_desk.ui")


def _signature(exc: BaseException) -> tuple[str, str, str]:
    """What makes two reports the same bug: type, message and the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return type(exc).__name__, str(exc), where


class ErrorReporter:
    def __init__(self, dialogs) -> None:  # a DialogService; untyped to avoid an import cycle
        self._dialogs = dialogs
        self._seen: set[tuple[str, str, str]] = set()
        self._showing = False
        self.shown = 0

    def report(self, exc: BaseException, parent: QWidget | None = None) -> bool:
        """Logs always; shows the generic dialog unless this bug was already shown. True when shown."""
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
        key = _signature(exc)
        if key in self._seen or self._showing:
            return False
        self._seen.add(key)
        self._showing = True
        try:
            self.shown += 1
            self._dialogs.generic_error(parent)
        finally:
            self._showing = False
        return True


_installed: dict[str, Callable] = {}


def install_excepthook(reporter: ErrorReporter) -> None:
    """Routes uncaught exceptions (also those raised in Qt slots) to the reporter. Idempotent."""
    if "hook" in _installed:
        return
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        try:
            reporter.report(exc)
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            previous(exc_type, exc, tb)

    _installed["hook"] = hook
    _installed["previous"] = previous
    sys.excepthook = hook


def uninstall_excepthook() -> None:
    if "hook" in _installed:
        sys.excepthook = _installed.pop("previous")
        _installed.pop("hook")
