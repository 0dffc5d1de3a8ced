"""The rules for a new account's username and name: pure, so the form checks as the service does."""

from __future__ import annotations

import re

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def account_problems(username: str, full_name: str) -> dict[str, str]:
    """What is wrong with a new account's username and name (empty when nothing is)."""
    errors = {}
    if not USERNAME_PATTERN.match(username.strip().casefold()):
        errors["username"] = (
            "2–32 letters, digits, dots, dashes or underscores, starting with a letter or digit."
        )
    if not full_name.strip():
        errors["full_name"] = "Enter the person's full name."
    return errors
