"""Staff account administration (admins only)."""

from __future__ import annotations

import re
from dataclasses import replace

from alko_desk.models.audit import AuditAction
from alko_desk.models.changes import ChangeKind
from alko_desk.models.errors import NotFound, ValidationError
from alko_desk.models.users import Permission, Role, Session, User
from alko_desk.security import passwords
from alko_desk.services.account_validation import account_problems
from alko_desk.services.audit import AuditLog
from alko_desk.services.auth import account_secrets, normalize_username
from alko_desk.services.base import SessionService
from alko_desk.services.changes import ChangeLog
from alko_desk.services.clock import Clock
from alko_desk.services.keyring import grants_dropped_by, stamp_new_account, stamped
from alko_desk.services.throttle import LoginThrottle
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.users_repo import UserRepository

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
ENTITY = "users"  # in change announcements: open Users pages refresh


class UserAdminService(SessionService):
    def __init__(
        self,
        users: UserRepository,
        throttle: LoginThrottle,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        hasher: passwords.PasswordHasher | None = None,
        changes: ChangeLog | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._users = users
        self._changes = changes
        self._throttle = throttle
        self._org = organisation
        self._hasher = hasher or passwords.PasswordHasher()

    def list_users(self) -> list[User]:
        self._require(Permission.USER_ADMIN, "list staff accounts")
        return [
            replace(
                u,
                locked_until=self._throttle.locked_until(u.username),
            )
            for u in self._users.list()
        ]

    def create_user(
        self, username: str, full_name: str, role: Role, temporary_password: str
    ) -> User:
        self._require(Permission.USER_ADMIN, "create staff accounts")
        if role is Role.ADMIN:
            self._require_recent_password()
        name = normalize_username(username)
        errors = account_problems(username, full_name)
        problem = self._password_problem(temporary_password, name)
        if problem:
            errors["password"] = problem
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        user = User(
            username=name,
            full_name=full_name.strip(),
            role=role,
            active=True,
            must_change_password=True,
            created_at=self._clock.now(),
        )
        secrets = account_secrets(temporary_password, self._session.org_key, name, self._hasher)
        self._users.insert(user, stamp_new_account(self._session.org_key, user, secrets))
        self._throttle.add_account(name, self._session.org_key)
        self._audit.record(
            self.actor, AuditAction.USER_CREATED, f"user:{name}", {"role": role.value}
        )
        self._announce(ChangeKind.ADDED, name)
        return user

    def set_active(self, username: str, active: bool) -> None:
        self._require(Permission.USER_ADMIN, "disable or enable staff accounts")
        self._require_recent_password()
        target = self._existing(username)
        if target.username == self.actor and not active:
            raise ValidationError("You cannot disable your own account.")
        self._restamp(target.username, {"active": active})
        if not active:  # a copy of the database and the old password open nothing new
            self._users.unset(target.username, grants_dropped_by(None))
        self._audit.record(
            self.actor,
            AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
            f"user:{target.username}",
        )
        self._announce(ChangeKind.UPDATED, target.username)

    def reset_password(self, username: str, temporary_password: str) -> None:
        self._require(Permission.USER_ADMIN, "reset passwords")
        self._require_recent_password()
        target = self._existing(username)
        problem = self._password_problem(temporary_password, target.username)
        if problem:
            raise ValidationError(problem, {"password": problem})
        # A new key pair without grants: the admin chose this password, so what the account
        # held stays closed to it until a colleague who holds the keys hands them over.
        self._restamp(
            target.username,
            {
                **account_secrets(
                    temporary_password, self._session.org_key, target.username, self._hasher
                ),
                "must_change_password": True,
            },
        )
        self._throttle.reset(target.username, self._session.org_key)
        self._audit.record(self.actor, AuditAction.USER_PASSWORD_RESET, f"user:{target.username}")
        self._announce(ChangeKind.UPDATED, target.username)

    def change_role(self, username: str, role: Role) -> None:
        self._require(Permission.USER_ADMIN, "change roles")
        self._require_recent_password()
        target = self._existing(username)
        if target.username == self.actor and role is not Role.ADMIN:
            raise ValidationError(
                "You cannot take the admin role from yourself; ask another admin."
            )
        self._restamp(target.username, {"role": role.value})
        self._users.unset(target.username, grants_dropped_by(role))
        self._audit.record(
            self.actor,
            AuditAction.USER_ROLE_CHANGED,
            f"user:{target.username}",
            {"from": target.role.value, "to": role.value},
        )
        self._announce(ChangeKind.UPDATED, target.username)

    def unlock(self, username: str) -> None:
        self._require(Permission.USER_ADMIN, "unlock accounts")
        self._require_recent_password()
        self._existing(
            username
        )  # "can log in again" would be untrue of an account that is not there
        name = normalize_username(username)
        self._throttle.reset(name, self._session.org_key)
        self._audit.record(self.actor, AuditAction.USER_UNLOCKED, f"user:{name}")
        self._announce(ChangeKind.UPDATED, name)

    def _announce(self, kind: ChangeKind, username: str) -> None:
        """Tells open Users pages, on this desk and others, that an account changed."""
        if self._changes is not None:
            self._changes.announce(ENTITY, kind, (username,))

    def _restamp(self, username: str, changes: dict) -> None:
        """Writes `changes` with the account's new MAC (services/keyring.py)."""
        doc = self._users.get_doc(username) or {"_id": username}
        self._users.update(username, stamped(self._session.org_key, doc, changes))

    def _existing(self, username: str) -> User:
        user = self._users.get(normalize_username(username))
        if user is None:
            raise NotFound(f"There is no account named “{username}”.")
        return user

    def _password_problem(self, password: str, username: str) -> str | None:
        profile = self._org.profile()
        return passwords.password_problem(
            password, username=username, company_name=profile.name if profile else ""
        )
