"""Audit log entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AuditCategory(StrEnum):
    """Groups of actions; the value is the prefix every action of the group starts with."""

    LOGIN = "login"
    LOGOUT = "logout"
    REAUTH = "reauth"
    PASSWORD = "password."
    PERMISSION = "permission."
    USER = "user."
    SETTINGS = "settings."
    SETUP = "setup."
    CLIENT = "client."
    FRAUD = "fraud."
    REVIEW = "review."
    VEHICLE = "vehicle."
    DEAL = "deal."
    INVOICE = "invoice."
    PAYMENT = "payment."
    DOCUMENT = "document."
    SESSION = "session."
    AUDIT = "audit."

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    AuditCategory.LOGIN: "Logins",
    AuditCategory.LOGOUT: "Logouts",
    AuditCategory.REAUTH: "Password re-confirmations",
    AuditCategory.PASSWORD: "Password changes",
    AuditCategory.PERMISSION: "Refused operations",
    AuditCategory.USER: "Staff accounts",
    AuditCategory.SETTINGS: "Settings",
    AuditCategory.SETUP: "First setup",
    AuditCategory.CLIENT: "Clients",
    AuditCategory.FRAUD: "Possible fraud",
    AuditCategory.REVIEW: "Reviews of flagged entries",
    AuditCategory.VEHICLE: "Vehicles",
    AuditCategory.DEAL: "Deals",
    AuditCategory.INVOICE: "Invoices",
    AuditCategory.PAYMENT: "Payments",
    AuditCategory.DOCUMENT: "ID documents",
    AuditCategory.SESSION: "Server sessions",
    AuditCategory.AUDIT: "Audit log",
}


class AuditAction(StrEnum):
    """Every action the audit log records: the one catalogue, shown whole by the audit viewer.

    The values are what is stored in each entry (and hashed into the chain), so they never
    change; a new action is a new member here.
    """

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKOUT = "login.lockout"
    LOGIN_REFUSED_LOCKED = "login.refused_locked"
    LOGIN_REFUSED_DISABLED = "login.refused_disabled"
    LOGIN_KEY_UNREADABLE = "login.key_unreadable"
    LOGIN_KEY_MISMATCH = "login.key_mismatch"
    LOGIN_ACCOUNT_TAMPERED = "login.account_tampered"
    LOGOUT = "logout"
    REAUTH = "reauth"
    REAUTH_FAILED = "reauth.failed"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_CHANGE_FAILED = "password.change_failed"
    PERMISSION_DENIED = "permission.denied"
    USER_CREATED = "user.created"
    USER_ENABLED = "user.enabled"
    USER_DISABLED = "user.disabled"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_UNLOCKED = "user.unlocked"
    USER_KEYS_GRANTED = "user.keys_granted"
    SETTINGS_CHANGED = "settings.changed"
    SETUP_COMPLETED = "setup.completed"
    CLIENT_REGISTERED = "client.registered"
    CLIENT_IMPORTED = "client.imported"
    CLIENT_VIEWED = "client.viewed"
    CLIENT_REVEALED = "client.revealed"
    CLIENT_UPDATED = "client.updated"
    CLIENT_EDIT_CONFLICT = "client.edit_conflict"
    CLIENT_EXACT_SEARCH = "client.exact_search"
    CLIENT_LIST_VIEWED = "client.list_viewed"
    CLIENT_SEARCH_VIEWED = "client.search_viewed"
    CLIENT_PRINTED = "client.printed"
    CLIENT_KEYS_UPGRADED = "client.keys_upgraded"
    CLIENT_BECAME_CUSTOMER = "client.became_customer"
    FRAUD_IDENTITY_CONFLICT = "fraud.identity_conflict"
    FRAUD_CLIENT_TAMPERED = "fraud.client_tampered"
    FRAUD_KEY_GRANT_FORGED = "fraud.key_grant_forged"
    FRAUD_LOGIN_THROTTLE_TAMPERED = "fraud.login_throttle_tampered"
    FRAUD_DOCUMENT_TAMPERED = "fraud.document_tampered"
    REVIEW_DONE = "review.done"
    SETTINGS_DEALS_CHANGED = "settings.deals_changed"
    SETTINGS_INVOICES_CHANGED = "settings.invoices_changed"
    VEHICLE_ADDED = "vehicle.added"
    VEHICLE_EDITED = "vehicle.edited"
    VEHICLE_IMPORTED = "vehicle.imported"
    VEHICLE_IMPORT_CANCELLED = "vehicle.import_cancelled"
    VEHICLE_IMPORT_UNDONE = "vehicle.import_undone"
    DEAL_CREATED = "deal.created"
    DEAL_UPDATED = "deal.updated"
    DEAL_RESERVED = "deal.reserved"
    DEAL_APPROVED = "deal.approved"
    DEAL_REJECTED = "deal.rejected"
    DEAL_INVOICED = "deal.invoiced"
    DEAL_CANCELLED = "deal.cancelled"
    DEAL_DELIVERY_SCHEDULED = "deal.delivery_scheduled"
    DEAL_HANDOVER_RECORDED = "deal.handover_recorded"
    DEAL_DELIVERED = "deal.delivered"
    DEAL_CERTIFICATE_PRINTED = "deal.certificate_printed"
    DEAL_RESERVATION_LAPSED = "deal.reservation_lapsed"
    DEAL_INVOICE_CREDITED = "deal.invoice_credited"
    INVOICE_ISSUED = "invoice.issued"
    INVOICE_COMPLETED = "invoice.completed"
    INVOICE_REQUESTED = "invoice.requested"
    INVOICE_CREDITED = "invoice.credited"
    INVOICE_PREVIEW = "invoice.preview"
    INVOICE_PRINT = "invoice.print"
    INVOICE_SAVE = "invoice.save"
    INVOICE_EXPORT = "invoice.export"
    INVOICE_TAMPERED = "invoice.tampered"
    PAYMENT_RECORDED = "payment.recorded"
    PAYMENT_REFUNDED = "payment.refunded"
    PAYMENT_RECEIPT = "payment.receipt"
    DOCUMENT_ADDED = "document.added"
    DOCUMENT_LISTED = "document.listed"
    DOCUMENT_VIEWED = "document.viewed"
    DOCUMENT_EXPORTED = "document.exported"
    DOCUMENT_DELETED = "document.deleted"
    DOCUMENT_MIGRATED = "document.migrated"
    DOCUMENT_RESEALED = "document.resealed"
    DOCUMENT_ORPHANS_REMOVED = "document.orphans_removed"
    SESSION_REVOKED = "session.revoked"
    AUDIT_CHECKPOINT_ADOPTED = "audit.checkpoint_adopted"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]

    @property
    def category(self) -> AuditCategory:
        # The longest matching prefix: "login" and "logout" are different categories.
        matching = [
            c
            for c in AuditCategory
            if self.value == c.value
            or self.value.startswith(c.value if c.value.endswith(".") else c.value + ".")
        ]
        return max(matching, key=lambda c: len(c.value))


_ACTION_LABELS = {
    AuditAction.LOGIN: "Logged in",
    AuditAction.LOGIN_FAILED: "Login failed",
    AuditAction.LOGIN_LOCKOUT: "Locked out after failed logins",
    AuditAction.LOGIN_REFUSED_LOCKED: "Login refused: locked out",
    AuditAction.LOGIN_REFUSED_DISABLED: "Login refused: account disabled",
    AuditAction.LOGIN_KEY_UNREADABLE: "Login refused: key copy unreadable",
    AuditAction.LOGIN_KEY_MISMATCH: "Login refused: not this organisation's key",
    AuditAction.LOGIN_ACCOUNT_TAMPERED: "Login refused: account edited outside ALKO Desk",
    AuditAction.FRAUD_CLIENT_TAMPERED: "Client record edited outside ALKO Desk",
    AuditAction.FRAUD_KEY_GRANT_FORGED: "Forged key grant refused",
    AuditAction.FRAUD_LOGIN_THROTTLE_TAMPERED: "Failed-login record edited outside ALKO Desk",
    AuditAction.FRAUD_DOCUMENT_TAMPERED: "ID document edited outside ALKO Desk",
    AuditAction.USER_KEYS_GRANTED: "Client data keys handed to an account",
    AuditAction.CLIENT_KEYS_UPGRADED: "Client data moved to keys by need",
    AuditAction.LOGOUT: "Logged out",
    AuditAction.REAUTH: "Password confirmed again",
    AuditAction.REAUTH_FAILED: "Password confirmation failed",
    AuditAction.PASSWORD_CHANGED: "Password changed",
    AuditAction.PASSWORD_CHANGE_FAILED: "Password change failed",
    AuditAction.PERMISSION_DENIED: "Operation refused: no permission",
    AuditAction.USER_CREATED: "Account created",
    AuditAction.USER_ENABLED: "Account enabled",
    AuditAction.USER_DISABLED: "Account disabled",
    AuditAction.USER_PASSWORD_RESET: "Password reset by an admin",
    AuditAction.USER_ROLE_CHANGED: "Role changed",
    AuditAction.USER_UNLOCKED: "Account unlocked",
    AuditAction.SETTINGS_CHANGED: "Company settings changed",
    AuditAction.SETUP_COMPLETED: "First setup completed",
    AuditAction.CLIENT_REGISTERED: "Client registered",
    AuditAction.CLIENT_IMPORTED: "Clients imported",
    AuditAction.CLIENT_VIEWED: "Client opened",
    AuditAction.CLIENT_REVEALED: "ID or licence number revealed",
    AuditAction.CLIENT_UPDATED: "Client edited",
    AuditAction.CLIENT_EDIT_CONFLICT: "Edit refused: changed on another desk",
    AuditAction.CLIENT_EXACT_SEARCH: "Client searched by email, phone or ID number",
    AuditAction.CLIENT_LIST_VIEWED: "Client list page viewed",
    AuditAction.CLIENT_SEARCH_VIEWED: "Client search results viewed",
    AuditAction.CLIENT_PRINTED: "Client card printed",
    AuditAction.CLIENT_BECAME_CUSTOMER: "Client became a customer (a deal invoiced)",
    AuditAction.FRAUD_IDENTITY_CONFLICT: "Same ID number under another name",
    AuditAction.REVIEW_DONE: "Flagged entry reviewed",
    AuditAction.SETTINGS_DEALS_CHANGED: "Deal settings changed",
    AuditAction.SETTINGS_INVOICES_CHANGED: "Invoice settings changed",
    AuditAction.VEHICLE_ADDED: "Vehicle added to stock",
    AuditAction.VEHICLE_EDITED: "Vehicle edited",
    AuditAction.VEHICLE_IMPORTED: "Stock list imported",
    AuditAction.VEHICLE_IMPORT_CANCELLED: "Stock import cancelled and undone",
    AuditAction.VEHICLE_IMPORT_UNDONE: "Interrupted stock import undone",
    AuditAction.DEAL_CREATED: "Deal created",
    AuditAction.DEAL_UPDATED: "Deal edited",
    AuditAction.DEAL_RESERVED: "Vehicle reserved for a deal",
    AuditAction.DEAL_APPROVED: "Discount approved",
    AuditAction.DEAL_REJECTED: "Discount rejected",
    AuditAction.DEAL_INVOICED: "Deal invoiced",
    AuditAction.DEAL_CANCELLED: "Deal cancelled",
    AuditAction.DEAL_DELIVERY_SCHEDULED: "Delivery scheduled",
    AuditAction.DEAL_HANDOVER_RECORDED: "Handover checklist recorded",
    AuditAction.DEAL_DELIVERED: "Vehicle delivered",
    AuditAction.DEAL_CERTIFICATE_PRINTED: "Handover certificate printed",
    AuditAction.DEAL_RESERVATION_LAPSED: "Reservation lapsed",
    AuditAction.DEAL_INVOICE_CREDITED: "Invoice credited in full: deal reopened",
    AuditAction.INVOICE_ISSUED: "Invoice issued",
    AuditAction.INVOICE_COMPLETED: "Interrupted invoice completed",
    AuditAction.INVOICE_REQUESTED: "Invoice requested by sales",
    AuditAction.INVOICE_CREDITED: "Credit note issued",
    AuditAction.INVOICE_PREVIEW: "Invoice PDF previewed",
    AuditAction.INVOICE_PRINT: "Invoice printed",
    AuditAction.INVOICE_SAVE: "Invoice saved as PDF",
    AuditAction.INVOICE_EXPORT: "Invoice PDF exported",
    AuditAction.INVOICE_TAMPERED: "Stored invoice PDF altered",
    AuditAction.PAYMENT_RECORDED: "Payment recorded",
    AuditAction.PAYMENT_REFUNDED: "Refund recorded",
    AuditAction.PAYMENT_RECEIPT: "Payment receipt printed",
    AuditAction.DOCUMENT_ADDED: "ID document added",
    AuditAction.DOCUMENT_LISTED: "ID documents listed",
    AuditAction.DOCUMENT_VIEWED: "ID document viewed",
    AuditAction.DOCUMENT_EXPORTED: "ID document exported",
    AuditAction.DOCUMENT_DELETED: "ID document deleted",
    AuditAction.DOCUMENT_MIGRATED: "ID documents moved to another store",
    AuditAction.DOCUMENT_RESEALED: "ID documents re-sealed with their own key",
    AuditAction.DOCUMENT_ORPHANS_REMOVED: "Orphaned uploads removed",
    AuditAction.SESSION_REVOKED: "Server session ended",
    AuditAction.AUDIT_CHECKPOINT_ADOPTED: "Unsigned entries adopted by the server",
}


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: datetime
    actor: str
    action: str
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action_prefix: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 500


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str = ""
