"""The organisation's key check: proves that a key unwrapped at login is this organisation's key.

Setup stores the check; every login verifies it, so an account carrying a key of someone
else's choosing (an account written straight into the database) opens nothing.

Version 2 of the check also says "every account carries a MAC" (services/keyring.py): it is
written once the accounts are stamped and never goes back, so a database writer cannot strip
the MACs and pass the accounts off as older than them (only restoring a copy of the check
from before the upgrade would, and making one needs the organisation key).

Version 3 also says "every account has a failed-login record under its MAC"
(services/throttle.py): from then on an account's missing record is an edit, never a
database from before the records, on every process, including one that logs in for the first
time.
"""

from __future__ import annotations

from alko_desk.security.crypto import derive_key, open_sealed, seal

KEY_CHECK_PLAINTEXT = b"alko-desk organisation key"
_PURPOSES = {
    1: "alko-desk/key-check/v1",
    2: "alko-desk/key-check/v2",
    3: "alko-desk/key-check/v3",
}
CURRENT = 3


def make_key_check(org_key: bytes, version: int = CURRENT) -> bytes:
    return seal(derive_key(org_key, _PURPOSES[version]), KEY_CHECK_PLAINTEXT, "key-check")


def key_check_version(organisation_doc: dict, org_key: bytes) -> int:
    """The version of the check `org_key` opens; 0 when it is not this organisation's key."""
    for version, purpose in sorted(_PURPOSES.items(), reverse=True):
        try:
            opened = open_sealed(
                derive_key(org_key, purpose), organisation_doc["key_check"], "key-check"
            )
        except Exception:  # noqa: BLE001, S112 - any failure means "not with this version"
            continue
        if opened == KEY_CHECK_PLAINTEXT:
            return version
    return 0


def org_key_matches(organisation_doc: dict, org_key: bytes) -> bool:
    return key_check_version(organisation_doc, org_key) > 0
