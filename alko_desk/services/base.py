"""What every session-bound service shares: the caller, the audit log and the permission check."""

from __future__ import annotations

from datetime import timedelta

from alko_desk.models.audit import AuditAction
from alko_desk.models.errors import (
    PasswordChangeRequired,
    PermissionDenied,
    ReauthenticationRequired,
)
from alko_desk.models.users import Permission, Session
from alko_desk.services.audit import AuditLog
from alko_desk.services.clock import Clock

RECENT_AUTH_WINDOW = timedelta(minutes=5)


def between_services(method):
    """Marks a method that other services call in the same process (a deal's sale recorded
    on its client) and that no desk may call across the showroom server: the server
    publishes every other public method (remote/api.py)."""
    method.between_services = True
    return method


class SessionService:
    def __init__(self, session: Session, audit: AuditLog, clock: Clock) -> None:
        self._session = session
        self._audit = audit
        self._clock = clock

    @property
    def actor(self) -> str:
        return self._session.user.username

    def _require(self, permission: Permission, operation: str, target: str = "") -> None:
        """Refuses, and audits the refusal, whatever the UI offered."""
        if self._session.user.must_change_password:
            raise PasswordChangeRequired("Choose a new password before you continue.")
        if not self._session.can(permission):
            self._audit.record(
                self.actor,
                AuditAction.PERMISSION_DENIED,
                target,
                {"operation": operation, "permission": permission.value},
            )
            raise PermissionDenied(
                f"Your role ({self._session.user.role.label}) may not {operation}.",
                hint="Ask a manager or an admin if you need this.",
            )

    def _require_recent_password(self) -> None:
        """One mechanism for every sensitive action: the password within the last few minutes."""
        if self._clock.now() - self._session.authenticated_at > RECENT_AUTH_WINDOW:
            raise ReauthenticationRequired()
