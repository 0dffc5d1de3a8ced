"""Printing a client's card: allowed to whoever may read clients, and always audited."""

from __future__ import annotations

from alko_desk.models.audit import AuditAction
from alko_desk.models.users import Permission
from alko_desk.services.base import SessionService


class ClientCardService(SessionService):
    def record_print(self, client_id: str, copies: int = 1) -> None:
        """Called when a card goes to the printer: paper leaves the desk, so the log says who."""
        self._require(Permission.CLIENT_READ, "print client cards", f"client:{client_id}")
        self._audit.record(
            self.actor,
            AuditAction.CLIENT_PRINTED,
            f"client:{client_id}",
            {"copies": max(1, copies)},
        )
