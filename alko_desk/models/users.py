"""Staff accounts, roles and what each role may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Permission(enum.Enum):
    CLIENT_READ = "client.read"
    CLIENT_WRITE = "client.write"
    CLIENT_REVEAL = "client.reveal"
    VEHICLE_READ = "vehicle.read"
    VEHICLE_WRITE = "vehicle.write"
    DEAL_READ = "deal.read"
    DEAL_WRITE = "deal.write"
    DEAL_APPROVE = "deal.approve"  # a discount above the threshold in Settings
    INVOICE_READ = "invoice.read"
    INVOICE_WRITE = "invoice.write"
    INVOICE_REQUEST = "invoice.request"  # sales ask finance to invoice a deal
    PAYMENT_READ = "payment.read"
    PAYMENT_WRITE = "payment.write"
    REPORT_READ = "report.read"
    REPORT_EXPORT = "report.export"
    AUDIT_READ = "audit.read"
    USER_ADMIN = "user.admin"
    SETTINGS_ADMIN = "settings.admin"
    BACKUP_ADMIN = "backup.admin"
    PRIVACY_ADMIN = "privacy.admin"


class Role(enum.Enum):
    SALES = "sales"
    FINANCE = "finance"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SALES: frozenset(
        {
            P.CLIENT_READ,
            P.CLIENT_WRITE,
            P.CLIENT_REVEAL,
            P.VEHICLE_READ,
            P.VEHICLE_WRITE,
            P.DEAL_READ,
            P.DEAL_WRITE,
            P.INVOICE_REQUEST,
        }
    ),
    Role.FINANCE: frozenset(
        {
            P.CLIENT_READ,
            P.VEHICLE_READ,
            P.DEAL_READ,
            P.INVOICE_READ,
            P.INVOICE_WRITE,
            P.PAYMENT_READ,
            P.PAYMENT_WRITE,
        }
    ),
    Role.MANAGER: frozenset(
        {
            P.CLIENT_READ,
            P.CLIENT_REVEAL,
            P.VEHICLE_READ,
            P.DEAL_READ,
            P.DEAL_APPROVE,
            P.INVOICE_READ,
            P.PAYMENT_READ,
            P.REPORT_READ,
            P.REPORT_EXPORT,
            P.AUDIT_READ,
        }
    ),
    Role.ADMIN: frozenset(
        {
            P.USER_ADMIN,
            P.SETTINGS_ADMIN,
            P.BACKUP_ADMIN,
            P.PRIVACY_ADMIN,
            P.AUDIT_READ,
        }
    ),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    role: Role
    active: bool = True
    must_change_password: bool = False
    created_at: datetime | None = None
    last_login_at: datetime | None = None
    locked_until: datetime | None = None
    failed_logins: int = 0

    def can(self, permission: Permission) -> bool:
        return self.active and permission in permissions_of(self.role)


@dataclass
class Session:
    """The logged-in user, the keys they unlocked, and when they last proved it.

    `org_key` opens no client data: `tier_keys` does ("clients", "ids"), as far as the role
    needs and a colleague has granted them; `account_private` opens grants that arrive later.
    """

    user: User
    org_key: bytes = field(repr=False)
    authenticated_at: datetime
    session_id: str
    tier_keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    account_private: bytes = field(default=b"", repr=False)

    def can(self, permission: Permission) -> bool:
        return self.user.can(permission)
