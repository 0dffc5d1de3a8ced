"""One throttle per account for every way of proving a password: login, the idle unlock,
re-confirmation and the current password of a password change (issue 8).

**One count, taken before the check.** An attempt is counted before its password is
checked, by a compare-and-set on the account's record (storage/revisions.py: a unique insert
claims the revision, atomic on FerretDB 1.24 too). Parallel attempts through any of the three
ways, on any process that shares the database, each meet the count the earlier ones left:
at most MAX_FAILURES passwords are checked before the lock, the one that makes the count
MAX_FAILURES writes the lock itself, and a right password clears it again.

**A MAC, so that a database edit cannot clear a lockout.** Each record carries a MAC
(security/crypto.py `record_mac`, the mechanism of the account MACs in services/keyring.py)
over its name, count, lock, lockout number and revision, under a key derived from the
organisation key for this purpose only (`throttle_mac_key`). Attempts are counted before
anyone has logged in, so that key has to be at hand without a login: it is learned at setup
and at every login and kept outside the database, in a private file of the data folder (the
desk's, or on a showroom the server's). It can forge throttle records and nothing else.
The organisation's key check at version 3 says every account has a record, so a missing one
is an edit on every process (security/key_check.py).
A record whose MAC does not match, an account's record that is gone, or a record older than
one this process has seen (a copy put back) is audited as `fraud.login_throttle_tampered`
and the account is locked for the longest lockout; an admin's unlock clears it.

**A process that never saw a login** (a new desk on a shared database, a new server folder)
has no key yet: it honours the locks the records show, cannot tell an edited record from a
genuine one, and counts its own failures in memory (they are not written, since a record
without a valid MAC would lock the account as tampered). Its first login makes it keyed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alko_desk.models.audit import AuditAction
from alko_desk.models.errors import AccountLocked
from alko_desk.security.crypto import mac_matches, record_mac, throttle_mac_key
from alko_desk.security.key_check import key_check_version, make_key_check
from alko_desk.services.audit import AuditLog
from alko_desk.services.clock import Clock
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.users_repo import LoginThrottleRepository

MAX_FAILURES = 5
FIRST_LOCKOUT = timedelta(minutes=1)
LONGEST_LOCKOUT = timedelta(hours=1)
KEY_FILE = "login-throttle-keys.json"
TAMPERED_MESSAGE = (
    "This account's record of failed sign-ins was changed outside ALKO Desk, so the account "
    "is locked for an hour. Ask an admin to check the audit log and unlock it."
)
_MAC_KIND = "login-throttle"
_FORCED_WRITE_TRIES = 16
_MEMORY_LIMIT = 10_000  # names counted in memory without a key; the oldest goes first


def locked_message(remaining: timedelta) -> str:
    minutes = max(1, round(remaining.total_seconds() / 60))
    return (
        f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask an admin to unlock the account."
    )


class ThrottleKey:
    """The throttle MAC key of one organisation's database, kept in a private file of the data
    folder (a JSON object: scope -> key), so that it is there before anyone logs in.

    The scope names the database and the organisation set up in it (`scope()` answers it
    once the organisation exists): the embedded database and a configured server share a
    database name, and a database set up again is another organisation, whose records a
    stale key would take for edits (and, rewriting them, spoil for every other desk)."""

    def __init__(self, path: Path, scope: Callable[[], str]) -> None:
        self._path = path
        self._scope_of = scope
        self._scope: str | None = None
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def _current_scope(self) -> str | None:
        if self._scope is None:
            scope = self._scope_of()
            if scope:  # none before setup: nothing to key yet
                self._scope = scope
                self._key = self._read(scope)
        return self._scope

    def _read(self, scope: str) -> bytes | None:
        try:
            value = json.loads(self._path.read_text(encoding="utf-8")).get(scope)
            return bytes.fromhex(value) if value else None
        except (OSError, ValueError, AttributeError):
            return None

    @property
    def key(self) -> bytes | None:
        with self._lock:
            self._current_scope()
            return self._key

    def learn(self, org_key: bytes) -> bool:
        """Takes the key from the organisation key (setup, a login). True if it was new here."""
        key = throttle_mac_key(org_key)
        with self._lock:
            scope = self._current_scope()
            if key == self._key or scope is None:
                return False
            self._key = key
            try:
                known = json.loads(self._path.read_text(encoding="utf-8"))
                known = known if isinstance(known, dict) else {}
            except (OSError, ValueError):
                known = {}
            known[scope] = key.hex()
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temp = self._path.with_suffix(".tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(known, out)
            os.replace(temp, self._path)
            return True


@dataclass(frozen=True)
class Attempt:
    """A counted attempt, before its password is checked."""

    throttle_id: str
    failures: int  # this one included
    lockouts_before: int
    lock: timedelta | None  # this attempt was the last allowed: failing it keeps this lock


class LoginThrottle:
    def __init__(
        self,
        repo: LoginThrottleRepository,
        organisation: OrganisationRepository,
        clock: Clock,
        key: ThrottleKey,
        audit: AuditLog,
    ) -> None:
        self._repo = repo
        self._org = organisation
        self._clock = clock
        self._key = key
        self._audit = audit
        self._seen: dict[str, int] = {}  # newest revision seen per account: a copy put back
        self._memory: dict[str, dict] = {}  # failures counted while this process has no key
        self._lock = threading.Lock()

    # -- an attempt ------------------------------------------------------------------------
    def begin(self, throttle_id: str, who: str, target: str, *, account: bool) -> Attempt:
        """Counts an attempt on `throttle_id`, or refuses it (AccountLocked) without a check.

        `account`: the name is an account, so its record must exist (deleting it is an edit)."""
        if self._key.key is None:
            return self._begin_in_memory(throttle_id, who, target)
        for _ in range(200):
            doc, state = self._verified(throttle_id, who, target, account)
            until = _lock_holding(state, self._clock.now())
            if until is not None:
                self._refuse(who, target, until)
            new, attempt = self._next(throttle_id, state)
            if self._write(throttle_id, doc, new):
                return attempt
        raise AccountLocked(locked_message(FIRST_LOCKOUT))  # never seen: endless contention

    def _begin_in_memory(self, throttle_id: str, who: str, target: str) -> Attempt:
        record = self._repo.find(throttle_id) or {}
        with self._lock:
            state = _stricter(self._memory.get(throttle_id) or {}, record)
            until = _lock_holding(state, self._clock.now())
            if until is None:
                new, attempt = self._next(throttle_id, state)
                if len(self._memory) >= _MEMORY_LIMIT:  # names sprayed at a keyless process
                    self._memory.pop(next(iter(self._memory)))
                self._memory[throttle_id] = new
                return attempt
        self._refuse(who, target, until)

    def _refuse(self, who: str, target: str, until: datetime):
        self._audit.record(who, AuditAction.LOGIN_REFUSED_LOCKED, target)
        raise AccountLocked(locked_message(until - self._clock.now()))

    def _next(self, throttle_id: str, state: dict) -> tuple[dict, Attempt]:
        """The state after one more attempt (the lock is not holding)."""
        now = self._clock.now()
        failures = int(state.get("failures", 0) or 0) + 1
        lockouts = int(state.get("lockouts", 0) or 0)
        if failures < MAX_FAILURES:
            new = {"failures": failures, "locked_until": None, "lockouts": lockouts}
            return new, Attempt(throttle_id, failures, lockouts, None)
        lock = min(FIRST_LOCKOUT * (2**lockouts), LONGEST_LOCKOUT)
        new = {"failures": 0, "locked_until": now + lock, "lockouts": lockouts + 1}
        return new, Attempt(throttle_id, failures, lockouts, lock)

    def failed(
        self,
        attempt: Attempt,
        who: str,
        target: str,
        *,
        kind: str = "login",
    ) -> None:
        """The attempt's password was wrong (it is counted already). Raises AccountLocked when
        it was the last allowed. `kind`: "login", "reauth" (a re-confirmation or the idle
        unlock) or "password_change" (the current password when changing it)."""
        self._audit.record(
            who,
            AuditAction.REAUTH_FAILED
            if kind == "reauth"
            else (
                AuditAction.PASSWORD_CHANGE_FAILED
                if kind == "password_change"
                else AuditAction.LOGIN_FAILED
            ),
            target,
            {"failures": attempt.failures},
        )
        if attempt.lock is not None:
            self._audit.record(
                "system",
                AuditAction.LOGIN_LOCKOUT,
                target,
                {"minutes": attempt.lock.total_seconds() / 60},
            )
            raise AccountLocked(locked_message(attempt.lock))

    def succeeded(self, attempt: Attempt, *, keep_lockouts: bool = False) -> None:
        """The password was right: the count (and a lock this attempt set) is cleared."""
        lockouts = attempt.lockouts_before if keep_lockouts else 0
        self._clear(attempt.throttle_id, lockouts)

    # -- admins and setup ------------------------------------------------------------------
    def learn(self, org_key: bytes) -> None:
        """Takes the key from a session's organisation key (a re-confirmation, an admin)."""
        if self._key.learn(org_key):
            with self._lock:
                self._memory.clear()

    def upgrade(
        self, org_key: bytes, org_doc: dict, usernames: Callable[[], Iterable[str]]
    ) -> None:
        """At a login: the key, and on a database from before these records (key check below
        version 3) a record for every account that has none, then the version 3 check that
        says every account has one. A version 1 database gets its check from the account MACs'
        upgrade (services/keyring.py), which follows at the same login."""
        self.learn(org_key)
        version = key_check_version(org_doc, org_key)
        if version >= 3:
            return
        accounts = set(usernames())
        for name in sorted(accounts | self._repo.known_ids()):
            doc = self._repo.find(name)
            if doc is None:
                if name in accounts:
                    self._write(name, None, _clear_state(0))
            elif "mac" not in doc:  # the former, unsigned counter: its state, signed
                self._force(name, _former_state(doc))
        if version == 2:
            self._org.set_key_check(make_key_check(org_key, version=3))

    def add_account(self, username: str, org_key: bytes) -> None:
        """A new account's record (it must exist from the start: see `begin`)."""
        self.learn(org_key)
        self._clear(username, 0)

    def reset(self, username: str, org_key: bytes) -> None:
        """An admin's unlock (or password reset): a clean record, whatever the one there says."""
        self.learn(org_key)
        self._clear(username, 0)

    def locked_until(self, throttle_id: str) -> datetime | None:
        """Until when the name is locked, for the Users page (an edited record: locked)."""
        key = self._key.key
        doc = self._repo.find(throttle_id)
        now = self._clock.now()
        if key is not None and not self._intact(key, throttle_id, doc, account=True):
            return now + LONGEST_LOCKOUT
        state = doc or self._memory.get(throttle_id) or {}
        until = state.get("locked_until")
        return until if until and until > now else None

    # -- the record ------------------------------------------------------------------------
    def _verified(
        self, throttle_id: str, who: str, target: str, account: bool
    ) -> tuple[dict | None, dict]:
        """(the record, the state to go by). An edited record is audited, locked and refused."""
        key = self._key.key
        doc = self._repo.find(throttle_id)
        if self._intact(key, throttle_id, doc, account):
            return doc, doc or {}
        self._audit.record(
            "system",
            AuditAction.FRAUD_LOGIN_THROTTLE_TAMPERED,
            target,
            {"record": "missing" if doc is None else "edited"},
        )
        lockouts = max(int((doc or {}).get("lockouts", 0) or 0), 0)
        until = self._clock.now() + LONGEST_LOCKOUT
        self._force(
            throttle_id,
            {"failures": 0, "locked_until": until, "lockouts": lockouts + 1},
        )
        self._audit.record(who, AuditAction.LOGIN_REFUSED_LOCKED, target, {"tampered": True})
        raise AccountLocked(TAMPERED_MESSAGE)

    def _intact(self, key: bytes, throttle_id: str, doc: dict | None, account: bool) -> bool:
        if doc is None:
            return not account
        rev = int(doc.get("rev", 0))
        if rev < self._seen.get(throttle_id, 0):
            return False  # an older record put back
        if not mac_matches(key, _MAC_KIND, _mac_fields(throttle_id, doc), doc.get("mac")):
            return False
        if account:
            self._remember(throttle_id, rev)
        return True

    def _remember(self, throttle_id: str, rev: int) -> None:
        with self._lock:
            if rev > self._seen.get(throttle_id, 0):
                self._seen[throttle_id] = rev

    def _write(self, throttle_id: str, doc: dict | None, new: dict) -> bool:
        """Compare-and-set of the next state over `doc` (None: there is none yet)."""
        rev = int((doc or {}).get("rev", 0) or 0)
        record = self._record(self._key.key, throttle_id, rev + 1, new)
        if not self._repo.replace_if(record, rev):
            return False
        self._remember(throttle_id, rev + 1)
        return True

    def _force(self, throttle_id: str, new: dict) -> None:
        """Writes `new` whatever the record says (an admin's reset, a right password, the lock
        of an edited record), still by compare-and-set so that it lands after writes in flight.
        A copy put back leaves claims of later revisions behind: after a few tries the
        revision jumps past them."""
        key = self._key.key
        if key is None:
            with self._lock:
                if new.get("locked_until"):
                    self._memory[throttle_id] = new
                else:
                    self._memory.pop(throttle_id, None)
            return
        for step in range(_FORCED_WRITE_TRIES):
            doc = self._repo.find(throttle_id) or {}
            rev = max(int(doc.get("rev", 0) or 0), self._seen.get(throttle_id, 0))
            rev += 0 if step < 4 else 2**step
            if self._repo.replace_if(self._record(key, throttle_id, rev + 1, new), rev):
                self._remember(throttle_id, rev + 1)
                return

    def _clear(self, throttle_id: str, lockouts: int) -> None:
        self._force(throttle_id, _clear_state(lockouts))
        with self._lock:
            self._memory.pop(throttle_id, None)

    @staticmethod
    def _record(key: bytes, throttle_id: str, rev: int, state: dict) -> dict:
        doc = {"_id": throttle_id, **state, "rev": rev}
        return {**doc, "mac": record_mac(key, _MAC_KIND, _mac_fields(throttle_id, doc))}


def _former_state(doc: dict) -> dict:
    """What a counter written before these records were signed says (a lock it holds stays)."""
    return {
        "failures": int(doc.get("failures", 0) or 0),
        "locked_until": doc.get("locked_until"),
        "lockouts": int(doc.get("lockouts", 0) or 0),
    }


def _clear_state(lockouts: int) -> dict:
    return {"failures": 0, "locked_until": None, "lockouts": lockouts}


def _lock_holding(state: dict, now: datetime) -> datetime | None:
    until = state.get("locked_until")
    return until if until and until > now else None


def _mac_fields(throttle_id: str, doc: dict) -> dict:
    return {
        "id": throttle_id,
        "failures": int(doc.get("failures", 0) or 0),
        "locked_until": doc.get("locked_until"),
        "lockouts": int(doc.get("lockouts", 0) or 0),
        "rev": int(doc.get("rev", 0) or 0),
    }


def _stricter(memory: dict, record: dict) -> dict:
    """Without the key: the memory's count, and the later of the two locks."""
    until = max(
        (u for u in (memory.get("locked_until"), record.get("locked_until")) if u), default=None
    )
    return {**memory, "locked_until": until}
