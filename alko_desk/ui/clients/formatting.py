"""How client values read on screen: dates, times, enums, phone numbers."""

from __future__ import annotations

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


def parse_entry_date(text: str) -> date | None:
    """A typed date, or None when it cannot be read (the caller says so beside the field)."""
    text = " ".join(text.split())
    for fmt in ENTRY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
