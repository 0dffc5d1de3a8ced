"""ID documents: what a scan is, what its machine-readable zone says, and how it is stored."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class DocumentType(enum.Enum):
    ID_CARD = "id_card"
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "id_card": "ID card",
            "passport": "Passport",
            "driving_licence": "Driving licence",
            "residence_permit": "Residence permit",
            "other": "Other",
        }[self.value]

    @classmethod
    def parse(cls, text: str) -> DocumentType:
        """Accepts the value or the label, any case, hyphens or spaces for underscores."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if key in (member.value, member.label.lower().replace(" ", "_")):
                return member
        raise ValueError(text)


# -- the machine-readable zone ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckDigit:
    """One check digit of an MRZ: which field it protects and whether it holds."""

    name: str  # "document number", "birth date", "expiry date", "optional data", "composite"
    ok: bool


@dataclass(frozen=True)
class MrzReading:
    """The parsed fields of one machine-readable zone (ICAO 9303), as read and checked."""

    format: str  # "TD1", "TD2", "TD3", "MRVA", "MRVB"
    lines: tuple[str, ...]
    document_type: str  # the MRZ's own code: "P", "I", "ID", "AC", "V"...
    issuing_country: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: date | None
    sex: str  # "M", "F" or "X" (unspecified)
    expiry_date: date | None
    optional_data: str
    checks: tuple[CheckDigit, ...]
    repairs: tuple[str, ...] = ()  # OCR confusions corrected, each confirmed by its check digit
    expired: bool = False

    @property
    def valid(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed_checks(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "document_type": self.document_type,
            "issuing_country": self.issuing_country,
            "surname": self.surname,
            "given_names": self.given_names,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "expired": self.expired,
            "optional_data": self.optional_data,
            "check_digits": {c.name: c.ok for c in self.checks},
            "valid": self.valid,
            "repairs": list(self.repairs),
            "lines": list(self.lines),
        }


# -- stored documents ------------------------------------------------------------------------


class UploadState(enum.Enum):
    STORED = "stored"  # every page is in the document store
    WAITING = "waiting"  # at least one page waits in this desk's outbox


@dataclass(frozen=True)
class DocumentPage:
    """One page (front, back...) as stored: an opaque asset id in a store, never the bytes."""

    asset_id: str
    store: str  # "cloudinary" or "local"
    media_type: str  # "image/png", "image/jpeg", "image/tiff", "application/pdf"
    size: int  # plaintext bytes


@dataclass(frozen=True)
class DocumentDraft:
    """What staff enter about a document before it is saved."""

    type: DocumentType
    issuing_country: str = ""
    number: str = ""
    expiry: date | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document's description, decrypted, without its pages' bytes."""

    id: str
    client_id: str
    type: DocumentType
    issuing_country: str
    number: str
    expiry: date | None
    pages: tuple[DocumentPage, ...]
    added_at: datetime
    added_by: str
    state: UploadState = UploadState.STORED

    def expired(self, today: date) -> bool:
        return self.expiry is not None and self.expiry < today


@dataclass(frozen=True)
class PageContent:
    """One page's bytes, decrypted in memory for a view."""

    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class FlushResult:
    """What one pass over the outbox did: pages uploaded, failed again, still waiting."""

    uploaded: int
    failed: int
    waiting: int
    last_error: str = ""


@dataclass(frozen=True)
class StorageStatus:
    """Where documents go, as staff may see it: never the API secret, only a hint of the key."""

    kind: str  # "cloudinary" or "local"
    cloud_name: str = ""
    api_key_hint: str = ""
    folder: str = ""

    def describe(self) -> str:
        if self.kind == "cloudinary":
            return f"Cloudinary (cloud {self.cloud_name}, API key {self.api_key_hint})"
        return f"Encrypted folder {self.folder}"
