"""Registering, finding, reading and editing clients, with their personal data encrypted.

Each client has a data key of its own (wrapped by the organisation key); every
personal field but the name is sealed with it. Exact lookups go through keyed
blind indexes; the list and name search go through the client list index
(storage/app_index.py), which keeps every declared sort in the service's order.

A registration or edit touches several documents without a transaction, so it
first records its intent in the intent log (services/intents.py); the handlers
registered here finish any that an interruption left half-done. Every step is
idempotent. Every write announces its change (services/changes.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from alko_desk import PRIVACY_POLICY_VERSION
from alko_desk.models.audit import AuditAction
from alko_desk.models.changes import ChangeKind
from alko_desk.models.clients import (
    CLIENT_FIELDS,
    ENCRYPTED_FIELDS,
    REVEALABLE_FIELDS,
    Address,
    Client,
    ClientDraft,
    ClientRow,
    ClientSort,
    ClientStatus,
    ConsentRecord,
    ContactChannel,
    DuplicateClient,
    DuplicateMatch,
    IdDocumentType,
    UnreadableClient,
    mask,
)
from alko_desk.models.errors import (
    ConcurrentModification,
    KeysNotGranted,
    NotFound,
    PermissionDenied,
    TamperedRecord,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.models.text import fold, sort_key, words
from alko_desk.models.users import Permission, Session
from alko_desk.security.crypto import (
    ID_FIELDS,
    TIER_CLIENTS,
    TIER_IDS,
    BoundFieldCipher,
    ClientTierKeys,
    FieldCipher,
    OrgKeys,
    id_document_key,
    new_key,
)
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService, between_services
from alko_desk.services.changes import ChangeLog
from alko_desk.services.client_validation import (
    mask_phone,
    normalize_document_number,
    parse_phone,
    same_document_number,
    validate_draft,
)
from alko_desk.services.clock import Clock
from alko_desk.services.intents import IntentLog
from alko_desk.services.keyring import NOT_GRANTED, Keyring
from alko_desk.storage.clients_repo import (
    ClientKeyRepository,
    ClientListItem,
    ClientListKeys,
    ClientListRepository,
    ClientRecord,
    ClientRepository,
    LookupRepository,
)
from alko_desk.storage.intents_repo import IntentRecord

log = logging.getLogger(__name__)
LOOKUP_KINDS = ("email", "phone", "id_number")
FIELD_LABELS = {f.name: f.label for f in CLIENT_FIELDS}
SEARCH_LIMIT = 500
ENTITY = "clients"  # in change announcements
_STATUS_ORDER = {s: str(i) for i, s in enumerate(ClientStatus)}


def new_client_id() -> str:
    """Chosen when a form opens, so that saving it twice creates one client."""
    return os.urandom(12).hex()


def _flat(draft: ClientDraft) -> dict[str, str]:
    """Every field of a draft as text, the form in which it is sealed and compared."""
    return {
        "first_name": draft.first_name,
        "last_name": draft.last_name,
        "birth_date": draft.birth_date.isoformat() if draft.birth_date else "",
        "id_type": draft.id_type.value,
        "id_number": draft.id_number,
        "licence_number": draft.licence_number,
        "email": draft.email,
        "phone": draft.phone,
        "street": draft.address.street,
        "postal_code": draft.address.postal_code,
        "city": draft.address.city,
        "country": draft.address.country,
        "preferred_channel": draft.preferred_channel.value,
        "marketing_consent": "yes" if draft.marketing_consent else "no",
        "notes": draft.notes,
    }


SEALED = ENCRYPTED_FIELDS
HIDDEN = "••••••"  # an ID or licence number shown to a role that holds no key to it


@dataclass(frozen=True)
class ClientBatch:
    """New clients for `ClientService.register_batches`: (client id, draft) pairs, and where
    known when each was last in contact and when they first became a client."""

    items: list[tuple[str, ClientDraft]]
    last_activity: dict[str, datetime] = field(default_factory=dict)
    registered: dict[str, datetime] = field(default_factory=dict)


class ClientService(SessionService):
    # The orders the list offers (PageRequest.sort); "" is the first. Other columns do not sort.
    SORTS: tuple[str, ...] = tuple(s.value for s in ClientSort)

    def __init__(
        self,
        clients: ClientRepository,
        keys: ClientKeyRepository,
        lookups: LookupRepository,
        client_list: ClientListRepository,
        intents: IntentLog,
        changes: ChangeLog,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        phone_region: Callable[[], str],
        keyring: Keyring | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._clients = clients
        self._keys = keys
        self._lookups = lookups
        self._list = client_list
        self._intents = intents
        self._changes = changes
        # Opened on first use: an admin's session builds this service but holds no client key.
        self._org: ClientTierKeys | None = None
        self._keyring = keyring
        self._phone_region = phone_region
        intents.register("clients.register", self._recover_register)
        intents.register("clients.import", self._recover_import)
        intents.register("clients.reindex", self._recover_reindex)
        intents.register("clients.rebuild_list", self._recover_rebuild_list)
        intents.register("clients.upgrade_keys", self._recover_upgrade_keys)
        if session.can(Permission.INVOICE_WRITE) or session.can(Permission.DEAL_WRITE):
            # only a login that may record a sale takes it; the others leave it for one
            intents.register("clients.record_past_purchases", self._recover_past_purchases)
        # written before the intent log had named kinds
        intents.register("register", self._recover_register)
        intents.register("import", self._recover_import)
        intents.register("reindex", self._recover_reindex)

    # -- keys --------------------------------------------------------------------------------
    @property
    def _tier(self) -> ClientTierKeys:
        """The keys derived from the "clients" tier key this session was granted."""
        if self._org is None:
            self._org = ClientTierKeys(self._tier_key(TIER_CLIENTS))
        return self._org

    def _tier_key(self, tier: str) -> bytes:
        if self._keyring is not None:
            return self._keyring.tier_key(self._session, tier)
        key = self._session.tier_keys.get(tier)
        if key is None:
            raise KeysNotGranted(NOT_GRANTED)
        return key

    def _ids_key(self) -> bytes | None:
        """The "ids" tier key, for roles that may reveal numbers; None for the others."""
        if not self._session.can(Permission.CLIENT_REVEAL):
            return None
        return self._tier_key(TIER_IDS)

    # -- registration --------------------------------------------------------------------
    def validate(self, draft: ClientDraft) -> tuple[ClientDraft, dict[str, str]]:
        return validate_draft(draft, self._phone_region(), self._clock.now().date())

    def register(
        self, client_id: str, draft: ClientDraft, *, allow_shared_contact: bool = False
    ) -> Client:
        self._require(Permission.CLIENT_WRITE, "register clients")
        if self._clients.get(client_id):  # the same form saved twice: one client
            record = self._load(client_id)
            self._audit.record(  # what it hands back is a view of the client
                self.actor,
                "client.viewed",
                f"client:{client_id}",
                {"fields": list(SEALED), "via": "registration saved again"},
            )
            return self._to_client(record, self._cipher(client_id))
        normalized, errors = self.validate(draft)
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        self._refuse_duplicates(normalized, None, allow_shared_contact)
        now = self._clock.now()
        with self._intents.intent("clients.register", client_id, client_id=client_id):
            data_key = new_key()
            if not self._keys.insert(client_id, self._tier.wrap_client_key(client_id, data_key)):
                data_key = self._data_key(client_id)  # an interrupted earlier attempt made it
            cipher = BoundFieldCipher(client_id, data_key, self._ids_key())
            record = self._new_record(client_id, normalized, cipher, now, "registration form", now)
            if not self._clients.insert(record):
                record = self._clients.get(client_id)
            self._index(record, normalized, previous_lookups={})
            self._audit.record(
                self.actor,
                "client.registered",
                f"client:{client_id}",
                {"marketing_consent": normalized.marketing_consent},
            )
        self._changes.announce(ENTITY, ChangeKind.ADDED, (client_id,))
        return self._to_client(record, cipher)

    def now(self) -> datetime:
        return self._clock.now()

    @between_services  # demo data and seeding on this computer; no desk skips the checks
    def register_many(
        self,
        items: list[tuple[str, ClientDraft]],
        last_activity: dict[str, datetime] | None = None,
        registered: dict[str, datetime] | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Registers a batch of new clients in bulk (demo data, imports); same checks, fewer round trips.

        `last_activity` carries when an imported client was last in contact, where known, and
        `registered` when they first became a client (never after their last activity).
        """
        batch = ClientBatch(items, last_activity or {}, registered or {})
        return self.register_batches([batch], progress)

    @between_services  # see register_many
    def register_batches(
        self, batches: Iterable[ClientBatch], progress: Progress | None = None
    ) -> int:
        """Registers batches of new clients (seeding, big imports), then lists them all at once.

        Without `register`'s duplicate checks (an ID number another client holds is not
        refused nor flagged), with back-dated registrations and consent, and an id already
        stored gets a new list entry: so never callable from a desk through the server.

        Each batch's documents are written as it comes (under its own intent); the list
        index is built once at the end in one sorted pass (`bulk_load`), so its cost does
        not grow with the number of batches. A batch's intent stays open until its clients
        are listed: a crash in between is completed at the next start.
        """
        self._require(Permission.CLIENT_WRITE, "register clients")
        listed: list[tuple[ClientListItem, ClientListKeys]] = []
        written: list[tuple[str, int]] = []  # (intent, clients)
        try:
            for batch in batches:
                if batch.items:
                    # the batches stored so far wait, open, for the list: their leases go on
                    self._intents.renew(*(intent for intent, _ in written))
                    intent, entries = self._store_batch(batch, progress)
                    listed.extend(entries)
                    written.append((intent, len(entries)))
            self._intents.renew(*(intent for intent, _ in written))
        except ValidationError:
            # a bad row in a later batch (validated before its batch is written): the batches
            # already stored are listed now, not left unseen until a later login
            self._list_stored(listed, written)
            raise
        except BaseException:
            self._intents.abandon(*(intent for intent, _ in written))  # for recovery
            raise
        return self._list_stored(listed, written)

    def _list_stored(
        self, listed: list[tuple[ClientListItem, ClientListKeys]], written: list[tuple[str, int]]
    ) -> int:
        if not written:
            return 0
        try:
            self._list.bulk_load(listed)
        except BaseException:
            self._intents.abandon(*(intent for intent, _ in written))  # for recovery
            raise
        for intent, count in written:
            self._audit.record(self.actor, "client.imported", "", {"count": count, "batch": intent})
            self._intents.done(intent)
        self._changes.announce(ENTITY, ChangeKind.MANY)
        return len(listed)

    def _store_batch(
        self, batch: ClientBatch, progress: Progress | None
    ) -> tuple[str, list[tuple[ClientListItem, ClientListKeys]]]:
        """Writes one batch's keys, records and lookups; returns its open intent and list entries."""
        items = batch.items
        now = self._clock.now()
        records, keys, lookups, listed = [], [], [], []
        ids_key = self._ids_key()
        for n, (client_id, draft) in enumerate(items):
            normalized, errors = self.validate(draft)
            if errors:
                raise ValidationError(f"{draft.display_name}: {'; '.join(errors.values())}", errors)
            data_key = new_key()
            keys.append((client_id, self._tier.wrap_client_key(client_id, data_key)))
            active = batch.last_activity.get(client_id, now)
            # A back-dated registration gave its consent on that day, not at the import: the
            # record (consent included, under its MAC) is made as of the registration.
            registered = batch.registered.get(client_id, now)
            cipher = BoundFieldCipher(client_id, data_key, ids_key)
            record = self._new_record(
                client_id, normalized, cipher, registered, "import", active, written=now
            )
            records.append(record)
            listed.append(self._list_entry(record, normalized))
            lookups.extend((lookup_id, client_id) for lookup_id in record.lookups.values())
            if progress and n % 1000 == 0:
                progress.report(n, len(items), "Preparing clients")
        intent = self._intents.begin(
            "clients.import", items[0][0], client_ids=[cid for cid, _ in items]
        )
        try:
            self._keys.insert_many(keys)
            self._clients.insert_many(records)
            self._lookups.add_many(lookups)
        except BaseException:
            self._intents.abandon(intent)
            raise
        return intent, listed

    def _new_record(
        self,
        client_id: str,
        draft: ClientDraft,
        cipher: BoundFieldCipher,
        now: datetime,
        source: str,
        last_activity: datetime,
        written: datetime | None = None,
    ) -> ClientRecord:
        """A new client registered at `now` (consent given then); `written`: when the record
        is stored, if later (an import of older registrations)."""
        record = ClientRecord(
            id=client_id,
            version=1,
            status=ClientStatus.PROSPECT.value,
            first_name=draft.first_name,
            last_name=draft.last_name,
            preferred_channel=draft.preferred_channel.value,
            consent=self._consent(draft.marketing_consent, now, source),
            created_at=now,
            created_by=self.actor,
            updated_at=written or now,
            last_activity=last_activity,
            sealed=self._sealed(draft, cipher, 1),
            lookups=self._lookup_ids(draft),
        )
        return self._signed(record)

    def _consent(self, granted: bool, at: datetime, source: str) -> dict:
        return {
            "granted": granted,
            "at": at,
            "by": self.actor,
            "policy_version": PRIVACY_POLICY_VERSION,
            "source": source,
        }

    @staticmethod
    def _sealed(draft: ClientDraft, cipher: BoundFieldCipher, version: int) -> dict[str, bytes]:
        """Every sealed field, bound to this client, the field and the record's `version`."""
        flat = _flat(draft)
        return {f: cipher.encrypt(f, flat[f], version) for f in SEALED}

    # -- integrity -----------------------------------------------------------------------
    @staticmethod
    def _mac_fields(record: ClientRecord) -> dict:
        """The plaintext fields that matter: a database edit of any of them is refused."""
        consent = record.consent
        fields = {
            "id": record.id,
            "version": record.version,
            "status": record.status,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "preferred_channel": record.preferred_channel,
            "consent": {
                k: consent.get(k) for k in ("granted", "at", "by", "policy_version", "source")
            },
        }
        if record.seal_version != record.version:  # seals of an older version: bound here too
            fields["sealed_version"] = record.seal_version
        return fields

    def _signed(self, record: ClientRecord) -> ClientRecord:
        return replace(record, mac=self._tier.record_mac(self._mac_fields(record)))

    def _tampered(self, client_id: str, what: str) -> TamperedRecord:
        self._audit.record(
            self.actor,
            AuditAction.FRAUD_CLIENT_TAMPERED,
            f"client:{client_id}",
            {"what": what, "review": "manager"},
        )
        return TamperedRecord(
            "This client's record was changed outside ALKO Desk, so it is not shown.",
            hint="A manager will find the details in the audit log (Possible fraud).",
        )

    def _lookup_ids(self, draft: ClientDraft) -> dict[str, str]:
        values = {"email": draft.email, "phone": draft.phone, "id_number": draft.id_number}
        return {k: f"{k}:{self._tier.blind_index(k, v)}" for k, v in values.items() if v}

    def _index(self, record: ClientRecord, draft: ClientDraft, previous_lookups: dict) -> None:
        """Blind-index lookups and the list entry of a saved record; idempotent."""
        wanted = record.lookups
        for kind, lookup_id in previous_lookups.items():
            if wanted.get(kind) != lookup_id:
                self._lookups.remove(lookup_id, record.id)
        for lookup_id in wanted.values():
            self._lookups.add(lookup_id, record.id)
        self._list.put(self._list_entry(record, draft))

    def _list_entry(
        self, record: ClientRecord, draft: ClientDraft | None, sealed_extra: str = ""
    ) -> tuple[ClientListItem, ClientListKeys]:
        """What the list shows of a client (city and phone sealed) and how it is ordered;
        `sealed_extra`: city and phone as sealed already (then no draft is needed)."""
        if draft is None:
            sealed = sealed_extra
        else:
            extra = json.dumps(
                {"city": draft.address.city, "phone": mask_phone(draft.phone)},
                ensure_ascii=False,
            ).encode()
            sealed = base64.b64encode(self._tier.seal_directory(record.id, extra)).decode("ascii")
        activity = record.last_activity.astimezone(UTC) if record.last_activity else None
        name = sort_key(record.last_name, record.first_name)
        return (
            ClientListItem(
                id=record.id,
                first_name=record.first_name,
                last_name=record.last_name,
                status=record.status,
                last_activity=activity.isoformat() if activity else "",
                sealed_extra=sealed,
            ),
            ClientListKeys(
                name=name,
                status=f"{_STATUS_ORDER[ClientStatus(record.status)]} {name}",
                # newest last, so "descending" shows the most recent activity first
                last_activity=f"{activity:%Y-%m-%dT%H:%M:%S.%f} {name}" if activity else "",
                words=tuple(dict.fromkeys(words(f"{record.first_name} {record.last_name}"))),
            ),
        )

    def _duplicates(self, draft: ClientDraft, exclude_id: str | None) -> list[DuplicateMatch]:
        found: dict[str, list[str]] = {}
        for kind, lookup_id in self._lookup_ids(draft).items():
            for cid in self._lookups.find(lookup_id):
                if cid != exclude_id:
                    found.setdefault(cid, []).append(kind)
        matches = []
        for cid, kinds in found.items():
            other = self._clients.get(cid)
            if not other:
                continue  # a lookup left by an interrupted change; recovery tidies it
            name = f"{other.first_name} {other.last_name}"
            same = fold(name) == fold(draft.display_name)
            matches.append(DuplicateMatch(cid, name, tuple(kinds), same))
        return matches

    def _refuse_duplicates(
        self, draft: ClientDraft, exclude_id: str | None, allow_shared_contact: bool
    ) -> None:
        matches = self._duplicates(draft, exclude_id)
        if not matches:
            return
        by_id = [m for m in matches if "id_number" in m.matched_on]
        for match in by_id:
            if not match.same_name:  # one document, two names: a manager should look (P3)
                self._audit.record(
                    self.actor,
                    "fraud.identity_conflict",
                    f"client:{match.client_id}",
                    {"reason": "same ID number under a different name", "review": "manager"},
                )
        if by_id:
            raise DuplicateClient(matches, blocking=True)
        if not allow_shared_contact:
            raise DuplicateClient(matches, blocking=False)

    # -- reading -------------------------------------------------------------------------
    def _data_key(self, client_id: str) -> bytes:
        wrapped = self._keys.get(client_id)
        if wrapped is None:
            raise UnreadableRecord(
                "This client's data key is gone: the personal data cannot be read."
            )
        return self._tier.unwrap_client_key(client_id, wrapped)

    @between_services  # a key never leaves the server for a desk
    def data_key_for_documents(self, client_id: str) -> bytes:
        """The client's data key, to open ID documents sealed before they had a key of their
        own (`id_document_key`).

        Only for callers allowed to see clients' documents; the client must exist.
        """
        self._require(Permission.CLIENT_REVEAL, "see clients' ID documents", f"client:{client_id}")
        self._load(client_id)
        return self._data_key(client_id)

    @between_services  # a key never leaves the server for a desk
    def id_document_key(self, client_id: str) -> bytes:
        """The key that seals and opens the client's ID documents: it needs the "ids" tier key
        as well as the client's data key, so finance (which reads clients) cannot open them.

        Only for callers allowed to see clients' documents; the client must exist.
        """
        self._require(Permission.CLIENT_REVEAL, "see clients' ID documents", f"client:{client_id}")
        self._load(client_id)
        return id_document_key(client_id, self._data_key(client_id), self._tier_key(TIER_IDS))

    def _cipher(self, client_id: str) -> BoundFieldCipher:
        return BoundFieldCipher(client_id, self._data_key(client_id), self._ids_key())

    def _load(self, client_id: str) -> ClientRecord:
        record = self._clients.get(client_id)
        if record is None:
            raise NotFound("This client no longer exists.")
        if not self._tier.mac_matches(self._mac_fields(record), record.mac or None):
            raise self._tampered(client_id, "name, status, consent or contact channel")
        return record

    def _open(self, cipher: BoundFieldCipher, record: ClientRecord, field: str) -> str:
        """One sealed field; one that does not open under a key that opens the others was
        moved from another client or field, or put back from an older version."""
        blob = record.sealed.get(field)
        if blob is None:
            raise self._tampered(record.id, f"sealed field {field} missing")
        try:
            return cipher.decrypt(field, blob, record.seal_version)
        except UnreadableRecord:
            raise self._tampered(record.id, f"sealed field {field}") from None

    def get(self, client_id: str) -> Client | UnreadableClient:
        """The client's details, ID and licence numbers masked. Audited as a view."""
        self._require(Permission.CLIENT_READ, "view clients", f"client:{client_id}")
        record = self._load(client_id)
        self._audit.record(
            self.actor, "client.viewed", f"client:{client_id}", {"fields": list(SEALED)}
        )
        try:
            return self._to_client(record, self._cipher(client_id))
        except TamperedRecord:
            raise
        except UnreadableRecord as exc:
            return UnreadableClient(
                client_id, f"{record.first_name} {record.last_name}", exc.message
            )

    BILLING_FIELDS = ("street", "postal_code", "city", "country", "email")

    def billing_details(self, client_id: str, purpose: str = "invoice") -> tuple[str, Address, str]:
        """(name, address, email) of a client, for a document addressed to them (an invoice).

        Opens only those sealed fields, with the caller's client-read permission, and is
        audited as a read of them (by field name, never value).
        """
        self._require(Permission.CLIENT_READ, "view clients", f"client:{client_id}")
        record = self._load(client_id)
        cipher = self._cipher(client_id)
        plain = {f: self._open(cipher, record, f) for f in self.BILLING_FIELDS}
        self._audit.record(
            self.actor,
            "client.viewed",
            f"client:{client_id}",
            {"fields": list(self.BILLING_FIELDS), "purpose": purpose},
        )
        address = Address(plain["street"], plain["postal_code"], plain["city"], plain["country"])
        name = f"{record.first_name} {record.last_name}".strip()
        return name, address, plain["email"]

    def reveal(self, client_id: str, fields: tuple[str, ...] = REVEALABLE_FIELDS) -> dict[str, str]:
        self._require(
            Permission.CLIENT_REVEAL, "reveal ID and licence numbers", f"client:{client_id}"
        )
        self._require_recent_password()
        unknown = set(fields) - set(REVEALABLE_FIELDS)
        if unknown:
            raise ValidationError(f"These fields cannot be revealed: {', '.join(sorted(unknown))}.")
        record = self._load(client_id)
        cipher = self._cipher(client_id)
        values = {f: self._open(cipher, record, f) for f in fields}
        self._audit.record(
            self.actor, "client.revealed", f"client:{client_id}", {"fields": list(fields)}
        )
        return values

    def _draft(self, record: ClientRecord, cipher: BoundFieldCipher, masked: bool) -> ClientDraft:
        if not cipher.opens_id_fields and not masked:
            raise PermissionDenied("Your role cannot open ID and licence numbers.")
        plain = {
            f: HIDDEN
            if f in ID_FIELDS and not cipher.opens_id_fields
            else self._open(cipher, record, f)
            for f in SEALED
        }
        if masked:
            for f in REVEALABLE_FIELDS:
                if plain[f] != HIDDEN:
                    plain[f] = mask(plain[f])
        return self._draft_from_plain(record, plain)

    @staticmethod
    def _draft_from_plain(record: ClientRecord, plain: dict[str, str]) -> ClientDraft:
        return ClientDraft(
            first_name=record.first_name,
            last_name=record.last_name,
            birth_date=date.fromisoformat(plain["birth_date"]) if plain["birth_date"] else None,
            id_type=IdDocumentType(plain["id_type"]),
            id_number=plain["id_number"],
            licence_number=plain["licence_number"],
            email=plain["email"],
            phone=plain["phone"],
            address=Address(plain["street"], plain["postal_code"], plain["city"], plain["country"]),
            preferred_channel=ContactChannel(record.preferred_channel),
            marketing_consent=bool(record.consent.get("granted")),
            notes=plain["notes"],
        )

    def _to_client(
        self, record: ClientRecord, cipher: BoundFieldCipher, masked: bool = True
    ) -> Client:
        consent = record.consent
        return Client(
            id=record.id,
            version=record.version,
            status=ClientStatus(record.status),
            draft=self._draft(record, cipher, masked),
            consent=ConsentRecord(
                bool(consent.get("granted")),
                consent.get("at"),
                consent.get("by", ""),
                consent.get("policy_version", ""),
                consent.get("source", ""),
            ),
            created_at=record.created_at,
            created_by=record.created_by,
            updated_at=record.updated_at,
            last_activity=record.last_activity or record.updated_at,
            masked=masked,
        )

    # -- editing -------------------------------------------------------------------------
    def update(self, base: Client, draft: ClientDraft) -> Client:
        """Saves the edit unless someone saved since `base` was loaded (optimistic concurrency)."""
        self._require(Permission.CLIENT_WRITE, "edit clients", f"client:{base.id}")
        record = self._load(base.id)
        cipher = self._cipher(base.id)
        stored = self._draft(record, cipher, masked=False)
        # Masked numbers the user did not reveal and retype stay as stored.
        for f in REVEALABLE_FIELDS:
            if getattr(draft, f) == getattr(base.draft, f):
                draft = replace(draft, **{f: getattr(stored, f)})
        normalized, errors = self.validate(draft)
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        if same_document_number(normalized.licence_number, stored.licence_number):
            # kept as typed, compared normalised: the same number written another way is no edit
            normalized = replace(normalized, licence_number=stored.licence_number)
        if record.version != base.version and _flat(self._to_client(record, cipher).draft) != _flat(
            base.draft
        ):
            raise self._conflict(record, cipher, base)
        # (a newer version whose fields are those the form started from changed only what the
        # form does not edit, such as the status after a sale: the edit applies on top of it)
        changed = [f for f, v in _flat(normalized).items() if _flat(stored)[f] != v]
        if not changed:
            return self._to_client(record, cipher)
        self._refuse_duplicates(normalized, base.id, allow_shared_contact=True)
        now = self._clock.now()
        edited = replace(
            record,
            version=record.version + 1,  # what update_if_version writes: the seals bind it
            sealed_version=0,
            first_name=normalized.first_name,
            last_name=normalized.last_name,
            preferred_channel=normalized.preferred_channel.value,
            sealed=self._sealed(normalized, cipher, record.version + 1),
            lookups=self._lookup_ids(normalized),
            updated_at=now,
            last_activity=now,
            updated_by=self.actor,
        )
        if "marketing_consent" in changed:
            edited = replace(
                edited,
                consent=self._consent(normalized.marketing_consent, now, "client record edit"),
            )
        edited = self._signed(edited)
        # one intent per edit: two desks editing one client must not share (and delete) one
        edit = f"{base.id}:{secrets.token_hex(4)}"
        with self._intents.intent(
            "clients.reindex", edit, client_id=base.id, old_lk=record.lookups
        ):
            if not self._clients.update_if_version(edited, record.version):
                conflict = True
            else:
                conflict = False
                updated = self._load(base.id)
                self._index(updated, normalized, record.lookups)
        if conflict:
            raise self._conflict(self._load(base.id), cipher, base)
        self._audit.record(self.actor, "client.updated", f"client:{base.id}", {"fields": changed})
        self._changes.announce(ENTITY, ChangeKind.UPDATED, (base.id,))
        return self._to_client(updated, cipher)

    # -- status after a sale ---------------------------------------------------------------
    @between_services  # a desk must not make any client a customer across the server
    def record_purchase(self, client_id: str, deal_id: str) -> ClientStatus:
        """A deal of this client was invoiced: a prospect becomes a customer (ACTIVE); a
        customer stays one and a restricted client stays restricted. Returns the status.

        Called by the deal service when it marks a deal invoiced or delivered, with that
        caller's permission; idempotent, so a retry or a recovery after a crash (the invoice's
        completion runs `mark_invoiced` again) ends the same way, and the list entry is
        written again each time in case a crash came between the record and the list.
        Only plain fields change (status, activity): the sealed fields are not opened or
        sealed again (finance holds no key to ID numbers), so the new version keeps its seals
        bound to the version they were written at (`sealed_version`), under the record's MAC.
        """
        if not (
            self._session.can(Permission.INVOICE_WRITE) or self._session.can(Permission.DEAL_WRITE)
        ):
            self._require(Permission.INVOICE_WRITE, "record a sale", f"client:{client_id}")
        for _ in range(10):
            record = self._load(client_id)
            if record.status != ClientStatus.PROSPECT.value:
                self._relist(record)
                return ClientStatus(record.status)
            now = self._clock.now()
            bought = self._signed(
                replace(
                    record,
                    version=record.version + 1,
                    sealed_version=record.seal_version,
                    status=ClientStatus.CUSTOMER.value,
                    updated_at=now,
                    updated_by=self.actor,
                    last_activity=max(now, record.last_activity or now),
                )
            )
            if self._clients.update_if_version(bought, record.version):
                self._relist(self._load(client_id))
                self._audit.record(
                    self.actor,
                    AuditAction.CLIENT_BECAME_CUSTOMER,
                    f"client:{client_id}",
                    {"deal": deal_id, "from": record.status, "to": ClientStatus.CUSTOMER.value},
                )
                self._changes.announce(ENTITY, ChangeKind.UPDATED, (client_id,))
                return ClientStatus.CUSTOMER
            # edited on another desk meanwhile: read it again
        raise ConcurrentModification(
            "This client is being changed on other desks; please try again.", [], None
        )

    def _relist(self, record: ClientRecord) -> None:
        """The list entry of a record whose plain fields changed: the city and phone the list
        shows (sealed for the list) are kept from its current entry."""
        current = self._list.get(record.id)
        if current is None:  # never listed (an interrupted registration): from the record
            draft = self._draft(record, self._cipher(record.id), masked=True)
            self._list.put(self._list_entry(record, draft))
            return
        item, keys = self._list_entry(record, None, sealed_extra=current.sealed_extra)
        self._list.put((item, keys))

    def _conflict(
        self, current_record: ClientRecord, cipher: BoundFieldCipher, base: Client
    ) -> ConcurrentModification:
        current = self._to_client(current_record, cipher)
        theirs, ours = _flat(current.draft), _flat(base.draft)
        changed = [FIELD_LABELS[f] for f in theirs if theirs[f] != ours[f]]
        self._audit.record(
            self.actor,
            "client.edit_conflict",
            f"client:{base.id}",
            {"their_version": current.version, "our_version": base.version},
        )
        return ConcurrentModification(
            f"{current_record.updated_by or 'Someone'} saved this client while you were editing. "
            "Nothing was overwritten: review their changes, then make yours again.",
            changed,
            current,
        )

    # -- list and search -----------------------------------------------------------------
    def count(self) -> int:
        self._require(Permission.CLIENT_READ, "view clients")
        return self._list.count()

    def page(
        self,
        start: int,
        count: int,
        sort: ClientSort | str = ClientSort.NAME,
        descending: bool = False,
        progress: Progress | Callable | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[ClientRow]:
        """Rows start..start+count in the order `sort`. Costs one or two index reads, whatever
        the sort, so it takes no progress (the parameters stay for older callers)."""
        self._require(Permission.CLIENT_READ, "view clients")
        sort = ClientSort(sort or ClientSort.NAME)
        items = self._list.page(sort.value, max(0, start), max(0, count), descending)
        rows = [self._row(item) for item in items]
        self._audit_list(rows, "list")
        return rows

    def list_page(self, request: PageRequest) -> Page[ClientRow]:
        """A page of the list, or of a search when `request.query` is set, with the total."""
        if request.sort and request.sort not in self.SORTS:
            raise ValidationError(f"Clients cannot be sorted by {request.sort}.")
        if request.query.strip():
            rows = self.search(request.query)
            if request.descending:
                rows.reverse()
            if request.sort and request.sort != self.SORTS[0]:
                rows = sorted(
                    rows, key=_row_order(ClientSort(request.sort)), reverse=request.descending
                )
            shown = rows[request.start : request.start + request.count]
            return Page(tuple(shown), len(rows), request.start)
        total = self.count()
        rows = self.page(
            request.start, request.count, request.sort or self.SORTS[0], request.descending
        )
        return Page(tuple(rows), total, request.start)

    def list_position(self, client_id: str, request: PageRequest) -> int:
        """The row at which this client stands in the list `request` asks for (its sort, its
        search), so that a screen can fetch that page and select them; -1 when the client
        is not in it. Costs two index reads without a search, a search with one."""
        self._require(Permission.CLIENT_READ, "view clients")
        if request.sort and request.sort not in self.SORTS:
            raise ValidationError(f"Clients cannot be sorted by {request.sort}.")
        if request.query.strip():
            rows = self.list_page(replace(request, start=0, count=SEARCH_LIMIT)).rows
            return next((i for i, r in enumerate(rows) if r.id == client_id), -1)
        return self._list.position(client_id, request.sort or self.SORTS[0], request.descending)

    def rows_for(self, client_ids: list[str]) -> list[ClientRow]:
        """The list rows of these clients (those that exist), for other lists that name
        clients (the deal list); one `_id` lookup each, audited as a list view."""
        self._require(Permission.CLIENT_READ, "view clients")
        items = (self._list.get(cid) for cid in dict.fromkeys(client_ids))
        rows = [self._row(item) for item in items if item is not None]
        self._audit_list(rows, "list")
        return rows

    def search(self, text: str) -> list[ClientRow]:
        """Name prefixes in any order, ignoring case and accents ("zelj kov" finds Željko
        Kovačević), or an exact email, phone or ID number. Rows in name order."""
        self._require(Permission.CLIENT_READ, "search clients")
        exact = self._exact_lookup_ids(text)
        if exact:
            rows = self._rows_for_ids(exact)
            self._audit.record(
                self.actor,
                "client.exact_search",
                "",
                {"kinds": sorted({k for k, _ in exact}), "results": len(rows)},
            )
        else:
            query = words(text)
            rows = [self._row(i) for i in self._list.search(query, SEARCH_LIMIT)] if query else []
        self._audit_list(rows, "search")
        return rows

    def _exact_lookup_ids(self, text: str) -> list[tuple[str, str]]:
        text = text.strip()
        if "@" in text:
            return [("email", f"email:{self._tier.blind_index('email', text.lower())}")]
        candidates = []
        digits = sum(ch.isdigit() for ch in text)
        if digits >= 6:
            try:
                phone = parse_phone(text, self._phone_region())
                candidates.append(("phone", f"phone:{self._tier.blind_index('phone', phone)}"))
            except ValueError:
                pass
        if digits >= 3 and " " not in text.strip():
            number = normalize_document_number(text)
            candidates.append(
                ("id_number", f"id_number:{self._tier.blind_index('id_number', number)}")
            )
        return candidates

    def _rows_for_ids(self, lookups: list[tuple[str, str]]) -> list[ClientRow]:
        rows: dict[str, ClientRow] = {}
        for _, lookup_id in lookups:
            for cid in self._lookups.find(lookup_id):
                item = self._list.get(cid) if cid not in rows else None
                if item:
                    rows[cid] = self._row(item)
        return sorted(rows.values(), key=_row_order(ClientSort.NAME))

    def _row(self, item: ClientListItem) -> ClientRow:
        """Only rows shown are opened; the index keeps city and phone sealed."""
        try:
            extra = json.loads(
                self._tier.open_directory(item.id, base64.b64decode(item.sealed_extra))
            )
        except (UnreadableRecord, ValueError):
            extra = {"city": "", "phone": "unreadable"}
        return ClientRow(
            id=item.id,
            display_name=f"{item.first_name} {item.last_name}".strip(),
            city=extra.get("city", ""),
            phone_masked=extra.get("phone", ""),
            status=ClientStatus(item.status),
            last_activity=datetime.fromisoformat(item.last_activity)
            if item.last_activity
            else None,
        )

    def _audit_list(self, rows: list[ClientRow], how: str) -> None:
        if rows:  # the list shows city and a masked phone: a read of personal data (P11)
            self._audit.record(
                self.actor, f"client.{how}_viewed", "", {"clients": [r.id for r in rows]}
            )

    # -- recovery ------------------------------------------------------------------------
    def recover_pending(self) -> int:
        """Finishes the writes an interruption left half-done (every registered kind).

        Only a session that holds both client keys can: the others leave them for one."""
        if not {TIER_CLIENTS, TIER_IDS} <= set(self._session.tier_keys):
            return 0
        return self._intents.recover()

    def _recover_upgrade_keys(self, intent: IntentRecord) -> None:
        """Moves clients written before keys by need (data keys wrapped by a key derived from
        the organisation key, fields bound to client and field only, no MAC) to the tier keys,
        version-bound seals and MACs; then rebuilds the lookups and the list under the new
        keys. Idempotent: a client already moved is skipped, an interrupted one finished."""
        legacy = OrgKeys(self._session.org_key)
        ids_key = self._tier_key(TIER_IDS)
        moved = 0
        for record in self._clients.all():
            if record.mac:
                continue
            entry = self._keys.get_entry(record.id)
            if entry is None:
                continue  # shredded: nothing to move
            wrapped, version = entry
            try:
                if version >= 2:
                    data_key = self._tier.unwrap_client_key(record.id, wrapped)
                else:
                    data_key = legacy.unwrap_client_key(record.id, wrapped)
                    self._keys.rewrap(record.id, self._tier.wrap_client_key(record.id, data_key))
                old = FieldCipher(record.id, data_key)
                plain = {f: old.decrypt(f, record.sealed[f]) for f in SEALED}
            except (UnreadableRecord, KeyError):
                continue  # damaged before the upgrade: left as it is, shown as unreadable
            draft = self._draft_from_plain(record, plain)
            cipher = BoundFieldCipher(record.id, data_key, ids_key)
            upgraded = self._signed(
                replace(
                    record,
                    version=record.version + 1,
                    sealed_version=0,
                    sealed=self._sealed(draft, cipher, record.version + 1),
                    lookups=self._lookup_ids(draft),
                )
            )
            moved += self._clients.update_if_version(upgraded, record.version)
        # The old lookups were keyed with the organisation key (which admins hold): all go.
        self._lookups.clear()
        saved = list(self._clients.all())
        self._lookups.add_many([(lk, r.id) for r in saved for lk in r.lookups.values()])
        self._put_list_entries(saved)
        self._audit.record(self.actor, AuditAction.CLIENT_KEYS_UPGRADED, "", {"count": moved})
        self._changes.announce(ENTITY, ChangeKind.MANY)

    def _recover_past_purchases(self, intent: IntentRecord) -> None:
        """Prospects with a deal invoiced before the rule "invoiced makes a customer" become
        customers (storage/schema.py `_m6_customers_from_past_sales` lists them): through
        `record_purchase`, so each change is signed, listed, announced and audited with its
        deal, and a client already a customer (or restricted, or removed) is left as it is.
        Idempotent: run again, it changes nothing more."""
        for entry in intent.data.get("purchases", []):
            try:
                self.record_purchase(entry["client"], entry["deal"])
            except NotFound:
                continue  # removed since: nothing to change
            except (UnreadableRecord, ConcurrentModification):
                # an edited record (already flagged by `_load`) or one too busy: the others go on
                log.warning("client %s kept its status after a past sale", entry["client"])

    def _reindex(self, client_id: str, previous_lookups: dict) -> bool:
        record = self._clients.get(client_id)
        if record is None:
            return False
        draft = self._draft(record, self._cipher(client_id), masked=False)
        self._index(record, draft, previous_lookups)
        return True

    def _recover_register(self, intent: IntentRecord) -> None:
        client_id = intent.data.get("client_id", "")
        if client_id and not self._reindex(client_id, {}):
            self._keys.destroy(client_id)  # nothing was saved: drop the orphan key
        if client_id:
            self._changes.announce(ENTITY, ChangeKind.UPDATED, (client_id,))

    def _recover_reindex(self, intent: IntentRecord) -> None:
        client_id = intent.data.get("client_id", "")
        if client_id and self._reindex(client_id, dict(intent.data.get("old_lk") or {})):
            self._changes.announce(ENTITY, ChangeKind.UPDATED, (client_id,))

    def _recover_import(self, intent: IntentRecord) -> None:
        """Indexes the batch's clients that were saved; drops the keys of those that were not."""
        saved = []
        for client_id in intent.data.get("client_ids", []):
            record = self._clients.get(client_id)
            if record is None:
                self._keys.destroy(client_id)
            else:
                saved.append(record)
        self._lookups.add_many([(lk, r.id) for r in saved for lk in r.lookups.values()])
        self._put_list_entries(saved)
        self._changes.announce(ENTITY, ChangeKind.MANY)

    def _recover_rebuild_list(self, intent: IntentRecord) -> None:
        """Builds the list index from the client documents (after an upgrade)."""
        self._put_list_entries(self._clients.all())
        self._changes.announce(ENTITY, ChangeKind.MANY)

    def _put_list_entries(self, records) -> None:
        """One bulk load: a sorted pass over the index, or `put_many` when the records are few."""
        batch: list[tuple[ClientListItem, ClientListKeys]] = []
        for record in records:
            try:
                draft = self._draft(record, self._cipher(record.id), masked=False)
            except UnreadableRecord:
                continue
            batch.append(self._list_entry(record, draft))
        if batch:
            self._list.bulk_load(batch)


def _row_order(sort: ClientSort) -> Callable[[ClientRow], tuple]:
    """The service's order for rows it holds (search results sorted by another column)."""
    if sort is ClientSort.STATUS:
        return lambda r: (_STATUS_ORDER[r.status], _name_key(r))
    if sort is ClientSort.LAST_ACTIVITY:
        return lambda r: (r.last_activity or datetime.min.replace(tzinfo=UTC), _name_key(r))
    return lambda r: (_name_key(r),)


def _name_key(row: ClientRow) -> str:
    first, _, last = row.display_name.rpartition(" ")
    return sort_key(last, first)
