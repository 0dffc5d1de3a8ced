"""Organisation-wide settings (admins change them; everyone reads them)."""

from __future__ import annotations

from alko_desk.models.audit import AuditAction
from alko_desk.models.changes import ChangeKind
from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import SetupRequired, ValidationError
from alko_desk.models.users import Permission, Session
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService
from alko_desk.services.changes import ChangeLog
from alko_desk.services.clock import Clock
from alko_desk.services.setup import validate_profile
from alko_desk.storage.organisation_repo import OrganisationRepository, profile_to_doc

ENTITY = "settings"  # in change announcements: the company profile (ui/changes.py SETTINGS)


class SettingsService(SessionService):
    def __init__(
        self,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        changes: ChangeLog | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._org = organisation
        self._changes = changes

    def company(self) -> CompanyProfile:
        profile = self._org.profile()
        if profile is None:
            raise SetupRequired("ALKO Desk has not been set up yet.")
        return profile

    def update_company(self, profile: CompanyProfile) -> None:
        self._require(Permission.SETTINGS_ADMIN, "change settings", "organisation")
        self._require_recent_password()
        errors = validate_profile(profile)
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        before = profile_to_doc(self.company())
        after = profile_to_doc(profile)
        self._org.update_profile(profile)
        changed = sorted(k for k in after if before.get(k) != after[k])
        self._audit.record(
            self.actor, AuditAction.SETTINGS_CHANGED, "organisation", {"fields": changed}
        )
        if self._changes is not None:  # other desks' screens, and the cached profile here
            self._changes.announce(ENTITY, ChangeKind.UPDATED)
