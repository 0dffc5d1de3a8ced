"""Argon2id password hashing and the password policy (NIST SP 800-63B-4, single factor).

One Argon2id run per login yields 64 bytes: the first half is stored as the
verifier, the second half is the key that unwraps the organisation key for this
account. The two halves are independent, so the verifier reveals nothing of the key.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from alko_desk import resources

MIN_LENGTH = 15
MAX_LENGTH = 128


@dataclass(frozen=True)
class HashCost:
    """Argon2id cost: memory in KiB, passes over it, parallel lanes."""

    memory_kib: int
    iterations: int
    lanes: int

    def as_params(self) -> dict:
        return asdict(self)


# Above OWASP's minimum (19 MiB, t=2, p=1): RFC 9106's second recommendation, ~110 ms here.
# The composition root (bootstrap.AppContext) uses this unless told otherwise; only tests
# pass a cheaper cost, and a test checks that the app builds this one by default.
PRODUCTION_COST = HashCost(memory_kib=65536, iterations=3, lanes=4)
DEFAULT_PARAMS = PRODUCTION_COST.as_params()


@dataclass(frozen=True)
class PasswordHash:
    salt: bytes
    verifier: bytes
    params: dict

    def to_doc(self) -> dict:
        return {"alg": "argon2id", "salt": self.salt, "verifier": self.verifier, **self.params}

    @classmethod
    def from_doc(cls, doc: dict) -> PasswordHash:
        params = {k: doc[k] for k in ("memory_kib", "iterations", "lanes")}
        return cls(salt=bytes(doc["salt"]), verifier=bytes(doc["verifier"]), params=params)


# One Argon2id run at a time in a process: with more than one lane, two runs at once in
# different threads never return with cryptography 50 / OpenSSL 4.0 (measured: two threads
# verifying at the production cost, lanes=4, were still running after 20 s; one run takes
# 0.4 s), or fail with MemoryError. The showroom server checks passwords from a thread pool.
_ARGON2_ONE_AT_A_TIME = threading.Lock()


def _derive(password: str, salt: bytes, params: dict) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=64,
        iterations=params["iterations"],
        lanes=params["lanes"],
        memory_cost=params["memory_kib"],
    )
    secret = unicodedata.normalize("NFKC", password).encode("utf-8")
    with _ARGON2_ONE_AT_A_TIME:
        return kdf.derive(secret)


def hash_password(password: str, params: dict | None = None) -> tuple[PasswordHash, bytes]:
    """Returns the stored hash and the account key (never stored)."""
    params = dict(params or DEFAULT_PARAMS)
    salt = os.urandom(16)
    out = _derive(password, salt, params)
    return PasswordHash(salt=salt, verifier=out[:32], params=params), out[32:]


def verify_password(password: str, stored: PasswordHash) -> bytes | None:
    """The account key when the password matches, else None (constant-time compare)."""
    out = _derive(password, stored.salt, stored.params)
    if hmac.compare_digest(out[:32], stored.verifier):
        return out[32:]
    return None


def burn_time_like_a_verify(cost: HashCost = PRODUCTION_COST) -> None:
    """Spend one Argon2id run so that an unknown username costs as long as a known one."""
    _derive("not a password", b"\0" * 16, cost.as_params())


class PasswordHasher:
    """Hashes new passwords at one cost; verifies stored hashes at the cost they were made with.

    Built once by the composition root and handed to the services that hash passwords.
    """

    def __init__(self, cost: HashCost = PRODUCTION_COST) -> None:
        self.cost = cost

    def hash(self, password: str) -> tuple[PasswordHash, bytes]:
        return hash_password(password, self.cost.as_params())

    def verify(self, password: str, stored: PasswordHash) -> bytes | None:
        return verify_password(password, stored)

    def burn_time_like_a_verify(self) -> None:
        burn_time_like_a_verify(self.cost)


@lru_cache(maxsize=1)
def _blocklist() -> frozenset[str]:
    """The blocked passwords folded exactly as a candidate is (`_fold`), so that "p@ssw0rd" on
    the list also blocks "P@ssw0rd2026!!!!", which folds to "pssw0rd2026"."""
    words: set[str] = set()
    try:
        from zxcvbn.frequency_lists import FREQUENCY_LISTS

        words.update(FREQUENCY_LISTS["passwords"])
    except ImportError:  # pragma: no cover - zxcvbn is a declared dependency
        pass
    text = resources.read_text("blocked-passwords.txt")
    words.update(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    folded = (_fold(word) for word in words)
    return frozenset(word for word in folded if word)


def _fold(text: str) -> str:
    return re.sub(r"[^0-9a-z\u0400-\u04ff]", "", unicodedata.normalize("NFKC", text).casefold())


def password_problem(password: str, *, username: str = "", company_name: str = "") -> str | None:
    """Why this password cannot be used, or None. No composition rules, by design."""
    length = len(password)
    if length < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters (you typed {length}). A short sentence works well."
    if length > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    folded = _fold(password)
    if len(set(folded)) <= 3:
        return "This password repeats too few characters. Choose something less predictable."
    if _is_sequence(folded):
        return "This password is a simple sequence. Choose something less predictable."
    blocked = _blocklist()
    stripped = re.sub(r"[0-9]+$", "", folded)
    if folded in blocked or stripped in blocked or _is_repeat_of_blocked(folded, blocked):
        return "This password is on a list of common or breached passwords. Choose another."
    context = [w for w in (_fold(username), _fold(company_name), *_DEALERSHIP_WORDS) if len(w) >= 3]
    remainder = folded
    for word in context:
        remainder = remainder.replace(word, "")
    if remainder != folded and len(remainder) < 8:
        return "This password is mostly your username or the dealership's name. Choose another."
    return None


_DEALERSHIP_WORDS = ("alkocars", "alkodesk", "alko", "dealership", "showroom")


_RUNS = (
    "1234567890" * 4,
    "qwertyuiopasdfghjklzxcvbnm" * 2,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p" * 2,
    "qazwsxedcrfvtgbyhnujmikolp" * 2,
)


def _is_sequence(text: str) -> bool:
    if len(text) < 2:
        return True
    if any(text in run or text[::-1] in run for run in _RUNS):
        return True
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return len(steps) == 1 and steps.pop() in (-1, 0, 1)


def _is_repeat_of_blocked(text: str, blocked: frozenset[str]) -> bool:
    for size in range(1, len(text) // 2 + 1):
        unit = text[:size]
        if len(text) % size == 0 and unit * (len(text) // size) == text:
            return unit in blocked or len(unit) < 4
    return False
