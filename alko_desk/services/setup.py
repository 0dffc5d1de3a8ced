"""First start on an empty database: the company's details and the first admin."""

from __future__ import annotations

import os
import uuid

from alko_desk import PRIVACY_POLICY_VERSION
from alko_desk.models.audit import AuditAction
from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import ValidationError
from alko_desk.models.users import Role, User
from alko_desk.security import passwords
from alko_desk.security.crypto import new_key
from alko_desk.security.key_check import KEY_CHECK_PLAINTEXT, make_key_check, org_key_matches
from alko_desk.services.audit import AuditLog
from alko_desk.services.auth import account_secrets, normalize_username
from alko_desk.services.clock import Clock
from alko_desk.services.company_validation import validate_profile
from alko_desk.services.keyring import stamp_new_account
from alko_desk.services.throttle import LoginThrottle
from alko_desk.services.users import USERNAME_RE
from alko_desk.storage.organisation_repo import OrganisationRepository, profile_to_doc
from alko_desk.storage.users_repo import UserRepository

__all__ = ["KEY_CHECK_PLAINTEXT", "SetupService", "org_key_matches", "validate_profile"]


class SetupService:
    def __init__(
        self,
        organisation: OrganisationRepository,
        users: UserRepository,
        audit: AuditLog,
        clock: Clock,
        hasher: passwords.PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._throttle = throttle
        self._org = organisation
        self._users = users
        self._audit = audit
        self._clock = clock
        self._hasher = hasher or passwords.PasswordHasher()

    def is_set_up(self) -> bool:
        return self._org.get() is not None

    def initialize(
        self,
        profile: CompanyProfile,
        admin_username: str,
        admin_full_name: str,
        admin_password: str,
    ) -> User:
        name = normalize_username(admin_username)
        errors = validate_profile(profile)
        if not USERNAME_RE.match(name):
            errors["username"] = "2–32 letters, digits, dots, dashes or underscores."
        if not admin_full_name.strip():
            errors["full_name"] = "Enter the admin's full name."
        problem = passwords.password_problem(
            admin_password, username=name, company_name=profile.name
        )
        if problem:
            errors["password"] = problem
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        org_key = new_key()
        now = self._clock.now()
        self._org.create(
            {
                "org_id": uuid.uuid4().hex,
                "profile": profile_to_doc(profile),
                # version 3 says every account has a failed-login record: only with the throttle
                "key_check": make_key_check(org_key, version=3 if self._throttle else 2),
                "login_name_key": os.urandom(32),
                "policy_version": PRIVACY_POLICY_VERSION,
                "created_at": now,
            }
        )
        admin = User(
            username=name, full_name=admin_full_name.strip(), role=Role.ADMIN, created_at=now
        )
        secrets = account_secrets(admin_password, org_key, name, self._hasher)
        if self._throttle is not None:  # the admin's failed-login record, under its MAC, first:
            self._throttle.add_account(name, org_key)  # an account without one counts as edited
        self._users.insert(admin, stamp_new_account(org_key, admin, secrets))
        self._audit.record(name, AuditAction.SETUP_COMPLETED, "organisation", {"admin": name})
        return admin
