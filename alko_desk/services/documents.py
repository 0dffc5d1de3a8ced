"""Clients' ID documents: adding, listing, viewing, exporting and deleting them, encrypted.

Every page is sealed (AES-256-GCM) before it leaves this service, so stores and the outbox
only ever hold ciphertext, with the client's ID-document key: derived from the client's data
key and the "ids" tier key (`id_document_key`), so that only the roles that may reveal ID
numbers open them (finance, which reads clients, holds data keys but not the "ids" key), and
destroying the client's data key makes the pages unreadable with the rest of their data.
The document's number, issuing country and expiry are sealed the same way. A page's
associated data binds the client, the document and the asset id; the details' binds the
document's type, its pages and who added it: a page moved to another document, or a type
changed in the database, does not open. Documents stored before this (no "seal" in the
record) were sealed with the client's data key alone: they are still read with it, and
re-sealed with their own key by the first sales desk that runs its upload round
(`reseal_legacy`), after which the database records that none is left.

Adding a document: each page is put in this desk's outbox first, then the record is
written, then the pages are uploaded and leave the outbox. A crash or a lost network at
any point loses nothing: the outbox retries (`flush_outbox`) with the same asset ids, and
`reconcile` removes assets that a crash left without a record.

Who may do what (on the existing permissions): sales add, view and delete (client.write
and client.reveal), managers view (client.reveal), finance and admins neither. Admins
choose where documents are stored (settings.admin). The reconciliation, which deletes from
the store, is for sales and admins. Every listing, view, export and deletion is audited, by
client and document id, and so is every refusal.

In a showroom this service runs on the server only (remote/server.py): desks send the
pages' bytes over TLS and the server seals and uploads them. The Cloudinary credentials
are sealed under the organisation key in the database and opened only inside this service
(`_credentials`, `_current_store`: private, so the remote API never offers them); what a
desk can ask about the store is a `StorageStatus`, which carries a hint of the API key
and never the secret. A single desk runs the same service in its own process, with the
same sealed credentials.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from alko_desk.models.audit import AuditAction
from alko_desk.models.documents import (
    DocumentDraft,
    DocumentInfo,
    DocumentPage,
    DocumentType,
    FlushResult,
    MrzReading,
    PageContent,
    StorageStatus,
    UploadState,
)
from alko_desk.models.errors import (
    AlkoError,
    NotFound,
    TamperedRecord,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.listing import Progress
from alko_desk.models.users import Permission, Session
from alko_desk.security.crypto import OrgKeys, derive_key, open_sealed, seal
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService
from alko_desk.services.clock import Clock
from alko_desk.services.images import DEFAULT_MAX_SIDE, PAGE_SIDE_RANGE, media_type_of
from alko_desk.storage.document_outbox import DocumentOutbox
from alko_desk.storage.document_store import (
    CloudinaryCredentials,
    CloudinaryDocumentStore,
    DocumentStore,
    LocalDocumentStore,
    StoreUnavailable,
    new_asset_id,
)
from alko_desk.storage.documents_repo import DocumentRepository, DocumentSettingsRepository

MAX_PAGE_BYTES = 20 * 1024 * 1024
SEAL_VERSION = 2  # sealed with the ID-document key, bound to the document (1: the data key)
RESEAL_RETRY_SECONDS = 600  # a pass that could not finish (the store unreachable) waits
RESEALED = "resealed_v2"  # in the store settings: no document sealed the older way is left
MAX_PAGES = 10
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
}


def new_document_id() -> str:
    return os.urandom(12).hex()


class DocumentService(SessionService):
    def __init__(
        self,
        records: DocumentRepository,
        settings: DocumentSettingsRepository,
        outbox: DocumentOutbox,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        *,
        client_key: Callable[[str], bytes],
        default_folder: Path,
        document_key: Callable[[str], bytes] | None = None,
        store_override: DocumentStore | None = None,
        upload_timeout: float = 15.0,
    ) -> None:
        super().__init__(session, audit, clock)
        self._records = records
        self._settings = settings
        self._outbox = outbox
        self._client_key = client_key  # opens documents stored before they had their own key
        self._document_key = document_key or client_key
        self._default_folder = Path(default_folder)
        self._settings_key = derive_key(session.org_key, "alko-desk/document-settings/v1")
        self._override = store_override
        self._timeout = upload_timeout
        self._stores: dict[str, DocumentStore] = {}
        self._reseal_tried = -RESEAL_RETRY_SECONDS

    # -- where documents go --------------------------------------------------------------
    def _credentials(self, *, for_reading: bool = False) -> CloudinaryCredentials | None:
        """The active Cloudinary account; for reading, also the one used before a switch."""
        settings = self._settings.get()
        sealed = settings.get("cloudinary") or (
            settings.get("cloudinary_previous") if for_reading else None
        )
        if not sealed:
            return None
        fields = json.loads(open_sealed(self._settings_key, sealed, "cloudinary-credentials"))
        return CloudinaryCredentials(**fields)

    def _local_folder(self) -> Path:
        folder = self._settings.get().get("local_folder")
        return Path(folder) if folder else self._default_folder

    def _store_named(self, name: str) -> DocumentStore:
        if self._override is not None:
            return self._override
        if name not in self._stores:
            if name == "cloudinary":
                credentials = self._credentials(for_reading=True)
                if credentials is None:
                    raise StoreUnavailable(
                        "This document is on Cloudinary, but no Cloudinary account is set up.",
                        hint="An admin enters the Cloudinary credentials in Settings.",
                    )
                self._stores[name] = CloudinaryDocumentStore(credentials, timeout=self._timeout)
            else:
                self._stores[name] = LocalDocumentStore(self._local_folder())
        return self._stores[name]

    def _current_store(self) -> DocumentStore:
        if self._override is not None:
            return self._override
        return self._store_named(
            "cloudinary" if self._settings.get().get("cloudinary") else "local"
        )

    def storage_status(self) -> StorageStatus:
        credentials = self._credentials()
        if credentials:
            return StorageStatus("cloudinary", credentials.cloud_name, credentials.masked_key())
        return StorageStatus("local", folder=str(self._local_folder()))

    def configure_cloudinary(
        self, cloud_name: str, api_key: str, api_secret: str, *, upload_prefix: str = ""
    ) -> None:
        """Stored sealed under the organisation key; no screen ever shows the secret again."""
        self._require(Permission.SETTINGS_ADMIN, "change where documents are stored", "documents")
        self._require_recent_password()  # a sensitive setting, as account changes are
        errors = {}
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cloud_name.strip()):
            errors["cloud_name"] = "The cloud name is the short name in your Cloudinary console."
        if not re.fullmatch(r"\d{6,20}", api_key.strip()):
            errors["api_key"] = "The API key is a number of 6 to 20 digits."
        if len(api_secret.strip()) < 8:
            errors["api_secret"] = "Paste the API secret from the Cloudinary console."
        if errors:
            raise ValidationError("Please correct the Cloudinary credentials.", errors)
        fields = {
            "cloud_name": cloud_name.strip(),
            "api_key": api_key.strip(),
            "api_secret": api_secret.strip(),
            "upload_prefix": upload_prefix.strip(),
            # This organisation's own folder: the reconciliation removes unknown assets, and
            # must never touch another database's (a test desk on the same account).
            "folder": f"alko-desk-{OrgKeys(self._session.org_key).fingerprint[:12]}",
        }
        sealed = seal(self._settings_key, json.dumps(fields).encode(), "cloudinary-credentials")
        self._settings.update({"cloudinary": sealed})
        self._stores.clear()
        self._audit.record(self.actor, "settings.changed", "documents", {"fields": ["cloudinary"]})

    def use_local_store(self, folder: Path | None = None) -> None:
        """Forget the Cloudinary credentials; documents go to `folder` (default: the data folder)."""
        self._require(Permission.SETTINGS_ADMIN, "change where documents are stored", "documents")
        self._require_recent_password()
        settings = self._settings.get()
        changes: dict = {"local_folder": str(folder)} if folder else {}
        if settings.get("cloudinary"):  # kept sealed, to read and move the pages stored there
            changes["cloudinary_previous"] = settings["cloudinary"]
        removed = ("cloudinary",) + (() if folder else ("local_folder",))
        self._settings.update(changes, removed)
        self._stores.clear()
        self._audit.record(
            self.actor, "settings.changed", "documents", {"fields": ["document_store"]}
        )

    def page_side_limit(self) -> int:
        """The long side, in pixels, that the capture editor downscales a page to (a number,
        no client data: any staff member reads it)."""
        value = self._settings.get().get("max_page_side")
        return int(value) if value else DEFAULT_MAX_SIDE

    def set_page_side_limit(self, pixels: int) -> None:
        """Admins choose how far pages are downscaled before they are stored. Audited."""
        self._require(Permission.SETTINGS_ADMIN, "change how documents are stored", "documents")
        low, high = PAGE_SIDE_RANGE
        if isinstance(pixels, bool) or not isinstance(pixels, int) or not low <= pixels <= high:
            raise ValidationError(
                "Please correct the page size.",
                {"max_page_side": f"Choose between {low:,} and {high:,} pixels."},
            )
        self._settings.update({"max_page_side": pixels})
        self._audit.record(
            self.actor,
            "settings.changed",
            "documents",
            {"fields": ["max_page_side"], "max_page_side": pixels},
        )

    def migrate_to_current_store(self, progress: Progress | None = None) -> int:
        """Moves every page kept in another store to the current one; returns how many moved.

        Pages move as ciphertext (no key is needed): copied, the record updated, then the old
        copy deleted, so an interruption leaves every page readable where its record says.
        """
        self._require(Permission.SETTINGS_ADMIN, "move documents between stores", "documents")
        target = self._current_store()
        todo = [
            (client_id, doc_id, record)
            for client_id, doc_id, record in self._records.all_records()
            if any(p["store"] != target.name for p in record["pages"])
        ]
        moved = 0
        for n, (client_id, doc_id, record) in enumerate(todo):
            if progress is not None:
                if progress.cancelled:
                    break
                progress.report(n, len(todo), "Moving documents…")
            old_pages = [dict(p) for p in record["pages"]]
            for page in record["pages"]:
                if page["store"] != target.name:
                    target.put(
                        page["asset_id"], self._store_named(page["store"]).get(page["asset_id"])
                    )
                    page["store"] = target.name
                    moved += 1
            self._records.put(client_id, doc_id, record)
            for page in old_pages:
                if page["store"] != target.name:
                    try:
                        self._store_named(page["store"]).delete(page["asset_id"])
                    except StoreUnavailable:
                        pass  # the record no longer refers to it: reconciliation removes it
        self._audit.record(
            self.actor, "document.migrated", "documents", {"pages": moved, "to": target.name}
        )
        return moved

    # -- adding --------------------------------------------------------------------------
    def _validate(self, draft: DocumentDraft, pages: list[bytes]) -> list[str]:
        errors: dict[str, str] = {}
        if not isinstance(draft.type, DocumentType):
            errors["type"] = "Choose the kind of document."
        country = draft.issuing_country.strip().upper()
        if country and not re.fullmatch(r"[A-Z]{3}|D", country):
            errors["issuing_country"] = "Use the three-letter country code (HRV, DEU, SVN...)."
        if len(draft.number) > 40:
            errors["number"] = "A document number is at most 40 characters."
        if not pages:
            errors["file"] = "Add at least one page."
        elif len(pages) > MAX_PAGES:
            errors["file"] = f"A document has at most {MAX_PAGES} pages."
        media: list[str] = []
        for data in pages:
            if len(data) > MAX_PAGE_BYTES:
                errors["file"] = "A page is larger than 20 MB: downscale it before saving."
                break
            try:
                media.append(media_type_of(data))
            except ValidationError as exc:
                errors["file"] = exc.field_errors.get("file", exc.message)
                break
        if errors:
            raise ValidationError("Please correct the document's details.", errors)
        return media

    def add(self, client_id: str, draft: DocumentDraft, pages: list[bytes]) -> DocumentInfo:
        """Stores the pages (front, back...) as one document of the client."""
        self._require(Permission.CLIENT_WRITE, "add ID documents", f"client:{client_id}")
        media = self._validate(draft, pages)
        key = self._document_key(client_id)
        doc_id = new_document_id()
        store = self._current_store()
        now = self._clock.now()
        stored: list[DocumentPage] = []
        for data, media_type in zip(pages, media, strict=True):
            asset_id = new_asset_id()
            blob = seal(key, data, _page_context(client_id, doc_id, asset_id))
            self._outbox.add(asset_id, blob, now, group=doc_id)
            stored.append(DocumentPage(asset_id, store.name, media_type, len(data)))
        meta = {
            "issuing_country": draft.issuing_country.strip().upper(),
            "number": draft.number.strip().upper(),
            "expiry": draft.expiry.isoformat() if draft.expiry else "",
        }
        record = {
            "seal": SEAL_VERSION,
            "type": draft.type.value,
            "added_at": now,
            "added_by": self.actor,
            "pages": [
                {
                    "asset_id": p.asset_id,
                    "store": p.store,
                    "media_type": p.media_type,
                    "size": p.size,
                }
                for p in stored
            ],
        }
        record["meta"] = seal(
            key, json.dumps(meta).encode(), _meta_context(client_id, doc_id, record)
        )
        self._records.put(client_id, doc_id, record)
        self._audit.record(
            self.actor,
            "document.added",
            f"client:{client_id}",
            {"document": doc_id, "type": draft.type.value, "pages": len(stored)},
        )
        for page in stored:
            self._upload_now(store, page.asset_id)
        return self._info(client_id, doc_id, record, key)

    def _upload_now(self, store: DocumentStore, asset_id: str) -> None:
        blob = self._outbox.read(asset_id)
        if blob is None:
            return
        try:
            store.put(asset_id, blob)
        except AlkoError as exc:
            self._outbox.failed(asset_id, self._clock.now(), exc.message)
            return
        self._outbox.remove(asset_id)

    # -- reading -------------------------------------------------------------------------
    def _key(self, client_id: str, record: dict, keys: dict[int, bytes]) -> bytes:
        """The key `record` was sealed with, fetched once per version into `keys`."""
        version = int(record.get("seal", 1))
        if version not in keys:
            fetch = self._document_key if version >= SEAL_VERSION else self._client_key
            keys[version] = fetch(client_id)
        return keys[version]

    def _info(self, client_id: str, doc_id: str, record: dict, key: bytes) -> DocumentInfo:
        context = _meta_context(client_id, doc_id, record)
        meta = json.loads(self._open(client_id, doc_id, key, record["meta"], context))
        pages = tuple(
            DocumentPage(p["asset_id"], p["store"], p["media_type"], int(p["size"]))
            for p in record["pages"]
        )
        waiting = any(p.asset_id in self._outbox for p in pages)
        return DocumentInfo(
            id=doc_id,
            client_id=client_id,
            type=DocumentType(record["type"]),
            issuing_country=meta["issuing_country"],
            number=meta["number"],
            expiry=date.fromisoformat(meta["expiry"]) if meta["expiry"] else None,
            pages=pages,
            added_at=record["added_at"],
            added_by=record["added_by"],
            state=UploadState.WAITING if waiting else UploadState.STORED,
        )

    def _open(self, client_id: str, doc_id: str, key: bytes, blob: bytes, context: str) -> bytes:
        """A page or the details; one that does not open under the key that sealed it was
        edited, moved or swapped outside ALKO Desk: refused and flagged for a manager."""
        try:
            return open_sealed(key, blob, context)
        except UnreadableRecord:
            self._audit.record(
                self.actor,
                AuditAction.FRAUD_DOCUMENT_TAMPERED,
                f"client:{client_id}",
                {"document": doc_id, "review": "manager"},
            )
            raise TamperedRecord(
                "This client's ID document was changed outside ALKO Desk, so it is not shown.",
                hint="A manager will find the details in the audit log (Possible fraud).",
            ) from None

    def list(self, client_id: str) -> list[DocumentInfo]:
        """The client's documents, newest first, without their pages' bytes. Audited."""
        self._require(Permission.CLIENT_REVEAL, "see clients' ID documents", f"client:{client_id}")
        records = self._records.for_client(client_id)
        self._audit.record(
            self.actor, "document.listed", f"client:{client_id}", {"documents": len(records)}
        )
        if not records:
            return []
        keys: dict[int, bytes] = {}
        infos = [
            self._info(client_id, doc_id, rec, self._key(client_id, rec, keys))
            for doc_id, rec in records.items()
        ]
        return sorted(infos, key=lambda i: i.added_at, reverse=True)

    def _record(self, client_id: str, doc_id: str) -> dict:
        record = self._records.for_client(client_id).get(doc_id)
        if record is None:
            raise NotFound("This document no longer exists.")
        return record

    def _page_bytes(self, client_id: str, doc_id: str, record: dict, page: dict) -> PageContent:
        asset_id = page["asset_id"]
        key = self._key(client_id, record, {})
        blob = self._outbox.read(asset_id)  # still waiting to upload: read it here
        if blob is None:
            blob = self._store_named(page["store"]).get(asset_id)
        version = int(record.get("seal", 1))
        data = self._open(
            client_id, doc_id, key, blob, _page_context(client_id, doc_id, asset_id, version)
        )
        return PageContent(page["media_type"], data)

    def view(self, client_id: str, doc_id: str, page: int = 0) -> PageContent:
        """One page, decrypted in memory only. Audited."""
        self._require(Permission.CLIENT_REVEAL, "see clients' ID documents", f"client:{client_id}")
        record = self._record(client_id, doc_id)
        if not 0 <= page < len(record["pages"]):
            raise NotFound("This document has no such page.")
        content = self._page_bytes(client_id, doc_id, record, record["pages"][page])
        self._audit.record(
            self.actor, "document.viewed", f"client:{client_id}", {"document": doc_id, "page": page}
        )
        return content

    def export(self, client_id: str, doc_id: str) -> list[PageContent]:
        """Every page in clear, for the caller to write where staff chose (`save_exported`):
        the one way plaintext reaches a disk, and that disk is the desk's own, never the
        showroom server's. Audited."""
        self._require(
            Permission.CLIENT_REVEAL, "export clients' ID documents", f"client:{client_id}"
        )
        self._require_recent_password()
        record = self._record(client_id, doc_id)
        contents = [self._page_bytes(client_id, doc_id, record, page) for page in record["pages"]]
        self._audit.record(
            self.actor,
            "document.exported",
            f"client:{client_id}",
            {"document": doc_id, "pages": len(contents)},
        )
        return contents

    # -- deleting ------------------------------------------------------------------------
    def delete(self, client_id: str, doc_id: str) -> None:
        """The record first, then the pages; a page the store cannot delete now is an orphan
        that the next reconciliation removes."""
        self._require(Permission.CLIENT_WRITE, "delete ID documents", f"client:{client_id}")
        record = self._record(client_id, doc_id)
        self._records.remove(client_id, doc_id)
        self._audit.record(
            self.actor, "document.deleted", f"client:{client_id}", {"document": doc_id}
        )
        for page in record["pages"]:
            self._outbox.remove(page["asset_id"])
            try:
                self._store_named(page["store"]).delete(page["asset_id"])
            except StoreUnavailable:
                pass

    # -- the outbox and the reconciliation -----------------------------------------------
    def _require_store_upkeep(self, operation: str) -> None:
        """Admins (settings.admin) or those who write documents (client.write); refused and
        audited for everyone else (finance, managers)."""
        if self._session.can(Permission.SETTINGS_ADMIN):
            self._require(Permission.SETTINGS_ADMIN, operation, "documents")
        else:
            self._require(Permission.CLIENT_WRITE, operation, "documents")

    def waiting_count(self) -> int:
        """How many documents wait on this desk to be uploaded."""
        return self._outbox.group_count()

    def waiting_message(self) -> str:
        n = self.waiting_count()
        if n == 0:
            return ""
        return f"{n} document{'s' if n != 1 else ''} waiting to upload"

    def flush_outbox(self, *, force: bool = False) -> FlushResult:
        """Uploads the pages whose retry is due (all when `force`). Safe to call any time.

        On a desk that adds documents, documents stored before they had their own key are
        re-sealed first, once (`reseal_legacy`)."""
        due = time.monotonic() - self._reseal_tried > RESEAL_RETRY_SECONDS
        if (
            due
            and self._session.can(Permission.CLIENT_WRITE)
            and not self._settings.get().get(RESEALED)
        ):
            self._reseal_tried = time.monotonic()
            try:
                self.reseal_legacy()
            except AlkoError:
                pass  # the store cannot be reached now: a later round tries again
        return self._outbox.flush(self._current_store(), self._clock.now(), force=force)

    def reseal_legacy(self) -> int:
        """Re-seals the documents stored before ID documents had their own key (sealed with
        the client's data key alone, which finance holds) with the ID-document key; returns
        how many. Each page goes up again under a new asset id before the record is switched
        (only if it was not changed or deleted meanwhile), and the old copies go after, so an
        interruption leaves every document readable; what is left behind is an orphan that
        the reconciliation removes. Once a pass finds none left, the database records it."""
        self._require(Permission.CLIENT_WRITE, "re-seal ID documents", "documents")
        target, now, done, left = self._current_store(), self._clock.now(), 0, 0
        for client_id, doc_id, record in self._records.all_records():
            if int(record.get("seal", 1)) >= SEAL_VERSION:
                continue
            try:
                resealed = self._reseal(target, now, client_id, doc_id, record)
            except (TamperedRecord, NotFound):
                continue  # flagged already, or the client is gone: never re-sealed
            done += resealed
            left += 1 - resealed  # changed meanwhile: the next round tries it again
        if done:
            self._audit.record(
                self.actor, AuditAction.DOCUMENT_RESEALED, "documents", {"documents": done}
            )
        if not left:  # only once none is left: a later round tries those that changed meanwhile
            self._settings.update({RESEALED: True})
        return done

    def _reseal(
        self, target: DocumentStore, now: datetime, client_id: str, doc_id: str, record: dict
    ) -> int:
        """One document re-sealed (1), or left as it is because it changed meanwhile (0)."""
        old_key, key = self._client_key(client_id), self._document_key(client_id)
        pages, new_ids, switched = [], [], False
        try:
            for page in record["pages"]:
                content = self._page_bytes(client_id, doc_id, record, page)
                asset_id = new_asset_id()
                blob = seal(key, content.data, _page_context(client_id, doc_id, asset_id))
                self._outbox.add(asset_id, blob, now, group=doc_id)
                new_ids.append(asset_id)
                pages.append(dict(page, asset_id=asset_id, store=target.name))
            meta_context = _meta_context(client_id, doc_id, record)
            meta = self._open(client_id, doc_id, old_key, record["meta"], meta_context)
            resealed = dict(record, seal=SEAL_VERSION, pages=pages)
            resealed["meta"] = seal(key, meta, _meta_context(client_id, doc_id, resealed))
            switched = self._records.replace_if_unchanged(
                client_id, doc_id, record["meta"], resealed
            )
        finally:
            if not switched:  # unreadable now, or deleted or changed meanwhile: as it was
                for asset_id in new_ids:
                    self._outbox.remove(asset_id)
        if not switched:
            return 0
        for asset_id in new_ids:
            self._upload_now(target, asset_id)
        for page in record["pages"]:
            self._outbox.remove(page["asset_id"])
            try:
                self._store_named(page["store"]).delete(page["asset_id"])
            except StoreUnavailable:
                pass  # no record refers to it now: the reconciliation removes it
        return 1

    def reconcile(self) -> int:
        """Removes assets in the store that no document refers to (a crash mid-add).

        It deletes from the store, so only those who add and delete documents (sales) or
        look after the store (admins) may run it; a refusal is audited, and so is every
        removal (a run that finds nothing writes no entry: it runs on a timer)."""
        self._require_store_upkeep("remove orphaned document uploads")
        store = self._current_store()
        # The store is listed before the records are read: an asset uploaded meanwhile had
        # its record written before its upload began, so it is never taken for an orphan.
        in_store = store.asset_ids()
        referenced = self._records.asset_ids() | self._outbox.asset_ids()
        orphans = sorted(in_store - referenced)
        for asset_id in orphans:
            store.delete(asset_id)
        if orphans:
            self._audit.record(
                self.actor, "document.orphans_removed", "documents", {"count": len(orphans)}
            )
        return len(orphans)

    # -- the MRZ -------------------------------------------------------------------------
    def today(self) -> date:
        return self._clock.now().date()

    def read_mrz(self, data: bytes) -> MrzReading | None:
        """The MRZ of a scan (any staff member; it reads the bytes given and stores nothing)."""
        from alko_desk.services.images import open_image_bytes
        from alko_desk.services.mrz_ocr import read_mrz_image

        return read_mrz_image(open_image_bytes(data), self.today())


def save_exported(folder: Path, doc_id: str, contents: list[PageContent]) -> list[Path]:
    """Writes exported pages to a folder on this computer: document-<id>-page<n>.<ext>."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder.")
    written = []
    for n, content in enumerate(contents, start=1):
        path = folder / f"document-{doc_id[:8]}-page{n}{EXTENSIONS[content.media_type]}"
        path.write_bytes(content.data)
        written.append(path)
    return written


def _page_context(client_id: str, doc_id: str, asset_id: str, version: int = SEAL_VERSION) -> str:
    if version < SEAL_VERSION:
        return f"document-page:{client_id}:{asset_id}"
    return f"alko-desk/document-page/v2\x1f{client_id}\x1f{doc_id}\x1f{asset_id}"


def _meta_context(client_id: str, doc_id: str, record: dict) -> str:
    """The details' associated data; from version 2 it covers the plaintext of the record
    (type, pages, who added it) too, so that an edit of those in the database is detected."""
    if int(record.get("seal", 1)) < SEAL_VERSION:
        return f"document-meta:{client_id}:{doc_id}"
    pages = ",".join(f"{p['asset_id']}/{p['media_type']}/{p['size']}" for p in record["pages"])
    return (
        f"alko-desk/document-meta/v2\x1f{client_id}\x1f{doc_id}\x1f{record['type']}"
        f"\x1f{pages}\x1f{record['added_by']}"
    )
