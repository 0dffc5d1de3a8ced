"""The organisation's key check: proves that a key unwrapped at login is this organisation's key.

Setup stores the check; every login verifies it, so an account carrying a key of someone
else's choosing (an account written straight into the database) opens nothing.
"""

from __future__ import annotations

from alko_desk.security.crypto import derive_key, open_sealed, seal

KEY_CHECK_PLAINTEXT = b"alko-desk organisation key"
_PURPOSE = "alko-desk/key-check/v1"


def make_key_check(org_key: bytes) -> bytes:
    return seal(derive_key(org_key, _PURPOSE), KEY_CHECK_PLAINTEXT, "key-check")


def org_key_matches(organisation_doc: dict, org_key: bytes) -> bool:
    try:
        return (
            open_sealed(derive_key(org_key, _PURPOSE), organisation_doc["key_check"], "key-check")
            == KEY_CHECK_PLAINTEXT
        )
    except Exception:  # noqa: BLE001 - any failure means "not this organisation's key"
        return False
