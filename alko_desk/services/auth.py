"""Login, lockout, password changes and re-confirmation of the password."""

from __future__ import annotations

import uuid
from datetime import timedelta

from alko_desk.models.errors import (
    AccountLocked,
    AuthenticationError,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.users import Session, User
from alko_desk.security import passwords
from alko_desk.security.crypto import open_sealed, seal
from alko_desk.services.audit import AuditLog
from alko_desk.services.clock import Clock
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.users_repo import LoginThrottleRepository, UserRepository, user_from_doc

MAX_FAILURES = 5
FIRST_LOCKOUT = timedelta(minutes=1)
LONGEST_LOCKOUT = timedelta(hours=1)
WRONG_CREDENTIALS = "The username or password is not right. Check them and try again."


def normalize_username(username: str) -> str:
    return username.strip().casefold()


def wrap_org_key(org_key: bytes, account_key: bytes, username: str) -> bytes:
    return seal(account_key, org_key, f"org-key:{username}")


def account_secrets(password: str, org_key: bytes, username: str) -> dict:
    """What an account stores: its password hash and the organisation key wrapped for it."""
    hashed, account_key = passwords.hash_password(password)
    return {
        "password": hashed.to_doc(),
        "org_key_wrapped": wrap_org_key(org_key, account_key, username),
    }


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        throttle: LoginThrottleRepository,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._users = users
        self._throttle = throttle
        self._org = organisation
        self._audit = audit
        self._clock = clock

    def login(self, username: str, password: str) -> Session:
        name = normalize_username(username)
        if not name or not password:
            raise AuthenticationError("Enter your username and password.")
        return self._login(name, password)

    def _login(self, name: str, password: str) -> Session:
        now = self._clock.now()
        state = self._throttle.get(name)
        locked_until = state.get("locked_until")
        if locked_until and locked_until > now:
            self._audit.record(name, "login.refused_locked", f"user:{name}")
            raise AccountLocked(_locked_message(locked_until - now))
        doc = self._users.get_doc(name)
        account_key = None
        if doc is None:
            passwords.burn_time_like_a_verify()
        else:
            account_key = passwords.verify_password(
                password, passwords.PasswordHash.from_doc(doc["password"])
            )
        if account_key is None:
            self._fail(name, state)
            raise AuthenticationError(WRONG_CREDENTIALS)
        if not doc.get("active", True):
            self._audit.record(name, "login.refused_disabled", f"user:{name}")
            raise AuthenticationError("This account is disabled. Ask an admin to re-enable it.")
        org_key = self._unwrap_org_key(doc, account_key, name)
        self._throttle.reset(name)
        self._users.update(name, {"last_login_at": now})
        session = Session(
            user=_user(doc), org_key=org_key, authenticated_at=now, session_id=uuid.uuid4().hex
        )
        self._audit.record(name, "login", f"user:{name}", {"session": session.session_id})
        return session

    def _unwrap_org_key(self, doc: dict, account_key: bytes, name: str) -> bytes:
        try:
            org_key = open_sealed(account_key, doc["org_key_wrapped"], f"org-key:{name}")
        except (UnreadableRecord, KeyError):
            self._audit.record(name, "login.key_unreadable", f"user:{name}")
            raise AuthenticationError(
                "Your password is right, but this account's copy of the organisation key cannot be opened.",
                hint="Ask an admin to reset your password.",
            ) from None
        return org_key

    def _fail(self, name: str, state: dict) -> None:
        after = self._throttle.record_failure(name)
        self._audit.record(name, "login.failed", f"user:{name}", {"failures": after["failures"]})
        if after["failures"] >= MAX_FAILURES:
            lockouts = int(state.get("lockouts", 0)) + 1
            delay = min(FIRST_LOCKOUT * (2 ** (lockouts - 1)), LONGEST_LOCKOUT)
            until = self._clock.now() + delay
            self._throttle.lock(name, until, lockouts)
            self._audit.record(
                "system", "login.lockout", f"user:{name}", {"minutes": delay.total_seconds() / 60}
            )
            raise AccountLocked(_locked_message(delay))

    def confirm_password(self, session: Session, password: str) -> None:
        """Proves the password again for a sensitive action or to unlock an idle desk."""
        doc = self._users.get_doc(session.user.username)
        if (
            doc is None
            or passwords.verify_password(password, passwords.PasswordHash.from_doc(doc["password"]))
            is None
        ):
            self._audit.record(
                session.user.username, "reauth.failed", f"user:{session.user.username}"
            )
            raise AuthenticationError("That password is not right.")
        session.authenticated_at = self._clock.now()
        self._audit.record(session.user.username, "reauth", f"user:{session.user.username}")

    def change_password(self, session: Session, current: str, new: str) -> Session:
        name = session.user.username
        doc = self._users.get_doc(name)
        if (
            doc is None
            or passwords.verify_password(current, passwords.PasswordHash.from_doc(doc["password"]))
            is None
        ):
            self._audit.record(name, "password.change_failed", f"user:{name}")
            raise AuthenticationError("Your current password is not right.")
        if new == current:
            raise ValidationError(
                "Choose a password different from the current one.",
                {"new": "Same as the current password."},
            )
        self._check_policy(new, name)
        self._users.update(
            name, {**account_secrets(new, session.org_key, name), "must_change_password": False}
        )
        self._audit.record(name, "password.changed", f"user:{name}")
        user = _user(self._users.get_doc(name))
        return Session(
            user=user,
            org_key=session.org_key,
            authenticated_at=self._clock.now(),
            session_id=session.session_id,
        )

    def _check_policy(self, password: str, username: str) -> None:
        profile = self._org.profile()
        problem = passwords.password_problem(
            password, username=username, company_name=profile.name if profile else ""
        )
        if problem:
            raise ValidationError(problem, {"new": problem})

    def logout(self, session: Session, reason: str = "logout") -> None:
        try:
            self._audit.record(
                session.user.username,
                reason,
                f"user:{session.user.username}",
                {"session": session.session_id},
            )
        except Exception:  # noqa: BLE001 - logging out must work with the database gone
            pass


def _locked_message(remaining: timedelta) -> str:
    minutes = max(1, round(remaining.total_seconds() / 60))
    return (
        f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask an admin to unlock the account."
    )


def _user(doc: dict) -> User:
    return user_from_doc(doc)
