"""Clients: what sales staff register, and how the list shows them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from alko_desk.models.errors import AlkoError


class IdDocumentType(enum.Enum):
    NATIONAL_ID = "national_id"
    PASSPORT = "passport"
    RESIDENCE_PERMIT = "residence_permit"

    @property
    def label(self) -> str:
        return {
            "national_id": "National ID card",
            "passport": "Passport",
            "residence_permit": "Residence permit",
        }[self.value]


class ContactChannel(enum.Enum):
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    POST = "post"

    @property
    def label(self) -> str:
        return {"email": "Email", "phone": "Phone call", "sms": "Text message", "post": "Post"}[
            self.value
        ]


class ClientStatus(enum.Enum):
    """Where a client stands with the dealership. A prospect becomes a customer once a deal
    of theirs is invoiced (ClientService.record_purchase); a customer stays one. Restricted
    (processing restricted on request) is never changed by a sale."""

    PROSPECT = "prospect"
    CUSTOMER = "active"  # the value stored since before the rule (then named ACTIVE)
    RESTRICTED = "restricted"
    ACTIVE = "active"  # an alias of CUSTOMER, for older callers

    @property
    def label(self) -> str:
        return {"prospect": "Prospect", "active": "Customer", "restricted": "Restricted"}[
            self.value
        ]


@dataclass(frozen=True)
class Address:
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""

    def one_line(self) -> str:
        return ", ".join(
            p for p in (self.street, f"{self.postal_code} {self.city}".strip(), self.country) if p
        )


@dataclass(frozen=True)
class ClientDraft:
    """What the registration and edit forms collect (data minimisation: nothing more)."""

    first_name: str
    last_name: str
    birth_date: date | None
    id_type: IdDocumentType
    id_number: str
    licence_number: str = ""
    email: str = ""
    phone: str = ""
    address: Address = field(default_factory=Address)
    preferred_channel: ContactChannel = ContactChannel.EMAIL
    marketing_consent: bool = False
    notes: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class ConsentRecord:
    granted: bool
    at: datetime | None
    by: str
    policy_version: str
    source: str


@dataclass(frozen=True)
class Client:
    id: str
    version: int
    status: ClientStatus
    draft: ClientDraft
    consent: ConsentRecord
    created_at: datetime
    created_by: str
    updated_at: datetime
    last_activity: datetime
    masked: bool = True  # id_number and licence_number hidden until revealed

    @property
    def display_name(self) -> str:
        return self.draft.display_name


@dataclass(frozen=True)
class UnreadableClient:
    """A client whose encrypted fields cannot be opened: shown as such, never as empty fields."""

    id: str
    display_name: str
    reason: str


@dataclass(frozen=True, slots=True)  # slots: the list may hold 100,000 of these
class ClientRow:
    """One line of the client list."""

    id: str
    display_name: str
    city: str
    phone_masked: str
    status: ClientStatus
    last_activity: datetime | None


@dataclass(frozen=True)
class DuplicateMatch:
    client_id: str
    display_name: str
    matched_on: tuple[str, ...]  # "email", "phone", "id_number"
    same_name: bool


class ClientSort(enum.Enum):
    NAME = "name"
    STATUS = "status"
    LAST_ACTIVITY = "last_activity"


@dataclass(frozen=True)
class ClientField:
    """One field of a client: its name (as services, forms and the audit log know it), its
    label, whether it is sealed with the client's data key, and whether it is masked until
    revealed."""

    name: str
    label: str
    sealed: bool = True
    revealable: bool = False


# Every client field, once, in the order forms and detail panels show them.
CLIENT_FIELDS: tuple[ClientField, ...] = (
    ClientField("first_name", "First name", sealed=False),
    ClientField("last_name", "Last name", sealed=False),
    ClientField("birth_date", "Date of birth"),
    ClientField("id_type", "ID document type"),
    ClientField("id_number", "ID number", revealable=True),
    ClientField("licence_number", "Driving licence number", revealable=True),
    ClientField("email", "Email"),
    ClientField("phone", "Phone"),
    ClientField("preferred_channel", "Preferred contact", sealed=False),
    ClientField("street", "Street"),
    ClientField("postal_code", "Postal code"),
    ClientField("city", "City"),
    ClientField("country", "Country"),
    ClientField("marketing_consent", "Marketing consent", sealed=False),
    ClientField("notes", "Notes"),
)
FIELD_BY_NAME = {f.name: f for f in CLIENT_FIELDS}
FIELD_NAMES = tuple(f.name for f in CLIENT_FIELDS)
REVEALABLE_FIELDS = tuple(f.name for f in CLIENT_FIELDS if f.revealable)
ENCRYPTED_FIELDS = tuple(f.name for f in CLIENT_FIELDS if f.sealed)


def mask(value: str, visible: int = 3) -> str:
    value = value.strip()
    if not value:
        return ""
    shown = value[-visible:] if len(value) > visible + 2 else ""
    return "•" * max(4, len(value) - len(shown)) + shown


class DuplicateClient(AlkoError):
    """The same email, phone or ID number is already on another client.

    `blocking` is True for an ID number: one document identifies one person.
    Email and phone may be shared (a family), so staff may register anyway.
    """

    def __init__(self, matches: list[DuplicateMatch], blocking: bool) -> None:
        what = "ID number" if blocking else "contact details"
        super().__init__(f"A client with the same {what} is already registered.")
        self.matches = matches
        self.blocking = blocking
