"""Non-secret preferences over QSettings, each key declared once with its type and default.

Secrets (the database URI, the remembered username) go to the keyring through
`alko_desk.secrets`, never here (Picard's `options.py`, Electrum's `ConfigVar`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Option(Generic[T]):
    key: str
    type: type
    default: T


MAIN_WINDOW_GEOMETRY: Option[QByteArray] = Option("window/main_geometry", QByteArray, QByteArray())
LAST_SECTION: Option[str] = Option("window/last_section", str, "")


def for_user(option: Option[T], username: str) -> Option[T]:
    """The same preference kept apart for each user of the desk (window size, last section)."""
    return Option(f"users/{username}/{option.key}", option.type, option.default)


class Preferences:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings if settings is not None else QSettings()

    def get(self, option: Option[T]) -> T:
        value = self._settings.value(option.key, option.default)
        if value is None:
            return option.default
        try:
            return value if isinstance(value, option.type) else option.type(value)
        except (TypeError, ValueError):
            return option.default

    def set(self, option: Option[T], value: T) -> None:
        self._settings.setValue(option.key, value)
