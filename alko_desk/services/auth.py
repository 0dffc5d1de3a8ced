"""Login, lockout, password changes and re-confirmation of the password."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from alko_desk.models.audit import AuditAction
from alko_desk.models.errors import (
    AuthenticationError,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.users import Session, User
from alko_desk.security import passwords
from alko_desk.security.crypto import generate_keypair, open_sealed, seal
from alko_desk.security.key_check import org_key_matches
from alko_desk.services.audit import AuditLog
from alko_desk.services.clock import Clock
from alko_desk.services.keyring import Keyring, account_intact, new_account_keys, stamped
from alko_desk.services.throttle import LoginThrottle
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.users_repo import UserRepository, user_from_doc

WRONG_CREDENTIALS = "The username or password is not right. Check them and try again."
# Who a failed login by a name that is no account is attributed to. What was typed is never
# stored (it may be a password typed into the wrong field): only a keyed hash of it, so that
# repeated guesses at one name are still counted and locked out.
UNKNOWN_USER = "unknown user"


def normalize_username(username: str) -> str:
    return username.strip().casefold()


def wrap_org_key(org_key: bytes, account_key: bytes, username: str) -> bytes:
    return seal(account_key, org_key, f"org-key:{username}")


def account_secrets(
    password: str,
    org_key: bytes,
    username: str,
    hasher: passwords.PasswordHasher | None = None,
    private: bytes | None = None,
) -> dict:
    """What an account stores: its password hash, the organisation key wrapped for it and its
    key pair (services/keyring.py; `private` keeps the pair, and so its grants, on a change of
    password). A new pair has no grants: "grants" is emptied with it."""
    hashed, account_key = (hasher or passwords.PasswordHasher()).hash(password)
    secrets = {
        "password": hashed.to_doc(),
        "org_key_wrapped": wrap_org_key(org_key, account_key, username),
        **new_account_keys(account_key, username, private),
    }
    if private is None:
        secrets["grants"] = {}
    return secrets


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        throttle: LoginThrottle,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
        hasher: passwords.PasswordHasher | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self._users = users
        self._keyring = keyring or Keyring(users, organisation, audit)
        self._throttle = throttle
        self._org = organisation
        self._audit = audit
        self._clock = clock
        self._hasher = hasher or passwords.PasswordHasher()
        self._process_name_key = os.urandom(32)  # only before setup, when no account exists

    def login(self, username: str, password: str) -> Session:
        name = normalize_username(username)
        if not name or not password:
            raise AuthenticationError("Enter your username and password.")
        return self._login(name, password)

    def _login(self, name: str, password: str) -> Session:
        doc = self._users.get_doc(name)
        org_doc = self._org.get()
        # An existing account is throttled and audited by its name; anything else by a keyed
        # hash of what was typed, never the text itself.
        who, throttle_id = (
            (name, name) if doc is not None else (UNKNOWN_USER, self._unknown_id(name, org_doc))
        )
        target = f"user:{name}" if doc is not None else throttle_id
        # counted before the check: parallel guesses each meet the count (services/throttle.py)
        attempt = self._throttle.begin(throttle_id, who, target, account=doc is not None)
        account_key = None
        if doc is None:
            self._hasher.burn_time_like_a_verify()
        else:
            account_key = self._hasher.verify(
                password, passwords.PasswordHash.from_doc(doc["password"])
            )
        if account_key is None:
            self._throttle.failed(attempt, who, target)
            raise AuthenticationError(WRONG_CREDENTIALS)
        org_key = self._unwrap_org_key(doc, account_key, name)
        if org_doc is None or not org_key_matches(org_doc, org_key):
            # An account whose key is not the organisation's was not made by this app: one
            # written straight into the database, with a key its author chose.
            self._audit.record(name, AuditAction.LOGIN_KEY_MISMATCH, target)
            raise AuthenticationError(
                "Your password is right, but this account does not hold this organisation's key, "
                "so ALKO Desk will not open with it.",
                hint="Ask an admin to check this account, and to reset its password if it is genuine.",
            )
        self._throttle.upgrade(org_key, org_doc, self._usernames)
        self._throttle.succeeded(attempt)  # the password is right: the count is of guesses
        if self._keyring.ensure_integrity(org_key, org_doc):
            doc = self._users.get_doc(name) or doc
        if not account_intact(org_key, doc):
            # role, active flag or key pair edited in the database: refused, not trusted
            self._audit.record(name, AuditAction.LOGIN_ACCOUNT_TAMPERED, target)
            raise AuthenticationError(
                "This account was changed outside ALKO Desk, so it cannot be used.",
                hint="Ask an admin to check the account and the audit log.",
            )
        if not doc.get("active", True):
            self._audit.record(name, AuditAction.LOGIN_REFUSED_DISABLED, target)
            raise AuthenticationError("This account is disabled. Ask an admin to re-enable it.")
        private, tier_keys = self._keyring.open_account(doc, account_key, org_key)
        now = self._clock.now()
        self._users.update(name, {"last_login_at": now})
        session = Session(
            user=_user(doc),
            org_key=org_key,
            authenticated_at=now,
            session_id=uuid.uuid4().hex,
            tier_keys=tier_keys,
            account_private=private,
        )
        self._audit.record(name, AuditAction.LOGIN, target, {"session": session.session_id})
        self._keyring.start(session)
        return session

    def _unknown_id(self, name: str, org_doc: dict | None) -> str:
        if org_doc is None:
            key = self._process_name_key
        else:
            key = bytes(org_doc.get("login_name_key") or self._org.login_name_key())
        digest = hmac.new(key, name.encode("utf-8"), hashlib.sha256).hexdigest()[:20]
        return f"unknown:{digest}"

    def _unwrap_org_key(self, doc: dict, account_key: bytes, name: str) -> bytes:
        try:
            org_key = open_sealed(account_key, doc["org_key_wrapped"], f"org-key:{name}")
        except (UnreadableRecord, KeyError):
            self._audit.record(name, AuditAction.LOGIN_KEY_UNREADABLE, f"user:{name}")
            raise AuthenticationError(
                "Your password is right, but this account's copy of the organisation key cannot be opened.",
                hint="Ask an admin to reset your password.",
            ) from None
        return org_key

    def _check_own_password(
        self, session: Session, doc: dict | None, password: str, *, kind: str, wrong: str
    ) -> None:
        """A logged-in user's password proved again, counted on their throttle record like a
        login (`kind` names the attempt in the audit log); AuthenticationError(`wrong`)."""
        name = session.user.username
        target = f"user:{name}"
        if session.org_key:
            self._throttle.learn(session.org_key)
        attempt = self._throttle.begin(name, name, target, account=doc is not None)
        stored = passwords.PasswordHash.from_doc(doc["password"]) if doc is not None else None
        if stored is None or self._hasher.verify(password, stored) is None:
            self._throttle.failed(attempt, name, target, kind=kind)
            raise AuthenticationError(wrong)
        self._throttle.succeeded(attempt, keep_lockouts=True)

    def _usernames(self) -> list[str]:
        return [d["_id"] for d in self._users.all_docs()]

    def confirm_password(self, session: Session, password: str) -> None:
        """Proves the password again for a sensitive action or to unlock an idle desk.

        Throttled like login, on the same record (services/throttle.py): wrong passwords here
        and at the login window add up, and the fifth locks the account (the unlock too) for a
        while."""
        name = session.user.username
        target = f"user:{name}"
        doc = self._users.get_doc(name)
        if doc is not None and not doc.get("active", True):
            self._audit.record(name, AuditAction.LOGIN_REFUSED_DISABLED, target)
            raise AuthenticationError("This account is disabled. Ask an admin to re-enable it.")
        self._check_own_password(
            session, doc, password, kind="reauth", wrong="That password is not right."
        )
        session.authenticated_at = self._clock.now()
        self._audit.record(name, AuditAction.REAUTH, target)

    def change_password(self, session: Session, current: str, new: str) -> Session:
        name = session.user.username
        doc = self._users.get_doc(name)
        # the current password is a guess like any other: the same throttle as login
        self._check_own_password(
            session,
            doc,
            current,
            kind="password_change",
            wrong="Your current password is not right.",
        )
        if new == current:
            raise ValidationError(
                "Choose a password different from the current one.",
                {"new": "Same as the current password."},
            )
        self._check_policy(new, name)
        # Leaving a temporary password (which an admin chose): a new key pair, so that nothing
        # sealed to the old one, which that password opens, reaches this account any more.
        private = session.account_private or None
        if doc.get("must_change_password") or private is None:
            private = generate_keypair()[0]
        changes = {
            **account_secrets(new, session.org_key, name, self._hasher, private),
            "must_change_password": False,
        }
        if private != session.account_private:
            changes["grants"] = {}
        self._users.update(name, stamped(session.org_key, doc, changes))
        self._audit.record(name, AuditAction.PASSWORD_CHANGED, f"user:{name}")
        user = _user(self._users.get_doc(name))
        renewed = Session(
            user=user,
            org_key=session.org_key,
            authenticated_at=self._clock.now(),
            session_id=session.session_id,
            tier_keys=dict(session.tier_keys),
            account_private=private,
        )
        if private != session.account_private:
            self._keyring.regrant(renewed)
        self._keyring.start(renewed)
        return renewed

    def _check_policy(self, password: str, username: str) -> None:
        profile = self._org.profile()
        problem = passwords.password_problem(
            password, username=username, company_name=profile.name if profile else ""
        )
        if problem:
            raise ValidationError(problem, {"new": problem})

    def logout(self, session: Session, reason: str = AuditAction.LOGOUT) -> None:
        reason = AuditAction(reason)  # outside the try: an unknown reason is a programming error
        self._keyring.forget(session)
        try:
            self._audit.record(
                session.user.username,
                reason,
                f"user:{session.user.username}",
                {"session": session.session_id},
            )
        except Exception:  # noqa: BLE001 - logging out must work with the database gone
            pass


def _user(doc: dict) -> User:
    return user_from_doc(doc)
