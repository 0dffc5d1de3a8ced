"""How client values read on screen: dates, times, enums, phone numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from PySide6.QtCore import QDate, QDateTime, QLocale, QTime, QTimeZone

DATE_FORMAT = "d MMM yyyy"
DATE_TIME_FORMAT = "d MMM yyyy, HH:mm"
ENTRY_FORMATS = (
    "%d.%m.%Y",
    "%d.%m.%Y.",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d. %m. %Y",
    "%d. %m. %Y.",
)


def format_date(value: date | None) -> str:
    if value is None:
        return ""
    return QLocale().toString(QDate(value.year, value.month, value.day), DATE_FORMAT)


def format_datetime(value: datetime | None) -> str:
    """In the desk's own time zone; stored times are UTC."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC)
    moment = QDateTime(
        QDate(utc.year, utc.month, utc.day),
        QTime(utc.hour, utc.minute, utc.second),
        QTimeZone.utc(),
    )
    return QLocale().toString(moment.toLocalTime(), DATE_TIME_FORMAT)


def entry_date(value: date | None) -> str:
    """A date as the form shows it for editing (the first of ENTRY_FORMATS)."""
    return value.strftime("%d.%m.%Y") if value else ""


_DATE_SHAPE = re.compile(r"^\s*\d{1,4}\s*[./-]\s*\d{1,2}\s*[./-]\s*\d{1,4}\.?\s*$")


def looks_like_date(text: str) -> bool:
    """Written in a date format (31.02.1980), whether or not that day exists."""
    return bool(_DATE_SHAPE.match(text))


def parse_entry_date(text: str) -> date | None:
    """A typed date, or None when it cannot be read (the caller says so beside the field)."""
    text = " ".join(text.split())
    for fmt in ENTRY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
