"""Registering, finding, reading and editing clients, with their personal data encrypted.

Each client has a data key of its own (wrapped by the organisation key); every
personal field but the name is sealed with it. Exact lookups go through keyed
blind indexes; the list and name search go through the directory.

A registration or edit touches several documents without a transaction, so it
first records its intent; `recover_pending` finishes any that an interruption
left half-done. Every step is idempotent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from alko_desk import PRIVACY_POLICY_VERSION
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
    NotFound,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.text import fold
from alko_desk.models.users import Permission, Session
from alko_desk.security.crypto import FieldCipher, OrgKeys, new_key
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService
from alko_desk.services.client_directory import ClientDirectory, DirectoryListing
from alko_desk.services.client_validation import (
    mask_phone,
    normalize_document_number,
    parse_phone,
    same_document_number,
    validate_draft,
)
from alko_desk.services.clock import Clock
from alko_desk.storage.clients_repo import (
    ClientKeyRepository,
    ClientRepository,
    LookupRepository,
    PendingRepository,
)

LOOKUP_KINDS = ("email", "phone", "id_number")
FIELD_LABELS = {f.name: f.label for f in CLIENT_FIELDS}


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


class ClientService(SessionService):
    def __init__(
        self,
        clients: ClientRepository,
        keys: ClientKeyRepository,
        lookups: LookupRepository,
        directory: ClientDirectory,
        pending: PendingRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        phone_region: Callable[[], str],
    ) -> None:
        super().__init__(session, audit, clock)
        self._clients = clients
        self._keys = keys
        self._lookups = lookups
        self._directory = directory
        self._pending = pending
        self._org = OrgKeys(session.org_key)
        self._phone_region = phone_region

    # -- registration --------------------------------------------------------------------
    def validate(self, draft: ClientDraft) -> tuple[ClientDraft, dict[str, str]]:
        return validate_draft(draft, self._phone_region(), self._clock.now().date())

    def register(
        self, client_id: str, draft: ClientDraft, *, allow_shared_contact: bool = False
    ) -> Client:
        self._require(Permission.CLIENT_WRITE, "register clients")
        existing = self._clients.get(client_id)
        if existing:  # the same form saved twice: one client
            return self._to_client(existing, self._cipher(client_id))
        normalized, errors = self.validate(draft)
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        self._refuse_duplicates(normalized, None, allow_shared_contact)
        now = self._clock.now()
        doc = {
            "_id": client_id,
            "version": 1,
            "status": ClientStatus.PROSPECT.value,
            "consent": self._consent(normalized.marketing_consent, now, "registration form"),
            "created_at": now,
            "created_by": self.actor,
            "updated_at": now,
            "last_activity": now,
        }
        op_id = f"register:{client_id}"
        self._pending.begin(op_id, {"kind": "register", "client_id": client_id, "at": now})
        data_key = new_key()
        if not self._keys.insert(client_id, self._org.wrap_client_key(client_id, data_key)):
            data_key = self._data_key(client_id)  # an interrupted earlier attempt made it
        cipher = FieldCipher(client_id, data_key)
        doc.update(self._content_fields(normalized, cipher))
        if not self._clients.insert(doc):
            doc = self._clients.get(client_id)
        self._index(doc, normalized, previous_lookups={}, previous_dir=[])
        self._audit.record(
            self.actor,
            "client.registered",
            f"client:{client_id}",
            {"marketing_consent": normalized.marketing_consent},
        )
        self._pending.done(op_id)
        return self._to_client(doc, cipher)  # `dir`, the one field indexing added, is not shown

    def now(self) -> datetime:
        return self._clock.now()

    def register_many(
        self,
        items: list[tuple[str, ClientDraft]],
        last_activity: dict[str, datetime] | None = None,
        registered: dict[str, datetime] | None = None,
    ) -> int:
        """Registers a batch of new clients in bulk (demo data, imports); same checks, fewer round trips.

        `last_activity` carries when an imported client was last in contact, where known, and
        `registered` when they first became a client (never after their last activity).
        """
        self._require(Permission.CLIENT_WRITE, "register clients")
        now = self._clock.now()
        docs, keys, lookups, listings = [], [], [], []
        for client_id, draft in items:
            normalized, errors = self.validate(draft)
            if errors:
                raise ValidationError(f"{draft.display_name}: {'; '.join(errors.values())}", errors)
            data_key = new_key()
            keys.append((client_id, self._org.wrap_client_key(client_id, data_key)))
            doc = {
                "_id": client_id,
                "version": 1,
                "status": ClientStatus.PROSPECT.value,
                "consent": self._consent(normalized.marketing_consent, now, "import"),
                "created_at": (registered or {}).get(client_id, now),
                "created_by": self.actor,
                "updated_at": now,
                "last_activity": (last_activity or {}).get(client_id, now),
                **self._content_fields(normalized, FieldCipher(client_id, data_key)),
            }
            listing = self._listing(doc, normalized)
            doc["dir"] = self._directory.placement(self._directory.entries_for(listing))
            docs.append(doc)
            listings.append(listing)
            lookups.extend((lookup_id, client_id) for lookup_id in doc["lk"].values())
        op_id = f"import:{items[0][0]}" if items else "import"
        self._pending.begin(
            op_id, {"kind": "import", "client_ids": [cid for cid, _ in items], "at": now}
        )
        self._keys.insert_many(keys)
        self._clients.insert_many(docs)
        self._lookups.add_many(lookups)
        self._directory.index_many(listings)
        self._audit.record(self.actor, "client.imported", "", {"count": len(docs), "batch": op_id})
        self._pending.done(op_id)
        return len(docs)

    def _consent(self, granted: bool, at: datetime, source: str) -> dict:
        return {
            "granted": granted,
            "at": at,
            "by": self.actor,
            "policy_version": PRIVACY_POLICY_VERSION,
            "source": source,
        }

    def _content_fields(self, draft: ClientDraft, cipher: FieldCipher) -> dict:
        flat = _flat(draft)
        return {
            "first_name": draft.first_name,
            "last_name": draft.last_name,
            "name_fold": f"{fold(draft.last_name)} {fold(draft.first_name)}",
            "preferred_channel": draft.preferred_channel.value,
            "enc": {f: cipher.encrypt(f, flat[f]) for f in SEALED},
            "lk": self._lookup_ids(draft),
        }

    def _lookup_ids(self, draft: ClientDraft) -> dict[str, str]:
        values = {"email": draft.email, "phone": draft.phone, "id_number": draft.id_number}
        return {k: f"{k}:{self._org.blind_index(k, v)}" for k, v in values.items() if v}

    def _index(
        self, doc: dict, draft: ClientDraft, previous_lookups: dict, previous_dir: list
    ) -> None:
        client_id = doc["_id"]
        wanted = doc.get("lk", {})
        for kind, lookup_id in previous_lookups.items():
            if wanted.get(kind) != lookup_id:
                self._lookups.remove(lookup_id, client_id)
        for lookup_id in wanted.values():
            self._lookups.add(lookup_id, client_id)
        placed = self._directory.index(self._listing(doc, draft), previous_dir)
        self._clients.touch(client_id, {"dir": placed})

    def _listing(self, doc: dict, draft: ClientDraft) -> DirectoryListing:
        return DirectoryListing(
            client_id=doc["_id"],
            first_name=draft.first_name,
            last_name=draft.last_name,
            status=ClientStatus(doc["status"]),
            last_activity=doc.get("last_activity"),
            city=draft.address.city,
            phone_masked=mask_phone(draft.phone),
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
            same = fold(f"{other['first_name']} {other['last_name']}") == fold(draft.display_name)
            matches.append(
                DuplicateMatch(
                    cid, f"{other['first_name']} {other['last_name']}", tuple(kinds), same
                )
            )
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
        return self._org.unwrap_client_key(client_id, wrapped)

    def data_key_for_documents(self, client_id: str) -> bytes:
        """The client's data key, for the documents service to seal and open their ID documents.

        Only for callers allowed to see clients' documents; the client must exist.
        """
        self._require(Permission.CLIENT_REVEAL, "see clients' ID documents", f"client:{client_id}")
        self._load(client_id)
        return self._data_key(client_id)

    def _cipher(self, client_id: str) -> FieldCipher:
        return FieldCipher(client_id, self._data_key(client_id))

    def _load(self, client_id: str) -> dict:
        doc = self._clients.get(client_id)
        if doc is None:
            raise NotFound("This client no longer exists.")
        return doc

    def get(self, client_id: str) -> Client | UnreadableClient:
        """The client's details, ID and licence numbers masked. Audited as a view."""
        self._require(Permission.CLIENT_READ, "view clients", f"client:{client_id}")
        doc = self._load(client_id)
        self._audit.record(
            self.actor, "client.viewed", f"client:{client_id}", {"fields": list(SEALED)}
        )
        try:
            return self._to_client(doc, self._cipher(client_id))
        except UnreadableRecord as exc:
            return UnreadableClient(
                client_id, f"{doc['first_name']} {doc['last_name']}", exc.message
            )

    def reveal(self, client_id: str, fields: tuple[str, ...] = REVEALABLE_FIELDS) -> dict[str, str]:
        self._require(
            Permission.CLIENT_REVEAL, "reveal ID and licence numbers", f"client:{client_id}"
        )
        unknown = set(fields) - set(REVEALABLE_FIELDS)
        if unknown:
            raise ValidationError(f"These fields cannot be revealed: {', '.join(sorted(unknown))}.")
        doc = self._load(client_id)
        cipher = self._cipher(client_id)
        values = {f: cipher.decrypt(f, doc["enc"][f]) for f in fields}
        self._audit.record(
            self.actor, "client.revealed", f"client:{client_id}", {"fields": list(fields)}
        )
        return values

    def _draft(self, doc: dict, cipher: FieldCipher, masked: bool) -> ClientDraft:
        enc = doc["enc"]
        plain = {f: cipher.decrypt(f, enc[f]) for f in SEALED}
        if masked:
            for f in REVEALABLE_FIELDS:
                plain[f] = mask(plain[f])
        return ClientDraft(
            first_name=doc["first_name"],
            last_name=doc["last_name"],
            birth_date=date.fromisoformat(plain["birth_date"]) if plain["birth_date"] else None,
            id_type=IdDocumentType(plain["id_type"]),
            id_number=plain["id_number"],
            licence_number=plain["licence_number"],
            email=plain["email"],
            phone=plain["phone"],
            address=Address(plain["street"], plain["postal_code"], plain["city"], plain["country"]),
            preferred_channel=ContactChannel(doc.get("preferred_channel", "email")),
            marketing_consent=bool(doc.get("consent", {}).get("granted")),
            notes=plain["notes"],
        )

    def _to_client(self, doc: dict, cipher: FieldCipher, masked: bool = True) -> Client:
        consent = doc.get("consent", {})
        return Client(
            id=doc["_id"],
            version=doc["version"],
            status=ClientStatus(doc["status"]),
            draft=self._draft(doc, cipher, masked),
            consent=ConsentRecord(
                bool(consent.get("granted")),
                consent.get("at"),
                consent.get("by", ""),
                consent.get("policy_version", ""),
                consent.get("source", ""),
            ),
            created_at=doc["created_at"],
            created_by=doc.get("created_by", ""),
            updated_at=doc["updated_at"],
            last_activity=doc.get("last_activity") or doc["updated_at"],
            masked=masked,
        )

    # -- editing -------------------------------------------------------------------------
    def update(self, base: Client, draft: ClientDraft) -> Client:
        """Saves the edit unless someone saved since `base` was loaded (optimistic concurrency)."""
        self._require(Permission.CLIENT_WRITE, "edit clients", f"client:{base.id}")
        doc = self._load(base.id)
        cipher = self._cipher(base.id)
        stored = self._draft(doc, cipher, masked=False)
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
        if doc["version"] != base.version:
            raise self._conflict(doc, cipher, base)
        changed = [f for f, v in _flat(normalized).items() if _flat(stored)[f] != v]
        if not changed:
            return self._to_client(doc, cipher)
        self._refuse_duplicates(normalized, base.id, allow_shared_contact=True)
        now = self._clock.now()
        fields = {
            **self._content_fields(normalized, cipher),
            "updated_at": now,
            "last_activity": now,
            "updated_by": self.actor,
        }
        if "marketing_consent" in changed:
            fields["consent"] = self._consent(
                normalized.marketing_consent, now, "client record edit"
            )
        op_id = f"reindex:{base.id}"
        self._pending.begin(
            op_id,
            {
                "kind": "reindex",
                "client_id": base.id,
                "old_lk": doc.get("lk", {}),
                "old_dir": doc.get("dir", []),
                "at": now,
            },
        )
        if not self._clients.update_if_version(base.id, base.version, fields):
            self._pending.done(op_id)
            raise self._conflict(self._load(base.id), cipher, base)
        updated = self._load(base.id)
        self._index(updated, normalized, doc.get("lk", {}), doc.get("dir", []))
        self._pending.done(op_id)
        self._audit.record(self.actor, "client.updated", f"client:{base.id}", {"fields": changed})
        return self._to_client(updated, cipher)

    def _conflict(
        self, current_doc: dict, cipher: FieldCipher, base: Client
    ) -> ConcurrentModification:
        current = self._to_client(current_doc, cipher)
        theirs, ours = _flat(current.draft), _flat(base.draft)
        changed = [FIELD_LABELS[f] for f in theirs if theirs[f] != ours[f]]
        self._audit.record(
            self.actor,
            "client.edit_conflict",
            f"client:{base.id}",
            {"their_version": current.version, "our_version": base.version},
        )
        return ConcurrentModification(
            f"{current_doc.get('updated_by') or 'Someone'} saved this client while you were editing. "
            "Nothing was overwritten: review their changes, then make yours again.",
            changed,
            current,
        )

    # -- list and search -----------------------------------------------------------------
    def count(self) -> int:
        self._require(Permission.CLIENT_READ, "view clients")
        return self._directory.total()

    def page(
        self,
        start: int,
        count: int,
        sort: ClientSort = ClientSort.NAME,
        descending: bool = False,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[ClientRow]:
        self._require(Permission.CLIENT_READ, "view clients")
        rows = self._directory.page(
            start, count, sort=sort, descending=descending, progress=progress, cancelled=cancelled
        )
        self._audit_list(rows, "list")
        return rows

    def search(self, text: str) -> list[ClientRow]:
        """Name prefixes, or an exact email, phone or ID number."""
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
            rows = self._directory.search(text)
        self._audit_list(rows, "search")
        return rows

    def _exact_lookup_ids(self, text: str) -> list[tuple[str, str]]:
        text = text.strip()
        if "@" in text:
            return [("email", f"email:{self._org.blind_index('email', text.lower())}")]
        candidates = []
        digits = sum(ch.isdigit() for ch in text)
        if digits >= 6:
            try:
                phone = parse_phone(text, self._phone_region())
                candidates.append(("phone", f"phone:{self._org.blind_index('phone', phone)}"))
            except ValueError:
                pass
        if digits >= 3 and " " not in text.strip():
            number = normalize_document_number(text)
            candidates.append(
                ("id_number", f"id_number:{self._org.blind_index('id_number', number)}")
            )
        return candidates

    def _rows_for_ids(self, lookups: list[tuple[str, str]]) -> list[ClientRow]:
        rows: dict[str, ClientRow] = {}
        for _, lookup_id in lookups:
            for cid in self._lookups.find(lookup_id):
                doc = self._clients.get(cid) if cid not in rows else None
                if doc:
                    rows[cid] = self._row_from_doc(doc)
        return list(rows.values())

    def _row_from_doc(self, doc: dict) -> ClientRow:
        try:
            cipher = self._cipher(doc["_id"])
            city = cipher.decrypt("city", doc["enc"]["city"])
            phone = mask_phone(cipher.decrypt("phone", doc["enc"]["phone"]))
        except UnreadableRecord:
            city, phone = "", "unreadable"
        return ClientRow(
            id=doc["_id"],
            display_name=f"{doc['first_name']} {doc['last_name']}",
            city=city,
            phone_masked=phone,
            status=ClientStatus(doc["status"]),
            last_activity=doc.get("last_activity"),
        )

    def _audit_list(self, rows: list[ClientRow], how: str) -> None:
        if rows:  # the list shows city and a masked phone: a read of personal data (P11)
            self._audit.record(
                self.actor, f"client.{how}_viewed", "", {"clients": [r.id for r in rows]}
            )

    # -- recovery ------------------------------------------------------------------------
    def recover_pending(self) -> int:
        """Finishes registrations and edits that an interruption left half-done."""
        finished = 0
        for op in self._pending.all():
            if op.get("kind") == "import":
                for client_id in op.get("client_ids", []):
                    self._pending.begin(
                        f"register:{client_id}", {"kind": "register", "client_id": client_id}
                    )
                self._pending.done(op["_id"])
                return self.recover_pending()
            client_id = op.get("client_id")
            doc = self._clients.get(client_id) if client_id else None
            if doc is None:
                if op.get("kind") == "register" and client_id:
                    self._keys.destroy(client_id)  # nothing was saved: drop the orphan key
            else:
                draft = self._draft(doc, self._cipher(client_id), masked=False)
                self._index(
                    doc, draft, op.get("old_lk", {}), op.get("old_dir", []) or doc.get("dir", [])
                )
            self._pending.done(op["_id"])
            finished += 1
        return finished
