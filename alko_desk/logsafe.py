"""Logs without personal values.

A traceback is what a developer needs; the message of an exception is where a client's data
leaks (`date.fromisoformat` puts the decrypted birth date in its message, a duplicate-key error
the key's value, a KeyError the key, and even our own user-facing messages may name a client).
So the app's log handlers keep every frame and the exception's type, but write its message only
for errors about files and the database connection, whose messages name paths and servers.
"""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

WITHHELD = "(message withheld: it may contain personal data)"
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
# Errors about the database connection: their messages name servers, never documents.
_CONNECTION_ERRORS = {
    "AutoReconnect",
    "ConfigurationError",
    "ConnectionFailure",
    "EmbeddedServerError",
    "ExecutionTimeout",
    "NetworkTimeout",
    "NotPrimaryError",
    "ServerSelectionTimeoutError",
    "WaitQueueTimeoutError",
}


def safe_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) or type(exc).__name__ in _CONNECTION_ERRORS:
        return str(exc)
    return WITHHELD


def format_exception(exc: BaseException) -> str:
    """Like `traceback.format_exception`, with each message passed through `safe_message`."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for error, link in reversed(chain):
        text = "Traceback (most recent call last):\n" if error.__traceback__ else ""
        text += "".join(traceback.format_tb(error.__traceback__))
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        text += f"{kind}: {safe_message(error)}\n"
        parts.append(text)
        if link:
            parts.append(link)
    return "".join(parts).rstrip("\n")


class RedactingFormatter(logging.Formatter):
    """A formatter that writes tracebacks through `format_exception`, and exceptions passed
    as arguments (`log.warning("failed: %s", exc)`) as their safe message."""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.args, tuple) and any(
            isinstance(a, BaseException) for a in record.args
        ):
            record.args = tuple(
                f"{type(a).__name__}: {safe_message(a)}" if isinstance(a, BaseException) else a
                for a in record.args
            )
        record.exc_text = None  # never reuse a text another formatter made unredacted
        return super().format(record)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return format_exception(ei[1]) if ei and ei[1] is not None else ""


def private_file_handler(path: Path, fmt: str) -> logging.FileHandler:
    """A log file readable only by this OS user, in a folder that is too."""
    from alko_desk.paths import private_dir

    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if os.name == "posix":
        os.chmod(path, 0o600)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(fmt))
    return handler


def redact_handlers(logger: logging.Logger | None = None) -> None:
    """Puts the redacting formatter on every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        current = handler.formatter
        handler.setFormatter(
            RedactingFormatter(current._fmt if current else None)  # noqa: SLF001
        )


def install_desk_logging(data_dir: Path) -> logging.Handler:
    """The desk's log file, <data folder>/logs/desk.log, and redaction on every handler."""
    handler = private_file_handler(
        data_dir / "logs" / "desk.log", "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    root = logging.getLogger()
    root.addHandler(handler)
    redact_handlers(root)
    return handler
