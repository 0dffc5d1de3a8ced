"""Validating and normalising what the client form collects.

Pure functions: the form calls them as the user types; the service calls them
again before saving, so a bypassed form cannot store bad data.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from datetime import date

import phonenumbers

from alko_desk.models.clients import Address, ClientDraft

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
ID_NUMBER_RE = re.compile(r"^[A-Z0-9]{5,20}$")
LICENCE_RE = re.compile(r"^[A-Z0-9]{4,20}$")
MAX_NAME = 80
MAX_NOTES = 2000


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_document_number(value: str) -> str:
    return re.sub(r"[\s\-./]", "", value).upper()


def tidy_document_number(value: str) -> str:
    """A licence number as the person wrote it ("HR-DL-887766"), spaces tidied and upper case.

    Kept for display; `normalize_document_number` is what comparisons use.
    """
    return " ".join(value.split()).upper()


def same_document_number(a: str, b: str) -> bool:
    return normalize_document_number(a) == normalize_document_number(b)


@functools.lru_cache(maxsize=1024)  # a draft's number is checked, then normalised: parse once
def parse_phone(value: str, region: str) -> str:
    """E.164 or a ValueError with a message for the user."""
    raw = value.strip()
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "This is not a phone number. Include the country code for foreign numbers."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("This phone number is not valid for its country. Check the digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def mask_phone(e164: str) -> str:
    """ "+385 •• ••• ••78": enough to tell two numbers apart on the phone, no more."""
    if not e164:
        return ""
    country, _, rest = format_phone(e164).partition(" ")
    total = sum(ch.isdigit() for ch in rest)
    seen, out = 0, []
    for ch in rest:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 2 else "•")
        else:
            out.append(ch)
    return f"{country} {''.join(out)}"


def check_field(name: str, value, region: str = "HR", today: date | None = None) -> str | None:
    """The message for one field, or None; used for validation as the user types."""
    today = today or date.today()
    if name in ("first_name", "last_name"):
        text = str(value).strip()
        if not text:
            return "Required."
        if len(text) > MAX_NAME:
            return f"At most {MAX_NAME} characters."
        if not any(ch.isalpha() for ch in text):
            return "A name needs letters."
        return None
    if name == "birth_date":
        if value is None:
            return "Required."
        if value > today:
            return "The date of birth cannot be in the future."
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if age < 16:
            return "Clients must be at least 16 years old."
        if age > 120:
            return "Check the year: that would make the client over 120."
        return None
    if name == "id_number":
        number = normalize_document_number(str(value))
        if not number:
            return "Required."
        if not ID_NUMBER_RE.match(number):
            return "5–20 letters and digits, as printed on the document."
        return None
    if name == "licence_number":
        number = normalize_document_number(str(value))
        if number and not LICENCE_RE.match(number):
            return "4–20 letters and digits, as printed on the licence."
        return None
    if name == "email":
        text = normalize_email(str(value))
        if text and not EMAIL_RE.match(text):
            return "This is not an email address (name@example.com)."
        return None
    if name == "phone":
        text = str(value).strip()
        if not text:
            return None
        try:
            parse_phone(text, region)
        except ValueError as exc:
            return str(exc)
        return None
    if name == "notes":
        return f"At most {MAX_NOTES} characters." if len(str(value)) > MAX_NOTES else None
    return None


def validate_draft(
    draft: ClientDraft, region: str, today: date | None = None
) -> tuple[ClientDraft, dict[str, str]]:
    """The normalised draft and a message per bad field (empty when all is well)."""
    errors: dict[str, str] = {}
    for name in (
        "first_name",
        "last_name",
        "birth_date",
        "id_number",
        "licence_number",
        "email",
        "phone",
        "notes",
    ):
        problem = check_field(name, getattr(draft, name), region, today)
        if problem:
            errors[name] = problem
    if not draft.email.strip() and not draft.phone.strip():
        errors.setdefault(
            "email", "Enter an email address or a phone number, so we can reach the client."
        )
    if errors:
        return draft, errors
    address = Address(
        *(
            " ".join(getattr(draft.address, f).split())
            for f in ("street", "postal_code", "city", "country")
        )
    )
    normalized = replace(
        draft,
        first_name=" ".join(draft.first_name.split()),
        last_name=" ".join(draft.last_name.split()),
        id_number=normalize_document_number(draft.id_number),
        licence_number=tidy_document_number(draft.licence_number),
        email=normalize_email(draft.email),
        phone=parse_phone(draft.phone, region) if draft.phone.strip() else "",
        address=address,
        notes=draft.notes.strip(),
    )
    return normalized, {}
