"""Issuing invoices and credit notes, printing them, and the payments against them.

Numbering and crashes (see storage/invoices_repo.py): an invoice is inserted under its
number at last+1 (the unique `_id` is the compare-and-set); everything after that insert
(the PDF and its hash, the credit-note link on the original, the deal's state) is derived
from the stored document and completed idempotently by `complete()`, which
`InvoiceRecovery` runs again at the next login for whatever a crash left unfinished.

Issued invoices never change: this service has no method that edits one. Corrections
are credit notes; re-printing returns the bytes stored at issue, after checking their
SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from dataclasses import asdict, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from alko_desk.models.changes import ChangeKind
from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import (
    AlkoError,
    ConcurrentModification,
    NotFound,
    SetupRequired,
    ValidationError,
)
from alko_desk.models.invoices import (
    Address,
    BankDetails,
    Deposit,
    DocumentKind,
    DocumentTampered,
    Invoice,
    InvoiceAccount,
    InvoiceDraft,
    InvoiceLine,
    InvoiceRef,
    InvoiceRequest,
    InvoiceRow,
    InvoiceSettings,
    InvoiceStatus,
    Party,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentRow,
    VatCategory,
    account_status,
    compute_totals,
    credit_lines,
)
from alko_desk.models.listing import Page, PageRequest
from alko_desk.models.money import Money
from alko_desk.models.users import Permission, Session
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService, between_services
from alko_desk.services.changes import ChangeLog
from alko_desk.services.clock import Clock, SystemClock
from alko_desk.services.intents import Leases
from alko_desk.storage.invoices_repo import (
    OPEN_PREFIX,
    STATUS_ORDER,
    InvoiceListRepository,
    InvoiceRepository,
    PaymentListRepository,
    invoice_from_doc,
    invoice_to_doc,
    ledger_id,
    payment_from_doc,
    payment_to_doc,
)
from alko_desk.storage.organisation_repo import OrganisationRepository

log = logging.getLogger(__name__)
MAX_NUMBER_ATTEMPTS = 10_000
CLAIM_STALE_AFTER = timedelta(minutes=2)  # a claim older than this was left by a crashed desk


def credit_claim_key(invoice_number: str) -> str:
    """The claim of one desk crediting an invoice (and linking credit notes to it)."""
    return f"credit:{invoice_number}"


PDF_PURPOSES = ("preview", "print", "save", "export")


class DealSource(Protocol):
    """What invoicing needs from deals (services/deal_invoicing.py `DealInvoiceSource`).

    It may also have `invoice_credited(deal_id, invoice_number, credit_note)`, called
    (idempotently) when the deal's invoice is credited in full.
    """

    def draft_for(self, deal_id: str) -> InvoiceDraft:
        """The draft of an approved deal; raises AlkoError if it cannot be invoiced."""
        ...

    def mark_invoiced(self, deal_id: str, invoice_number: str) -> None:
        """Idempotent: called again after a crash."""
        ...


# ----------------------------------------------------------------------------- pure helpers


def supplier_from_profile(profile: CompanyProfile) -> Party:
    """The company as the seller: the country from the VAT ID's prefix (or the phone region)."""
    prefix = profile.vat_id.strip()[:2].upper()
    country = prefix if prefix.isalpha() else profile.phone_region
    if country == "EL":  # Greek VAT IDs start with EL; the country code is GR
        country = "GR"
    return Party(profile.name, Address(profile.address, country=country), vat_id=profile.vat_id)


def settings_from_doc(doc: dict | None) -> InvoiceSettings:
    if not doc:
        return InvoiceSettings()
    known = InvoiceSettings.__dataclass_fields__
    return InvoiceSettings(**{k: v for k, v in doc.items() if k in known})


def validate_draft(draft: InvoiceDraft) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not draft.supplier.name.strip() or not draft.supplier.vat_id.strip():
        errors["supplier"] = "The company's name and VAT ID are needed (Settings)."
    if not draft.customer.name.strip():
        errors["customer.name"] = "Enter the customer's name."
    if not draft.customer.address.street.strip():
        errors["customer.address"] = "Enter the customer's address."
    country = draft.customer.address.country
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        errors["customer.country"] = "Enter the customer's country as a two-letter code, e.g. HR."
    if not draft.lines:
        errors["lines"] = "An invoice needs at least one line."
    for i, line in enumerate(draft.lines, start=1):
        where = f"lines.{i}"
        if not line.description.strip():
            errors[where] = f"Line {i} needs a description."
        elif line.quantity <= 0:
            errors[where] = f"Line {i}: the quantity must be more than zero."
        elif line.unit_price.currency != draft.currency:
            errors[where] = (
                f"Line {i} is in {line.unit_price.currency}, the invoice in {draft.currency}."
            )
        elif line.unit_price.amount < 0:
            errors[where] = f"Line {i}: the price cannot be negative (use a credit note)."
        elif line.vat_category is VatCategory.STANDARD and not (0 < line.vat_rate <= 100):
            errors[where] = f"Line {i}: a standard-rated line needs a VAT rate above 0 %."
        elif line.vat_category is not VatCategory.STANDARD and line.vat_rate != 0:
            errors[where] = f"Line {i}: {line.vat_category.label.lower()} lines carry no VAT rate."
    if any(ln.vat_category is VatCategory.INTRA_COMMUNITY for ln in draft.lines):
        buyer_vat = draft.customer.vat_id.replace(" ", "").upper()
        if not buyer_vat:
            errors["customer.vat_id"] = "An intra-community supply needs the buyer's VAT ID."
        elif buyer_vat[:2] == draft.supplier.vat_id.replace(" ", "").upper()[:2]:
            errors["customer.vat_id"] = (
                "An intra-community supply goes to a buyer registered in another EU country."
            )
    for deposit in draft.deposits:
        if deposit.amount.currency != draft.currency or deposit.amount.amount <= 0:
            errors["deposits"] = "Deposits are positive amounts in the invoice's currency."
    if not errors and draft.lines and draft.totals().due.amount < 0:
        errors["deposits"] = "The deposits are more than the invoice total."
    return errors


def settings_errors(settings: InvoiceSettings) -> dict[str, str]:
    """What stops invoice settings from being used, by field, in words for the admin."""
    errors: dict[str, str] = {}
    example = "such as ALKO-{year} ({year} becomes the year of issue)"
    for field, kind in (("invoice_series", DocumentKind.INVOICE), ("credit_note_series", None)):
        pattern = getattr(settings, field)
        series = settings.series_for(kind or DocumentKind.CREDIT_NOTE, 2026)
        if not pattern:
            errors[field] = f"Enter the series, {example}."
        elif "/" in pattern or "{" in series or "}" in series:
            errors[field] = f"Letters, digits and dashes only, {example}."
    if not errors and settings.invoice_series == settings.credit_note_series:
        errors["credit_note_series"] = "Credit notes need a series of their own."
    if not 1 <= settings.digits <= 12:
        errors["digits"] = "Between 1 and 12 digits."
    if not 0 <= settings.payment_terms_days <= 365:
        errors["payment_terms_days"] = "Between 0 and 365 days."
    if settings.bic and not (len(settings.bic) in (8, 11) and settings.bic.isalnum()):
        errors["bic"] = "A BIC has 8 or 11 letters and digits, such as ZABAHR2X."
    logo = settings.logo_path
    if logo and (not Path(logo).is_file() or Path(logo).suffix.lower() not in LOGO_SUFFIXES):
        errors["logo_path"] = (
            "Choose a PNG or JPEG file that exists on the computer that makes the invoices "
            "(the showroom server, if the desks use one)."
        )
    return errors


LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")


def render_document(invoice: Invoice, settings: InvoiceSettings) -> bytes:
    """The stored form of an invoice: the printable PDF with its e-invoice embedded."""
    from alko_desk.documents.cii import embed_e_invoice
    from alko_desk.documents.invoice_pdf import render_invoice_pdf

    return embed_e_invoice(render_invoice_pdf(invoice, settings), invoice)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- list index


def _list_row(invoice: Invoice, paid: Money, balance: Money, status: InvoiceStatus) -> InvoiceRow:
    """The list-index row of an invoice or credit note, with the figures its ledger gives."""
    return InvoiceRow(
        invoice.number,
        invoice.kind,
        invoice.issue_date,
        invoice.due_date,
        invoice.draft.customer.name,
        invoice.draft.deal_id,
        invoice.totals.gross,
        paid,
        balance,
        status,
        invoice.corrects.number if invoice.corrects else "",
    )


class InvoiceIndexer:
    """Keeps the invoice and payment lists (storage/app_index.py) in step with the documents.

    Rows are derived from the stored invoice, its credit notes and its ledger (all `_id`
    lookups), so a put is idempotent and recovery can repeat it.
    """

    def __init__(
        self,
        repo: InvoiceRepository,
        invoices: InvoiceListRepository | None,
        payments: PaymentListRepository | None,
    ) -> None:
        self._repo = repo
        self._invoices = invoices
        self._payments = payments

    def put(self, number: str) -> None:
        """The row of an invoice or credit note (and of the invoice a credit note corrects)."""
        if self._invoices is None:
            return
        doc = self._repo.get(number)
        if doc is None:
            return
        invoice = invoice_from_doc(doc)
        zero = Money.zero(invoice.currency)
        if invoice.is_credit_note:
            self._invoices.put(_list_row(invoice, zero, zero, InvoiceStatus.CREDITED))
            self.put(invoice.corrects.number)
            return
        credited = zero
        for note_number in doc.get("credit_notes", []):
            note = self._repo.get(note_number)
            if note is not None:
                credited += invoice_from_doc(note).totals.gross
        payments = [payment_from_doc(e) for e in self._repo.ledger(number)]
        paid = sum((p.amount for p in payments if p.kind is not PaymentKind.REFUND), zero)
        refunded = sum((p.amount for p in payments if p.kind is PaymentKind.REFUND), zero)
        # as of the due date: overdue is decided when the row is read
        status = account_status(invoice, credited, paid, refunded, invoice.due_date)
        balance = invoice.totals.due - credited - paid + refunded
        events = len(payments) + len(doc.get("credit_notes", []))
        self._invoices.put(replace(_list_row(invoice, paid, balance, status), version=events))
        if self._payments is not None and payments:
            self._payments.put_many(
                PaymentRow(
                    p.id,
                    p.invoice_number,
                    p.kind,
                    p.method,
                    p.amount,
                    p.paid_on,
                    p.reference,
                    p.credit_note,
                )
                for p in payments
            )


# ----------------------------------------------------------------------------- completion


class InvoiceCompletion:
    """Finishes what follows the insert of an invoice; every step may run twice.

    Kept apart from the session-bound service so that it can move into the platform's
    generic intent log: it needs only the repository, the settings and the deal adapter.
    """

    def __init__(
        self,
        repo: InvoiceRepository,
        audit: AuditLog,
        deals: DealSource | None = None,
        indexer: InvoiceIndexer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._repo = repo
        self._audit = audit
        self._deals = deals
        self._indexer = indexer
        self._clock = clock or SystemClock()

    def complete(
        self,
        number: str,
        settings: InvoiceSettings,
        just_inserted: Invoice | None = None,
        holding: str = "",
    ) -> Invoice:
        """`just_inserted`: the invoice this desk has just stored (saves reading it back).
        `holding`: the claim the caller holds (`credit_claim_key`), if any."""
        if just_inserted is not None:
            invoice = just_inserted
        else:
            doc = self._repo.get(number)
            if doc is None:
                raise NotFound(f"There is no invoice {number}.")
            if doc.get("complete"):
                return invoice_from_doc(doc)
            invoice = invoice_from_doc(doc)
        if not invoice.pdf_sha256:
            stored = None if just_inserted else self._repo.pdf_sha256_of_stored(number)
            if stored is None:
                pdf = render_document(invoice, settings)
                stored = self._repo.store_pdf(number, pdf, sha256(pdf))
            invoice = replace(invoice, pdf_sha256=stored)
        if invoice.draft.deal_id and self._deals is None:
            # The deal's side needs a session that may invoice deals: a finance desk's
            # login (or the next issue) finishes it. Nothing is written before that.
            raise DealsUnavailable(number)
        if invoice.corrects:
            with self._credit_claim(invoice.corrects.number, number, holding):
                self._repo.add_credit_note(invoice.corrects.number, number)
                if invoice.draft.deal_id:
                    self._deal_credited(invoice.corrects.number, invoice.draft.deal_id, number)
        if invoice.draft.deal_id and invoice.kind is DocumentKind.INVOICE:
            self._deals.mark_invoiced(invoice.draft.deal_id, number)
            self._repo.close_request(invoice.draft.deal_id, number)
        self._repo.finish(number, invoice.pdf_sha256)
        if self._indexer is not None:
            self._indexer.put(number)
        return invoice

    @contextlib.contextmanager
    def _credit_claim(self, original: str, note: str, holding: str):
        """The links from an invoice to its credit notes are written by one desk at a time,
        the one holding the invoice's credit claim: `$addToSet` is a read-modify-write on
        FerretDB 1.24, so a recovery linking one credit note while another desk links its
        new one could drop a link, and the credited amount with it (a later credit could
        then go beyond the invoice's gross). Busy: the desk crediting the invoice links
        what is left itself (`InvoicingService._credit_claimed` recovers first), or the next
        login does."""
        key = credit_claim_key(original)
        if holding == key:
            yield
            return
        owner = f"completion:{uuid.uuid4().hex[:12]}"
        now = self._clock.now()
        if not self._repo.claim(key, owner, now, now - CLAIM_STALE_AFTER):
            raise ConcurrentModification(
                f"Another desk is crediting {original} right now, and {note} is finished "
                "with it. Try again in a moment."
            )
        try:
            yield
        finally:
            self._repo.release(key, owner)

    def _deal_credited(self, original_number: str, deal_id: str, credit_note: str) -> None:
        """The deal of an invoice credited in full goes back to before invoicing."""
        reopen = getattr(self._deals, "invoice_credited", None)
        original = self._repo.get(original_number)
        if reopen is None or original is None:
            return
        gross = invoice_from_doc(original).totals.gross
        credited = Money.zero(gross.currency)
        for note_number in original.get("credit_notes", []):
            note = self._repo.get(note_number)
            if note is not None:
                credited += invoice_from_doc(note).totals.gross
        if credited >= gross:
            reopen(deal_id, original_number, credit_note)


def invoice_lease(number: str) -> str:
    """The key under which a desk run holds an invoice it is issuing (`Leases`)."""
    return f"invoice:{number}"


class DealsUnavailable(Exception):
    """An invoice of a deal is completed only where the deals adapter is at hand."""


class InvoiceRecovery:
    """The recovery step run at login: completes invoices a crash left after their insert."""

    def __init__(
        self,
        repo: InvoiceRepository,
        audit: AuditLog,
        deals: DealSource | None = None,
        indexer: InvoiceIndexer | None = None,
        *,
        clock: Clock | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._repo = repo
        self._audit = audit
        self._completion = InvoiceCompletion(repo, audit, deals, indexer, clock)
        self._clock = clock or SystemClock()
        self._leases = leases if leases is not None else Leases()

    def run(self, credit_notes_of: str = "", holding: str = "") -> int:
        """Completes the incomplete invoices whose desk is not issuing them any more: not
        under way in this desk run, and issued by a process that has ended or more than
        `GRACE` ago (services/intents.py `Leases`). `credit_notes_of`: the credit notes of
        that invoice are completed whatever their age (the caller holds its credit claim,
        `holding`, so no other desk is issuing one; those a crash left unlinked are linked
        under that claim)."""
        numbers = self._repo.incomplete()
        if not numbers:
            return 0
        now = self._clock.now()
        abandoned = []
        for number in sorted(numbers):
            doc = self._repo.get(number)
            if doc is None or doc.get("complete"):
                continue
            corrects = (doc.get("corrects") or {}).get("number", "")
            key = invoice_lease(number)
            if (
                credit_notes_of and corrects == credit_notes_of and not self._leases.holds(key)
            ) or (self._leases.may_recover(key, doc.get("issued_at"), doc.get("writer"), now)):
                abandoned.append(number)
        if not abandoned:
            return 0
        settings = settings_from_doc(self._repo.settings())
        done = 0
        for number in abandoned:
            try:
                invoice = self._completion.complete(number, settings, holding=holding)
                self._audit.record(
                    "system",
                    "invoice.completed",
                    number,
                    {"after": "interruption", "pdf_sha256": invoice.pdf_sha256},
                )
                done += 1
            except DealsUnavailable:
                log.info("invoice %s waits for a finance login to finish its deal", number)
            except ConcurrentModification:
                log.info("credit note %s is left to the desk crediting its invoice", number)
            except Exception:
                log.exception("could not complete invoice %s", number)
        return done


# ----------------------------------------------------------------------------- the service


class InvoicingService(SessionService):
    def __init__(
        self,
        repo: InvoiceRepository,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        deals: DealSource | None = None,
        changes: ChangeLog | None = None,
        invoice_list: InvoiceListRepository | None = None,
        payment_list: PaymentListRepository | None = None,
        leases: Leases | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._repo = repo
        self._org = organisation
        self._deals = deals
        self._changes = changes
        self._invoice_list = invoice_list
        self._payment_list = payment_list
        self._indexer = InvoiceIndexer(repo, invoice_list, payment_list)
        self._completion = InvoiceCompletion(repo, audit, deals, self._indexer, clock)
        # this desk run's invoices under way, which recovery leaves (services/intents.py)
        self._leases = leases if leases is not None else Leases()

    @between_services
    def use_deals(self, deals: DealSource) -> None:
        """Issue from real deals (bootstrap builds the adapter over this session's services)."""
        self._deals = deals
        self._completion = InvoiceCompletion(
            self._repo, self._audit, deals, self._indexer, self._clock
        )

    def _announce(self, entity: str, kind: ChangeKind, ids: tuple[str, ...]) -> None:
        if self._changes is not None:
            try:
                self._changes.announce(entity, kind, ids)
            except Exception:  # the write is done; a missed announcement only delays screens
                log.exception("could not announce a change of %s", entity)

    def finish_interrupted(self, holding: str = "") -> int:
        """Completes invoices a crashed desk left after their insert (also run at login).
        Invoices issued before the list index existed are listed at start-up
        (`AppContext.list_unlisted_invoices`), not here."""
        return self._recovery().run(holding=holding)

    def _recovery(self) -> InvoiceRecovery:
        return InvoiceRecovery(
            self._repo,
            self._audit,
            self._deals,
            self._indexer,
            clock=self._clock,
            leases=self._leases,
        )

    # settings and drafts ---------------------------------------------------------

    def settings(self) -> InvoiceSettings:
        return settings_from_doc(self._repo.settings())

    def update_settings(self, settings: InvoiceSettings) -> None:
        self._require(Permission.SETTINGS_ADMIN, "change invoice settings", "invoice_settings")
        self._require_recent_password()
        settings = replace(
            settings,
            invoice_series=settings.invoice_series.strip(),
            credit_note_series=settings.credit_note_series.strip(),
            bic=settings.bic.strip().upper(),
            bank_name=settings.bank_name.strip(),
            logo_path=settings.logo_path.strip(),
        )
        errors = settings_errors(settings)
        if errors:
            raise ValidationError("The invoice settings cannot be used.", errors)
        before = self.settings()
        self._repo.save_settings(asdict(settings))
        changed = sorted(k for k, v in asdict(settings).items() if asdict(before).get(k) != v)
        self._audit.record(
            self.actor, "settings.invoices_changed", "invoice_settings", {"fields": changed}
        )

    def company(self) -> CompanyProfile:
        profile = self._org.profile()
        if profile is None:
            raise SetupRequired("ALKO Desk has not been set up yet.")
        return profile

    def new_draft(
        self,
        customer: Party,
        lines: list[InvoiceLine] | tuple[InvoiceLine, ...],
        supply_date: date,
        *,
        deposits: tuple[Deposit, ...] = (),
        deal_id: str = "",
        notes: str = "",
    ) -> InvoiceDraft:
        """A draft whose supplier, bank, currency and terms come from Settings."""
        profile = self.company()
        settings = self.settings()
        return InvoiceDraft(
            supplier=supplier_from_profile(profile),
            customer=customer,
            lines=tuple(lines),
            supply_date=supply_date,
            currency=profile.currency,
            deposits=tuple(deposits),
            bank=BankDetails(profile.bank_account, settings.bic, settings.bank_name),
            payment_terms_days=settings.payment_terms_days,
            deal_id=deal_id,
            notes=notes,
        )

    # issuing ---------------------------------------------------------------------

    def issue(self, draft: InvoiceDraft) -> Invoice:
        """An invoice from a draft made by hand. A deal's invoice is made from the deal
        (`issue_for_deal`): its lines are the deal's, and the deal is invoiced once."""
        self._require(Permission.INVOICE_WRITE, "issue invoices", draft.deal_id)
        if draft.deal_id and self._is_deal(draft.deal_id):
            raise ValidationError(
                f"Deal {draft.deal_id} is invoiced from the deal itself, with its figures.",
                {"deal": "Use Issue invoice on the deal (or `invoice issue --deal`)."},
            )
        return self._issue(draft)

    def _is_deal(self, deal_id: str) -> bool:
        if self._deals is None:
            return False
        try:
            self._deals.draft_for(deal_id)
        except NotFound:
            return False
        except AlkoError:  # it exists, but cannot be invoiced (again) now
            return True
        return True

    def _issue(self, draft: InvoiceDraft) -> Invoice:
        errors = validate_draft(draft)
        if errors:
            raise ValidationError("The invoice cannot be issued as it is.", errors)
        settings = self.settings()
        invoice = self._insert_numbered(DocumentKind.INVOICE, draft, settings, hold=True)
        try:
            invoice = self._completion.complete(invoice.number, settings, just_inserted=invoice)
        finally:  # done, or left to recovery (which may then take it at once)
            self._leases.release(invoice_lease(invoice.number))
        self._audit.record(
            self.actor,
            "invoice.issued",
            invoice.number,
            {
                "deal": draft.deal_id,
                "gross": str(invoice.totals.gross),
                "pdf_sha256": invoice.pdf_sha256,
            },
        )
        self._announce("invoices", ChangeKind.ADDED, (invoice.number,))
        if draft.deal_id:
            self._announce("deals", ChangeKind.UPDATED, (draft.deal_id,))
        return invoice

    def issue_for_deal(self, deal_id: str) -> Invoice:
        self._require(Permission.INVOICE_WRITE, "issue invoices", deal_id)
        if self._deals is None:
            raise AlkoError(
                "Deals are not available in this version yet, so an invoice cannot be "
                "issued from a deal."
            )
        with self._claim(f"deal:{deal_id}", f"deal {deal_id} is being invoiced"):
            for doc in self._repo.by_deal(deal_id):
                if doc["kind"] == DocumentKind.INVOICE.value:
                    account = self._account(invoice_from_doc(doc))
                    if account.status is not InvoiceStatus.CREDITED:
                        raise ValidationError(
                            f"Deal {deal_id} is already invoiced: {doc['_id']}.",
                            {"deal": "Credit that invoice in full to invoice the deal again."},
                        )
            return self._issue(self._deals.draft_for(deal_id))

    def request_invoice(self, deal_id: str, note: str = "") -> None:
        """Sales ask finance to invoice a deal; finance sees it in `requests()`."""
        self._require(Permission.INVOICE_REQUEST, "request invoices", deal_id)
        deal_id = deal_id.strip()
        if not deal_id:
            raise ValidationError("Name the deal to invoice.", {"deal": "Required."})
        self._repo.save_request(
            {
                "_id": deal_id,
                "note": note.strip()[:500],
                "by": self.actor,
                "at": self._clock.now(),
                "invoice": "",
            }
        )
        self._audit.record(self.actor, "invoice.requested", deal_id, {"note": note[:500]})

    def requests(self) -> list[InvoiceRequest]:
        """Deals sales asked to invoice and not yet invoiced, oldest first."""
        self._require(Permission.INVOICE_READ, "read invoice requests")
        open_requests = [d for d in self._repo.requests() if not d.get("invoice")]
        open_requests.sort(key=lambda d: d["at"])
        return [InvoiceRequest(d["_id"], d["note"], d["by"], d["at"]) for d in open_requests]

    def credit(self, number: str, reason: str, amount: Money | None = None) -> Invoice:
        """A credit note for all (amount None) or part (VAT included) of an invoice."""
        self._require(Permission.INVOICE_WRITE, "issue credit notes", number)
        reason = reason.strip()
        if not reason:
            raise ValidationError("Give a reason for the credit note.", {"reason": "Required."})
        original = self._load(number)
        if original.is_credit_note:
            raise ValidationError(f"{number} is a credit note; credit the invoice it corrects.")
        with self._claim(credit_claim_key(original.number), f"{original.number} is being credited"):
            return self._credit_claimed(original, reason, amount)

    def _credit_claimed(self, original: Invoice, reason: str, amount: Money | None) -> Invoice:
        number = original.number
        # Credit notes a crash left before their link to the original: link them first,
        # so that what is left to credit is counted right (the others only when abandoned).
        self._recovery().run(credit_notes_of=number, holding=credit_claim_key(number))
        self._complete_if_needed(original)
        account = self._account(original)
        remaining = original.totals.gross - account.credited
        if amount is not None:
            if amount.currency != original.currency:
                raise ValidationError(f"The amount must be in {original.currency}.")
            amount = amount.rounded()
            if amount.amount <= 0:
                raise ValidationError("The amount to credit must be more than zero.")
            if amount > remaining:
                raise ValidationError(
                    f"Only {remaining} of {number} is left to credit.", {"amount": str(remaining)}
                )
            if amount == original.totals.gross:
                amount = None
        if amount is None and account.credited:
            amount = remaining  # the rest, after earlier partial credits
        if remaining.amount <= 0:
            raise ValidationError(f"{number} is already credited in full.")
        lines = list(credit_lines(original, amount, reason))
        # VAT is computed on the rounded net amounts, so a partial credit can come out a cent
        # above what is left; take that cent off the net of its largest line.
        while compute_totals(lines, original.currency).gross > remaining:
            i = max(range(len(lines)), key=lambda n: lines[n].net.amount)
            quantum = lines[i].unit_price.quantum
            lines[i] = replace(
                lines[i], unit_price=lines[i].unit_price - Money(quantum, original.currency)
            )
        draft = replace(original.draft, lines=tuple(lines), deposits=())
        settings = self.settings()
        note = self._insert_numbered(
            DocumentKind.CREDIT_NOTE,
            draft,
            settings,
            corrects=InvoiceRef(original.number, original.issue_date),
            reason=reason,
            hold=True,
        )
        try:
            note = self._completion.complete(
                note.number, settings, just_inserted=note, holding=credit_claim_key(number)
            )
        finally:
            self._leases.release(invoice_lease(note.number))
        self._audit.record(
            self.actor,
            "invoice.credited",
            number,
            {
                "credit_note": note.number,
                "gross": str(note.totals.gross),
                "reason": reason[:500],
                "pdf_sha256": note.pdf_sha256,
            },
        )
        self._announce("invoices", ChangeKind.ADDED, (note.number, number))
        if original.draft.deal_id:
            self._announce("deals", ChangeKind.UPDATED, (original.draft.deal_id,))
        return note

    @contextlib.contextmanager
    def _claim(self, key: str, busy: str):
        """One desk at a time for `key`; a crashed desk's claim lapses after a while."""
        owner = f"{self._session.session_id}:{uuid.uuid4().hex[:8]}"
        now = self._clock.now()
        if not self._repo.claim(key, owner, now, now - CLAIM_STALE_AFTER):
            raise ConcurrentModification(
                f"Another desk is working on this right now ({busy}). Try again in a moment."
            )
        try:
            yield
        finally:
            self._repo.release(key, owner)

    def _insert_numbered(
        self,
        kind: DocumentKind,
        draft: InvoiceDraft,
        settings: InvoiceSettings,
        *,
        corrects: InvoiceRef | None = None,
        reason: str = "",
        hold: bool = False,
    ) -> Invoice:
        """Inserts the invoice under the next free number. `hold`: the number taken stays
        held in this desk run's leases (recovery leaves it) until the caller releases it."""
        now = self._clock.now()
        issue_date = now.date()
        series = settings.series_for(kind, issue_date.year)
        due = issue_date + timedelta(
            days=draft.payment_terms_days if kind is DocumentKind.INVOICE else 0
        )
        sequence = self._next_free(series, settings)
        for _ in range(MAX_NUMBER_ATTEMPTS):
            invoice = Invoice(
                number=settings.number(series, sequence),
                series=series,
                sequence=sequence,
                kind=kind,
                issue_date=issue_date,
                due_date=due,
                draft=draft,
                totals=draft.totals(),
                issued_by=self.actor,
                issued_at=now,
                corrects=corrects,
                reason=reason,
            )
            doc = invoice_to_doc(invoice)
            doc["writer"] = self._leases.writer  # who completes it (recovery waits for them)
            key = invoice_lease(invoice.number)
            if hold:  # before the insert: a login's recovery must never see it unheld
                self._leases.hold(key)
            try:
                inserted = self._repo.try_insert(doc)
                if inserted:
                    self._repo.advance_hint(series, sequence)
            except BaseException:
                if hold:
                    self._leases.release(key)
                raise
            if inserted:
                return invoice
            if hold:
                self._leases.release(key)
            sequence += 1  # another desk took it: the next one, which may be free
        raise AlkoError("Invoice numbering is busy; please try again.")

    def _next_free(self, series: str, settings: InvoiceSettings) -> int:
        """A first guess at last+1: the hint is never ahead of the stored invoices; a failed
        insert walks forward from it."""
        return self._repo.last_number_hint(series) + 1

    def _complete_if_needed(self, invoice: Invoice) -> Invoice:
        if invoice.pdf_sha256:
            return invoice
        return self._completion.complete(invoice.number, self.settings())

    # reading -----------------------------------------------------------------------

    def _load(self, number: str) -> Invoice:
        doc = self._repo.get(number.strip())
        if doc is None:
            raise NotFound(f"There is no invoice or credit note {number}.")
        return invoice_from_doc(doc)

    def get(self, number: str) -> Invoice:
        self._require(Permission.INVOICE_READ, "read invoices", number)
        return self._load(number)

    def account(self, number: str) -> InvoiceAccount:
        self._require(Permission.INVOICE_READ, "read invoices", number)
        invoice = self._load(number)
        if invoice.is_credit_note:
            invoice = self._load(invoice.corrects.number)
        return self._account(invoice)

    def _account(self, invoice: Invoice, docs=None, ledger=None) -> InvoiceAccount:
        doc = docs.get(invoice.number) if docs is not None else self._repo.get(invoice.number)
        note_numbers = tuple(sorted((doc or {}).get("credit_notes", [])))
        zero = Money.zero(invoice.currency)
        credited = zero
        for note_number in note_numbers:
            note_doc = docs.get(note_number) if docs is not None else self._repo.get(note_number)
            if note_doc:
                credited += invoice_from_doc(note_doc).totals.gross
        entries = (
            ledger.get(invoice.number, [])
            if ledger is not None
            else self._repo.ledger(invoice.number)
        )
        payments = tuple(payment_from_doc(e) for e in entries)
        paid = sum((p.amount for p in payments if p.kind is not PaymentKind.REFUND), zero)
        refunded = sum((p.amount for p in payments if p.kind is PaymentKind.REFUND), zero)
        status = account_status(invoice, credited, paid, refunded, self._clock.now().date())
        return InvoiceAccount(invoice, credited, paid, refunded, status, payments, note_numbers)

    def list_invoices(
        self, series: str | None = None, *, include_credit_notes: bool = True
    ) -> list[InvoiceAccount]:
        """Every invoice (and credit note) with its figures, newest first. Two reads in all."""
        self._require(Permission.INVOICE_READ, "read invoices")
        docs = {d["_id"]: d for d in self._repo.all()}
        ledger: dict[str, list[dict]] = {}
        for entry in sorted(self._repo.all_ledger(), key=lambda e: int(e["_id"].rsplit("/", 1)[1])):
            ledger.setdefault(entry["invoice"], []).append(entry)
        out = []
        for doc in docs.values():
            if series and doc["series"] != series:
                continue
            invoice = invoice_from_doc(doc)
            if invoice.is_credit_note:
                if include_credit_notes:
                    zero = Money.zero(invoice.currency)
                    out.append(InvoiceAccount(invoice, zero, zero, zero, InvoiceStatus.CREDITED))
                continue
            out.append(self._account(invoice, docs, ledger))
        out.sort(
            key=lambda a: (a.invoice.issue_date, a.invoice.series, a.invoice.sequence), reverse=True
        )
        return out

    # the lists (app-kept index) --------------------------------------------------------

    INVOICE_SORTS = ("number", "issue_date", "status", "balance")
    INVOICE_FILTERS = ("open", "overdue")  # PageRequest.filters["status"]
    PAYMENT_SORTS = ("paid_on", "invoice", "amount")

    def list_page(self, request: PageRequest) -> Page[InvoiceRow]:
        """A page of invoices and credit notes in a declared sort; with
        `filters={"status": "open"}` (or "overdue") only the invoices still to be paid."""
        self._require(Permission.INVOICE_READ, "read invoices")
        sort = request.sort or self.INVOICE_SORTS[0]
        if sort not in self.INVOICE_SORTS:
            raise ValidationError(f"Invoices cannot be sorted by {request.sort}.")
        wanted = (request.filters or {}).get("status", "")
        if wanted and wanted not in self.INVOICE_FILTERS:
            raise ValidationError(f"Invoices cannot be filtered by “{wanted}”.")
        lists = self._lists()
        start, count = max(0, request.start), max(0, request.count)
        if not wanted:
            rows = lists.page(sort, start, count, request.descending)
            return Page(tuple(self._as_of_today(r) for r in rows), lists.count(), start)
        rows = self._open_rows()
        if wanted == "overdue":
            rows = [r for r in rows if r.status is InvoiceStatus.OVERDUE]
        rows.sort(key=_invoice_order(sort), reverse=request.descending)
        return Page(tuple(rows[start : start + count]), len(rows), start)

    def open_totals(self) -> dict[str, Money]:
        """Balances of the open, partly paid and overdue invoices, per status and in all."""
        self._require(Permission.INVOICE_READ, "read invoices")
        totals: dict[str, Money] = {}
        for row in sorted(self._open_rows(), key=lambda r: r.status.value):
            for key in (row.status.value, "total"):
                totals[key] = totals.get(key, Money.zero(row.currency)) + row.balance
        return totals

    def payments_page(self, request: PageRequest) -> Page[PaymentRow]:
        """A page of payments, overpayments and refunds, newest first by default."""
        self._require(Permission.PAYMENT_READ, "read payments")
        sort = request.sort or self.PAYMENT_SORTS[0]
        if sort not in self.PAYMENT_SORTS:
            raise ValidationError(f"Payments cannot be sorted by {request.sort}.")
        if self._payment_list is None:
            raise AlkoError("The payment list is not available.")
        start = max(0, request.start)
        rows = self._payment_list.page(sort, start, max(0, request.count), request.descending)
        return Page(tuple(rows), self._payment_list.count(), start)

    def rebuild_lists(self) -> int:
        """Indexes every invoice again (after an upgrade); returns how many."""
        self._require(Permission.INVOICE_WRITE, "rebuild the invoice list")
        numbers = [d["_id"] for d in self._repo.all()]
        for number in numbers:
            self._indexer.put(number)
        self._announce("invoices", ChangeKind.MANY, ())
        self._announce("payments", ChangeKind.MANY, ())
        return len(numbers)

    def _lists(self) -> InvoiceListRepository:
        if self._invoice_list is None:
            raise AlkoError("The invoice list is not available.")
        return self._invoice_list

    def _open_rows(self) -> list[InvoiceRow]:
        lists = self._lists()
        total = lists.count("due", OPEN_PREFIX)
        rows = lists.page("due", 0, total, within=OPEN_PREFIX)
        return [self._as_of_today(r) for r in rows]

    def _as_of_today(self, row: InvoiceRow) -> InvoiceRow:
        late = self._clock.now().date() > row.due_date and row.balance.amount > 0
        if late and row.status in (InvoiceStatus.OPEN, InvoiceStatus.PARTLY_PAID):
            return replace(row, status=InvoiceStatus.OVERDUE)
        return row

    def open_items(self) -> tuple[list[InvoiceAccount], dict[str, Money]]:
        """Open, partly paid and overdue invoices, oldest due first, with balance totals per status."""
        accounts = [
            a
            for a in self.list_invoices(include_credit_notes=False)
            if a.status in (InvoiceStatus.OPEN, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE)
        ]
        accounts.sort(key=lambda a: (a.invoice.due_date, a.invoice.number))
        totals: dict[str, Money] = {}
        for account in accounts:
            for key in (account.status.value, "total"):
                start = totals.get(key, Money.zero(account.invoice.currency))
                totals[key] = start + account.balance
        return accounts, totals

    # the stored PDF ------------------------------------------------------------------

    def pdf(self, number: str, purpose: str = "export") -> bytes:
        """The PDF stored at issue, after checking its SHA-256; every use is audited."""
        if purpose not in PDF_PURPOSES:
            raise ValueError(purpose)
        self._require(Permission.INVOICE_READ, f"{purpose} invoices", number)
        invoice = self._complete_if_needed(self._load(number))
        data = self._repo.pdf(invoice.number)
        if data is None or sha256(data) != invoice.pdf_sha256:
            self._audit.record(
                self.actor,
                "invoice.tampered",
                invoice.number,
                {"expected_sha256": invoice.pdf_sha256, "found_sha256": sha256(data or b"")},
            )
            raise DocumentTampered(
                f"The stored PDF of {invoice.number} has been altered or is missing: its "
                "SHA-256 differs from the one recorded when it was issued.",
                hint="Do not use it. Tell an admin; the audit log has an entry for it.",
            )
        self._audit.record(self.actor, f"invoice.{purpose}", invoice.number, {"bytes": len(data)})
        return data

    # payments ------------------------------------------------------------------------

    def record_payment(
        self,
        number: str,
        amount: Money,
        method: PaymentMethod,
        *,
        paid_on: date | None = None,
        reference: str = "",
        overpayment: bool = False,
    ) -> Payment:
        """Money received. Beyond the balance only with `overpayment=True`, as its own entry."""
        self._require(Permission.PAYMENT_WRITE, "record payments", number)
        invoice = self._load(number)
        if invoice.is_credit_note:
            raise ValidationError(
                f"{number} is a credit note: record a refund against it, or a payment "
                f"against {invoice.corrects.number}."
            )
        self._check_amount(amount, invoice)

        def kind_for(account: InvoiceAccount) -> PaymentKind:
            if amount <= account.balance:
                return PaymentKind.PAYMENT
            if not overpayment:
                raise ValidationError(
                    f"{amount} is more than the balance of {number} "
                    f"({max(account.balance, Money.zero(invoice.currency))}).",
                    {"amount": "Record it explicitly as an overpayment if the customer paid more."},
                )
            return PaymentKind.OVERPAYMENT

        payment = self._append_entry(
            invoice, amount, method, paid_on, reference, kind_for, credit_note=""
        )
        self._audit.record(
            self.actor,
            "payment.recorded",
            number,
            {
                "entry": payment.id,
                "amount": str(amount),
                "method": method.value,
                "kind": payment.kind.value,
            },
        )
        self._indexer.put(number)
        self._announce("payments", ChangeKind.ADDED, (payment.id,))
        self._announce("invoices", ChangeKind.UPDATED, (number,))
        return payment

    def record_refund(
        self,
        credit_note: str,
        amount: Money,
        method: PaymentMethod,
        *,
        paid_on: date | None = None,
        reference: str = "",
    ) -> Payment:
        """Money paid back to the customer against a credit note, up to what they are owed."""
        self._require(Permission.PAYMENT_WRITE, "record refunds", credit_note)
        note = self._load(credit_note)
        if not note.is_credit_note:
            raise ValidationError(f"{credit_note} is not a credit note; refunds go against one.")
        original = self._load(note.corrects.number)
        self._check_amount(amount, original)

        def kind_for(account: InvoiceAccount) -> PaymentKind:
            owed_back = -account.balance
            if amount > owed_back:
                raise ValidationError(
                    f"The customer is owed {max(owed_back, Money.zero(original.currency))} "
                    f"on {original.number}; {amount} cannot be refunded."
                )
            return PaymentKind.REFUND

        payment = self._append_entry(
            original, amount, method, paid_on, reference, kind_for, credit_note=credit_note
        )
        self._audit.record(
            self.actor,
            "payment.refunded",
            credit_note,
            {"entry": payment.id, "amount": str(amount), "method": method.value},
        )
        self._indexer.put(original.number)
        self._announce("payments", ChangeKind.ADDED, (payment.id,))
        self._announce("invoices", ChangeKind.UPDATED, (original.number, credit_note))
        return payment

    def _check_amount(self, amount: Money, invoice: Invoice) -> None:
        if amount.currency != invoice.currency:
            raise ValidationError(f"The amount must be in {invoice.currency}.")
        if amount.amount <= 0 or amount.rounded() != amount:
            raise ValidationError(
                "Enter an amount above zero, to the cent.", {"amount": str(amount.amount)}
            )

    def _append_entry(
        self, invoice, amount, method, paid_on, reference, kind_for, *, credit_note: str
    ) -> Payment:
        """Entry n+1 of the invoice's ledger, checked against entries 1..n (retried on a race)."""
        # a day's grace: a desk east of UTC is a day ahead around midnight
        if paid_on is not None and paid_on > self._clock.now().date() + timedelta(days=1):
            raise ValidationError(
                f"{paid_on:%d.%m.%Y} is in the future: record money on the day it was received.",
                {"paid_on": "Choose today or an earlier day."},
            )
        for _ in range(100):
            account = self._account(invoice)
            kind = kind_for(account)
            entry = len(account.payments) + 1
            payment = Payment(
                id=ledger_id(invoice.number, entry),
                invoice_number=invoice.number,
                kind=kind,
                method=method,
                amount=amount.rounded(),
                paid_on=paid_on or self._clock.now().date(),
                reference=reference.strip()[:140],
                recorded_by=self.actor,
                recorded_at=self._clock.now(),
                credit_note=credit_note,
            )
            if self._repo.try_insert_entry(payment_to_doc(payment)):
                return payment
        raise AlkoError("Payments are busy on this invoice; please try again.")

    def receipt_pdf(self, payment_id: str) -> bytes:
        from alko_desk.documents.invoice_pdf import render_receipt_pdf

        self._require(Permission.PAYMENT_READ, "print receipts", payment_id)
        number, _, entry = payment_id.rpartition("/")
        if not entry.isdigit():
            raise NotFound(f"There is no payment {payment_id}.")
        invoice = self._load(number)
        account = self._account(invoice)
        upto = [p for p in account.payments if int(p.id.rsplit("/", 1)[1]) <= int(entry)]
        if len(upto) < int(entry):
            raise NotFound(f"There is no payment {payment_id}.")
        payment = upto[-1]
        zero = Money.zero(invoice.currency)
        paid = sum((p.amount for p in upto if p.kind is not PaymentKind.REFUND), zero)
        refunded = sum((p.amount for p in upto if p.kind is PaymentKind.REFUND), zero)
        balance = account.owed - paid + refunded
        data = render_receipt_pdf(payment, invoice, balance, self.settings())
        self._audit.record(self.actor, "payment.receipt", payment_id)
        return data


def _invoice_order(sort: str):
    """The service's order for open rows it holds (the same as the index's keys)."""
    if sort == "issue_date":
        return lambda r: (r.issue_date, r.number)
    if sort == "status":
        return lambda r: (STATUS_ORDER[r.status], r.number)
    if sort == "balance":
        return lambda r: (r.balance.amount, r.number)
    return lambda r: r.number


def parse_amount(text: str, currency: str) -> Money:
    try:
        value = Decimal(text.replace(",", "").strip())
    except Exception:
        raise ValidationError(f"“{text}” is not an amount.") from None
    return Money(value, currency)
