"""Invoices, their stored PDFs, the payment ledger and the series hints.

Numbering without transactions: an invoice document's `_id` *is* its number
(`ALKO-2026-000123`), so the unique `_id` index makes "this number is taken" and "this
invoice is stored" one and the same write. `try_insert` at last+1 is the compare-and-set;
a desk that loses the race gets `False` and tries the next number. Nothing is ever
deleted, so the numbers of a series are always 1..last without a gap.

Everything else about an issued invoice is derived from that document and written once
afterwards (the PDF and its SHA-256, the `complete` flag, the credit notes that refer to
it), so that a crash after the insert is finished by `incomplete()` + the service.

Collections: `invoices` (small documents, no PDF bytes: lists scan them on FerretDB),
`invoice_pdfs` (the bytes, read by `_id` only), `invoice_series` (the last number seen per
series, a hint only), `invoice_ledger` (payments, overpayments and refunds, `_id`
= invoice number + "/" + entry number, checked and inserted the same way).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bson.binary import Binary
from pymongo.errors import DuplicateKeyError

from alko_desk.models.invoices import (
    Address,
    BankDetails,
    Deposit,
    DocumentKind,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    InvoiceRef,
    InvoiceRow,
    InvoiceStatus,
    Party,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentRow,
    VatCategory,
)
from alko_desk.models.money import Money
from alko_desk.storage.app_index import IndexEntry, ListRepository, ListSpec
from alko_desk.storage.mongo import Store, replace_upsert, repository, upsert_one

SETTINGS_DOC_ID = "invoice_settings"

# ----------------------------------------------------------------------------- documents


def _party_doc(party: Party) -> dict[str, Any]:
    a = party.address
    return {
        "name": party.name,
        "address": {
            "street": a.street,
            "city": a.city,
            "postcode": a.postcode,
            "country": a.country,
        },
        "vat_id": party.vat_id,
        "email": party.email,
        "client_id": party.client_id,
    }


def _party(doc: dict[str, Any]) -> Party:
    return Party(
        doc["name"],
        Address(**doc["address"]),
        vat_id=doc.get("vat_id", ""),
        email=doc.get("email", ""),
        client_id=doc.get("client_id", ""),
    )


def draft_to_doc(draft: InvoiceDraft) -> dict[str, Any]:
    return {
        "supplier": _party_doc(draft.supplier),
        "customer": _party_doc(draft.customer),
        "lines": [
            {
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit_price": ln.unit_price.to_storage(),
                "vat_category": ln.vat_category.value,
                "vat_rate": str(ln.vat_rate),
                "vin": ln.vin,
            }
            for ln in draft.lines
        ],
        "supply_date": draft.supply_date.isoformat(),
        "currency": draft.currency,
        "deposits": [
            {
                "amount": d.amount.to_storage(),
                "received_on": d.received_on.isoformat(),
                "reference": d.reference,
            }
            for d in draft.deposits
        ],
        "bank": (
            {"iban": draft.bank.iban, "bic": draft.bank.bic, "bank_name": draft.bank.bank_name}
            if draft.bank
            else None
        ),
        "payment_terms_days": draft.payment_terms_days,
        "deal_id": draft.deal_id,
        "notes": draft.notes,
    }


def draft_from_doc(doc: dict[str, Any]) -> InvoiceDraft:
    return InvoiceDraft(
        supplier=_party(doc["supplier"]),
        customer=_party(doc["customer"]),
        lines=tuple(
            InvoiceLine(
                ln["description"],
                Decimal(ln["quantity"]),
                Money.from_storage(ln["unit_price"]),
                VatCategory(ln["vat_category"]),
                Decimal(ln["vat_rate"]),
                ln.get("vin", ""),
            )
            for ln in doc["lines"]
        ),
        supply_date=date.fromisoformat(doc["supply_date"]),
        currency=doc["currency"],
        deposits=tuple(
            Deposit(
                Money.from_storage(d["amount"]),
                date.fromisoformat(d["received_on"]),
                d.get("reference", ""),
            )
            for d in doc.get("deposits", [])
        ),
        bank=BankDetails(**doc["bank"]) if doc.get("bank") else None,
        payment_terms_days=int(doc.get("payment_terms_days", 8)),
        deal_id=doc.get("deal_id", ""),
        notes=doc.get("notes", ""),
    )


def invoice_to_doc(invoice: Invoice) -> dict[str, Any]:
    totals = invoice.totals
    return {
        "_id": invoice.number,
        "series": invoice.series,
        "seq": invoice.sequence,
        "kind": invoice.kind.value,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "draft": draft_to_doc(invoice.draft),
        # Copies of derived figures, for lists that should not recompute every invoice.
        "gross": totals.gross.to_storage(),
        "due": totals.due.to_storage(),
        "deal_id": invoice.draft.deal_id,
        "customer_name": invoice.draft.customer.name,
        "issued_by": invoice.issued_by,
        "issued_at": invoice.issued_at,
        "corrects": (
            {
                "number": invoice.corrects.number,
                "issue_date": invoice.corrects.issue_date.isoformat(),
            }
            if invoice.corrects
            else None
        ),
        "reason": invoice.reason,
        # Written once after the insert (see the module docstring).
        "complete": False,
    }


def invoice_from_doc(doc: dict[str, Any]) -> Invoice:
    draft = draft_from_doc(doc["draft"])
    corrects = doc.get("corrects")
    return Invoice(
        number=doc["_id"],
        series=doc["series"],
        sequence=int(doc["seq"]),
        kind=DocumentKind(doc["kind"]),
        issue_date=date.fromisoformat(doc["issue_date"]),
        due_date=date.fromisoformat(doc["due_date"]),
        draft=draft,
        totals=draft.totals(),
        issued_by=doc["issued_by"],
        issued_at=doc["issued_at"],
        corrects=(
            InvoiceRef(corrects["number"], date.fromisoformat(corrects["issue_date"]))
            if corrects
            else None
        ),
        reason=doc.get("reason", ""),
        pdf_sha256=doc.get("pdf_sha256", ""),
    )


def payment_to_doc(payment: Payment) -> dict[str, Any]:
    return {
        "_id": payment.id,
        "invoice": payment.invoice_number,
        "kind": payment.kind.value,
        "method": payment.method.value,
        "amount": payment.amount.to_storage(),
        "paid_on": payment.paid_on.isoformat(),
        "reference": payment.reference,
        "recorded_by": payment.recorded_by,
        "recorded_at": payment.recorded_at,
        "credit_note": payment.credit_note,
    }


def payment_from_doc(doc: dict[str, Any]) -> Payment:
    return Payment(
        id=doc["_id"],
        invoice_number=doc["invoice"],
        kind=PaymentKind(doc["kind"]),
        method=PaymentMethod(doc["method"]),
        amount=Money.from_storage(doc["amount"]),
        paid_on=date.fromisoformat(doc["paid_on"]),
        reference=doc.get("reference", ""),
        recorded_by=doc["recorded_by"],
        recorded_at=doc["recorded_at"],
        credit_note=doc.get("credit_note", ""),
    )


def ledger_id(invoice_number: str, entry: int) -> str:
    return f"{invoice_number}/{entry}"


# ----------------------------------------------------------------------------- repository


@repository
class InvoiceRepository:
    def __init__(self, store: Store) -> None:
        self._invoices = store.collection("invoices")
        self._pdfs = store.collection("invoice_pdfs")
        self._series = store.collection("invoice_series")
        self._ledger = store.collection("invoice_ledger")
        self._meta = store.collection("meta")
        self._requests = store.collection("invoice_requests")
        self._locks = store.collection("invoice_locks")

    # settings ------------------------------------------------------------------

    def settings(self) -> dict | None:
        return self._meta.find_one({"_id": SETTINGS_DOC_ID})

    def save_settings(self, doc: dict[str, Any]) -> None:
        replace_upsert(self._meta, {"_id": SETTINGS_DOC_ID}, {"_id": SETTINGS_DOC_ID, **doc})

    # short claims: one desk at a time credits an invoice or invoices a deal --------------

    def claim(self, key: str, owner: str, now: datetime, stale_before: datetime) -> bool:
        """True if this owner now holds `key`; a claim older than `stale_before` (a crashed
        desk's) is taken over."""
        try:
            self._locks.insert_one({"_id": key, "owner": owner, "at": now})
            return True
        except DuplicateKeyError:
            pass
        held = self._locks.find_one({"_id": key})
        if held is None:
            return self.claim(key, owner, now, stale_before)
        if held["at"] >= stale_before:
            return False
        return self._take_over(key, held, owner, now, stale_before)

    def _take_over(
        self, key: str, held: dict, owner: str, now: datetime, stale_before: datetime
    ) -> bool:
        """Replaces the stale claim `held`; of two desks taking over the same claim exactly
        one gets True.

        A conditional `update_one({_id, owner, at})` is not atomic across connections on
        FerretDB 1.24 (storage/revisions.py): both desks matched it (16 of 25 rounds in
        review) and both invoiced the deal. So the takeover is claimed first by a unique
        insert keyed by the claim it replaces (as `VehicleRepository._take_over_vin`); only
        the desk whose insert lands writes. A marker stays per takeover (one per crash)."""
        at = held["at"] if held["at"].tzinfo else held["at"].replace(tzinfo=UTC)
        marker = f"{key}@{held['owner']}@{at.isoformat()}"
        try:
            self._locks.insert_one({"_id": marker, "by": owner, "at": now})
        except DuplicateKeyError:
            return False
        taken = self._locks.replace_one(
            {"_id": key, "owner": held["owner"], "at": held["at"]}, {"owner": owner, "at": now}
        )
        if taken.matched_count == 1:
            return True
        # its owner released it meanwhile (it was slow, not dead): claim it afresh
        return self.claim(key, owner, now, stale_before)

    def release(self, key: str, owner: str) -> None:
        self._locks.delete_one({"_id": key, "owner": owner})

    # requests from sales ---------------------------------------------------------

    def save_request(self, doc: dict[str, Any]) -> None:
        replace_upsert(self._requests, {"_id": doc["_id"]}, doc)

    def requests(self) -> list[dict]:
        return list(self._requests.find({}))

    def close_request(self, deal_id: str, invoice_number: str) -> None:
        self._requests.update_one({"_id": deal_id}, {"$set": {"invoice": invoice_number}})

    # numbering ---------------------------------------------------------------

    def last_number_hint(self, series: str) -> int:
        doc = self._series.find_one({"_id": series})
        return int(doc["last"]) if doc else 0

    def advance_hint(self, series: str, sequence: int) -> None:
        upsert_one(self._series, {"_id": series}, {"$max": {"last": sequence}})

    def try_insert(self, doc: dict[str, Any]) -> bool:
        """Stores a new invoice under its number; False when the number is already taken."""
        try:
            self._invoices.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    # reading -----------------------------------------------------------------

    def get(self, number: str) -> dict | None:
        return self._invoices.find_one({"_id": number})

    def all(self, series: str | None = None) -> list[dict]:
        query = {"series": series} if series else {}
        return list(self._invoices.find(query))

    def first(self) -> dict | None:
        """Any one invoice (whether there are any)."""
        return self._invoices.find_one({})

    def numbers(self) -> list[str]:
        return [d["_id"] for d in self._invoices.find({}, {"_id": 1})]

    def incomplete(self) -> list[str]:
        return [d["_id"] for d in self._invoices.find({"complete": False}, {"_id": 1})]

    def by_deal(self, deal_id: str) -> list[dict]:
        return list(self._invoices.find({"deal_id": deal_id}))

    # derived, written once -----------------------------------------------------

    def store_pdf(self, number: str, pdf: bytes, sha256: str) -> str:
        """Keeps the first PDF stored for a number (a second render after a crash is dropped);
        returns the SHA-256 of the one kept."""
        try:
            self._pdfs.insert_one({"_id": number, "pdf": Binary(pdf), "sha256": sha256})
            return sha256
        except DuplicateKeyError:
            return self.pdf_sha256_of_stored(number) or sha256

    def pdf(self, number: str) -> bytes | None:
        doc = self._pdfs.find_one({"_id": number})
        return bytes(doc["pdf"]) if doc else None

    def pdf_sha256_of_stored(self, number: str) -> str | None:
        doc = self._pdfs.find_one({"_id": number}, {"sha256": 1})
        return doc["sha256"] if doc else None

    def finish(self, number: str, sha256: str) -> None:
        """Records the PDF's hash and completes the invoice. Repeating it writes the same
        values (the hash is always that of the one PDF kept, see `store_pdf`), so the filter
        is the `_id` alone: on FerretDB any other condition reads the whole collection
        (at 300 invoices that one update cost ~40 ms, more than the rest of issuing)."""
        self._invoices.update_one(
            {"_id": number},
            # the writer (services/intents.py Leases) told recovery who was completing it
            {"$set": {"pdf_sha256": sha256, "complete": True}, "$unset": {"writer": ""}},
        )

    def add_credit_note(self, original: str, credit_note: str) -> None:
        self._invoices.update_one({"_id": original}, {"$addToSet": {"credit_notes": credit_note}})

    # the ledger ----------------------------------------------------------------

    def ledger(self, invoice_number: str) -> list[dict]:
        """The entries of one invoice, in order, by `_id` lookups (1, 2, ... until one is missing)."""
        out = []
        entry = 1
        while True:
            doc = self._ledger.find_one({"_id": ledger_id(invoice_number, entry)})
            if doc is None:
                return out
            out.append(doc)
            entry += 1

    def all_ledger(self) -> list[dict]:
        return list(self._ledger.find({}))

    def try_insert_entry(self, doc: dict[str, Any]) -> bool:
        try:
            self._ledger.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False


# ----------------------------------------------------------------------------- list indexes

INVOICE_LIST = ListSpec(
    name="invoices",
    # "due" is the order of the open/overdue filter: "o" (open) or "c" (closed), then the
    # due date, so that open items are one `within="o"` range, the most overdue first.
    sorts=("number", "issue_date", "status", "balance", "due"),
)
PAYMENT_LIST = ListSpec(name="payments", sorts=("paid_on", "invoice", "amount"))
STATUS_ORDER = {
    InvoiceStatus.OVERDUE: "0",
    InvoiceStatus.OPEN: "1",
    InvoiceStatus.PARTLY_PAID: "2",
    InvoiceStatus.PAID: "3",
    InvoiceStatus.CREDITED: "4",
}
OPEN_PREFIX, CLOSED_PREFIX = "o", "c"


def _amount_key(money: Money) -> str:
    """Amounts as keys that sort as numbers (negative balances too): cents + 10^12."""
    return f"{int(money.amount * 100) + 10**12:015d}"


def _invoice_entry(row: InvoiceRow) -> IndexEntry:
    status = "5" if row.is_credit_note else STATUS_ORDER[row.status]
    is_open = not row.is_credit_note and row.status in (
        InvoiceStatus.OPEN,
        InvoiceStatus.PARTLY_PAID,
    )
    return IndexEntry(
        id=row.id,
        keys={
            "number": row.id,
            "issue_date": f"{row.issue_date.isoformat()} {row.id}",
            "status": f"{status} {row.id}",
            "balance": f"{_amount_key(row.balance)} {row.id}",
            "due": f"{OPEN_PREFIX if is_open else CLOSED_PREFIX}{row.due_date.isoformat()} {row.id}",
        },
        payload=[
            row.kind.value,
            row.issue_date.isoformat(),
            row.due_date.isoformat(),
            row.customer,
            row.deal_id,
            row.gross.to_storage(),
            row.paid.to_storage(),
            row.balance.to_storage(),
            row.status.value,
            row.corrects,
        ],
        version=row.version,
    )


def _invoice_row(number: str, p: list) -> InvoiceRow:
    return InvoiceRow(
        id=number,
        kind=DocumentKind(p[0]),
        issue_date=date.fromisoformat(p[1]),
        due_date=date.fromisoformat(p[2]),
        customer=p[3],
        deal_id=p[4],
        gross=Money.from_storage(p[5]),
        paid=Money.from_storage(p[6]),
        balance=Money.from_storage(p[7]),
        status=InvoiceStatus(p[8]),
        corrects=p[9],
    )


def _payment_entry(row: PaymentRow) -> IndexEntry:
    return IndexEntry(
        id=row.id,
        keys={
            "paid_on": f"{row.paid_on.isoformat()} {row.id}",
            "invoice": row.id,
            "amount": f"{_amount_key(row.amount)} {row.id}",
        },
        payload=[
            row.invoice_number,
            row.kind.value,
            row.method.value,
            row.amount.to_storage(),
            row.paid_on.isoformat(),
            row.reference,
            row.credit_note,
        ],
    )


def _payment_row(payment_id: str, p: list) -> PaymentRow:
    return PaymentRow(
        id=payment_id,
        invoice_number=p[0],
        kind=PaymentKind(p[1]),
        method=PaymentMethod(p[2]),
        amount=Money.from_storage(p[3]),
        paid_on=date.fromisoformat(p[4]),
        reference=p[5],
        credit_note=p[6],
    )


class InvoiceListRepository(ListRepository[InvoiceRow, InvoiceRow]):
    """The invoice list: every declared sort both ways, and open items by due date."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, INVOICE_LIST, entry=_invoice_entry, row=_invoice_row)


class PaymentListRepository(ListRepository[PaymentRow, PaymentRow]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, PAYMENT_LIST, entry=_payment_entry, row=_payment_row)
