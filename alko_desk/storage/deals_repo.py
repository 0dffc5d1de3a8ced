"""Deals: records in, records out, by `_id`; deal settings in the `meta` collection.

A deal document holds its terms (every input of the arithmetic) and, for lists, its totals.
Reading a deal recomputes its figures from the terms, so what a screen shows is always
what the document alone gives. Listing (`page`) is the one place that filters and orders:
it reads the list index `ix_deals` (storage/doc_lists.py), which every write here keeps
(and, for a database from before it, a schema migration builds: a read never writes);
state, approval and salesperson are equality filters, client and vehicle exact lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, time
from decimal import Decimal
from typing import Any

from alko_desk.models.deals import (
    Approval,
    ApprovalStatus,
    BusinessBuyer,
    Deal,
    DealFigures,
    DealFilter,
    DealSettings,
    DealSort,
    DealState,
    DealTerms,
    DeliverySchedule,
    Discount,
    DiscountKind,
    Financing,
    HandoverChecklist,
    ItemKind,
    LineItem,
    TradeIn,
)
from alko_desk.models.listing import Page
from alko_desk.models.money import Money
from alko_desk.models.vehicles import Condition
from alko_desk.storage.app_index import ListSpec, Where
from alko_desk.storage.doc_lists import DocList, Listed, number, part, stamp, stored
from alko_desk.storage.mongo import Store, replace_upsert, repository
from alko_desk.storage.revisions import RevisionGuard

SETTINGS_DOC_ID = "deal_settings"
# services.deal_calc.compute, given by bootstrap: storage does not import services
Calculator = Callable[[DealTerms], DealFigures]


def _m(money: Money | None) -> dict | None:
    return money.to_storage() if money is not None else None


def _mm(doc: dict | None) -> Money | None:
    return Money.from_storage(doc) if doc else None


def terms_to_doc(t: DealTerms) -> dict[str, Any]:
    doc = _terms_doc(t)
    if t.business_buyer is not None:  # absent otherwise: a private deal's document is as before
        b = t.business_buyer
        doc["business_buyer"] = {
            "company": b.company,
            "vat_id": b.vat_id,
            "street": b.street,
            "postal_code": b.postal_code,
            "city": b.city,
            "country": b.country,
        }
        doc["seller_country"] = t.seller_country
    return doc


def _terms_doc(t: DealTerms) -> dict[str, Any]:
    return {
        "currency": t.currency,
        "list_price": _m(t.list_price),
        "vat_rate": str(t.vat_rate),
        "condition": t.condition.value,
        "purchase_cost": _m(t.purchase_cost),
        "acquired_without_vat": t.acquired_without_vat,
        "prefer_standard_vat": t.prefer_standard_vat,
        "discounts": [
            {"kind": d.kind.value, "value": str(d.value), "description": d.description}
            for d in t.discounts
        ],
        "items": [
            {
                "kind": i.kind.value,
                "description": i.description,
                "amount": _m(i.amount),
                "vat_applies": i.vat_applies,
            }
            for i in t.items
        ],
        "trade_in": {
            "vin": t.trade_in.vin,
            "description": t.trade_in.description,
            "mileage_km": t.trade_in.mileage_km,
            "appraised_value": _m(t.trade_in.appraised_value),
            "outstanding_loan": _m(t.trade_in.outstanding_loan),
        }
        if t.trade_in
        else None,
        "deposit": _m(t.deposit),
        "financing": {
            "lender": t.financing.lender,
            "amount": _m(t.financing.amount),
            "term_months": t.financing.term_months,
            "annual_rate": str(t.financing.annual_rate),
        }
        if t.financing
        else None,
    }


def terms_from_doc(doc: dict[str, Any]) -> DealTerms:
    tr = doc.get("trade_in")
    fi = doc.get("financing")
    bb = doc.get("business_buyer")
    return DealTerms(
        currency=doc["currency"],
        list_price=Money.from_storage(doc["list_price"]),
        vat_rate=Decimal(doc["vat_rate"]),
        condition=Condition(doc.get("condition", "new")),
        purchase_cost=_mm(doc.get("purchase_cost")),
        acquired_without_vat=bool(doc.get("acquired_without_vat", False)),
        prefer_standard_vat=bool(doc.get("prefer_standard_vat", False)),
        discounts=tuple(
            Discount(DiscountKind(d["kind"]), Decimal(d["value"]), d.get("description", ""))
            for d in doc.get("discounts", [])
        ),
        items=tuple(
            LineItem(
                ItemKind(i["kind"]),
                i.get("description", ""),
                Money.from_storage(i["amount"]),
                bool(i.get("vat_applies", True)),
            )
            for i in doc.get("items", [])
        ),
        trade_in=TradeIn(
            tr["vin"],
            tr.get("description", ""),
            int(tr.get("mileage_km", 0)),
            Money.from_storage(tr["appraised_value"]),
            Money.from_storage(tr["outstanding_loan"]),
        )
        if tr
        else None,
        deposit=_mm(doc.get("deposit")),
        financing=Financing(
            fi["lender"],
            Money.from_storage(fi["amount"]),
            int(fi["term_months"]),
            Decimal(fi["annual_rate"]),
        )
        if fi
        else None,
        business_buyer=BusinessBuyer(
            bb["company"],
            bb["vat_id"],
            bb.get("street", ""),
            bb.get("postal_code", ""),
            bb.get("city", ""),
            bb.get("country", ""),
        )
        if bb
        else None,
        seller_country=doc.get("seller_country", ""),
    )


def deal_to_doc(deal: Deal) -> dict[str, Any]:
    a = deal.approval
    dl = deal.delivery
    ck = deal.checklist
    return {
        "_id": deal.id,
        "client_id": deal.client_id,
        "vehicle_id": deal.vehicle_id,
        "vehicle_vin": deal.vehicle_vin,
        "vehicle_title": deal.vehicle_title,
        "state": deal.state.value,
        "terms": terms_to_doc(deal.terms),
        # for lists and reports; recomputing the terms gives the same (tests check it)
        "totals": {
            "total_price": _m(deal.figures.total_price),
            "balance_due": _m(deal.figures.balance_due),
            "discount_percent": str(deal.figures.discount_percent),
        },
        "salesperson": deal.salesperson,
        "created_at": deal.created_at,
        "updated_at": deal.updated_at,
        "rev": deal.rev,
        "approval": {"status": a.status.value, "by": a.by, "at": a.at, "reason": a.reason},
        "reserved_until": deal.reserved_until,
        "delivery": {
            "day": dl.day.isoformat(),
            "at": dl.at.isoformat(timespec="minutes"),
            "place": dl.place,
            "staff": dl.staff,
        }
        if dl
        else None,
        "checklist": {
            "documents": ck.documents,
            "keys": ck.keys,
            "plates": ck.plates,
            "fuel_level_percent": ck.fuel_level_percent,
            "mileage_km": ck.mileage_km,
            "damage_notes": ck.damage_notes,
            "completed_by": ck.completed_by,
            "completed_at": ck.completed_at,
        }
        if ck
        else None,
        "invoice_number": deal.invoice_number,
        "cancel_reason": deal.cancel_reason,
        "notes": deal.notes,
        "history": [{"at": at, "by": by, "what": what} for at, by, what in deal.history],
    }


def deal_from_doc(doc: dict[str, Any], calculate: Calculator) -> Deal:
    terms = terms_from_doc(doc["terms"])
    a = doc.get("approval") or {}
    dl = doc.get("delivery")
    ck = doc.get("checklist")
    return Deal(
        id=doc["_id"],
        client_id=doc["client_id"],
        vehicle_id=doc["vehicle_id"],
        vehicle_vin=doc.get("vehicle_vin", ""),
        vehicle_title=doc.get("vehicle_title", ""),
        state=DealState(doc["state"]),
        terms=terms,
        figures=calculate(terms),
        salesperson=doc.get("salesperson", ""),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        rev=int(doc.get("rev", 1)),
        approval=Approval(
            ApprovalStatus(a.get("status", "not_needed")),
            a.get("by", ""),
            a.get("at"),
            a.get("reason", ""),
        ),
        reserved_until=doc.get("reserved_until"),
        delivery=DeliverySchedule(
            date.fromisoformat(dl["day"]), time.fromisoformat(dl["at"]), dl["place"], dl["staff"]
        )
        if dl
        else None,
        checklist=HandoverChecklist(**ck) if ck else None,
        invoice_number=doc.get("invoice_number", ""),
        cancel_reason=doc.get("cancel_reason", ""),
        notes=doc.get("notes", ""),
        history=tuple((h["at"], h["by"], h["what"]) for h in doc.get("history", [])),
    )


def stored_totals(doc: dict[str, Any]) -> dict[str, Money]:
    t = doc["totals"]
    return {k: Money.from_storage(t[k]) for k in ("total_price", "balance_due")}


DEAL_LIST = ListSpec(
    name="deals",
    sorts=("created", "state", "approval", "total", "vehicle"),
    exact=("client", "vehicle"),
    equal=("state", "approval", "salesperson"),
)
STATE_ORDER = {s: str(i) for i, s in enumerate(DealState)}
APPROVAL_ORDER = {  # pending first: what a manager looks for
    ApprovalStatus.PENDING: "0",
    ApprovalStatus.REJECTED: "1",
    ApprovalStatus.APPROVED: "2",
    ApprovalStatus.NOT_NEEDED: "3",
}


def _listed(deal: Deal) -> Listed:
    return _listed_doc(deal_to_doc(deal))


def _listed_doc(doc: dict[str, Any]) -> Listed:
    """A deal's list entry from its stored document alone (a migration has no calculator:
    the stored totals are what reading the terms gives, see `deal_to_doc`)."""
    created = stamp(stored(doc["created_at"]))
    state = DealState(doc["state"])
    approval = ApprovalStatus((doc.get("approval") or {}).get("status", "not_needed"))
    total = stored_totals(doc)["total_price"].amount
    keys = {
        "created": created,
        "state": part(STATE_ORDER[state]) + created,
        "approval": part(APPROVAL_ORDER[approval]) + created,
        "total": number(total * 100),
        "vehicle": part(doc.get("vehicle_title", "").casefold(), doc.get("vehicle_vin", ""))
        + created,
    }
    exact = {"client": [doc["client_id"]], "vehicle": [doc["vehicle_id"]]}
    salesperson = doc.get("salesperson", "")
    fields = [state.value, doc["client_id"], doc["vehicle_id"], salesperson, approval.value]
    equal = {"state": state.value, "approval": approval.value, "salesperson": salesperson}
    return Listed(doc["_id"], keys, fields, doc, exact, equal)


def _where(filters: DealFilter) -> tuple[Where, tuple[str, str] | None, DealFilter]:
    """What the index serves of `filters`: equality values, or an exact lookup (a client's
    or a vehicle's few deals) with the rest checked on them."""
    if filters.vehicle_id:
        return Where(), ("vehicle", filters.vehicle_id), replace(filters, vehicle_id="")
    if filters.client_id:
        return Where(), ("client", filters.client_id), replace(filters, client_id="")
    equal = {"state": filters.state.value} if filters.state is not None else {}
    if filters.pending_approval:
        equal["approval"] = ApprovalStatus.PENDING.value
    if filters.salesperson:
        equal["salesperson"] = filters.salesperson
    return Where(equal), None, DealFilter()


def rebuild_deal_list(deals, doc_list: DocList) -> int:
    """Lists every stored deal from its document (no calculator needed); returns how many."""
    docs = list(deals.find({}))
    doc_list.bulk_load(_listed_doc(d) for d in docs)  # one sorted pass, one commit
    return len(docs)


def build_deal_list(store: Store) -> int:
    """The deal list index from the documents (schema migrations)."""
    doc_list = DocList(store, DEAL_LIST)
    doc_list.ensure()
    return rebuild_deal_list(store.collection("deals"), doc_list)


@repository
class DealRepository:
    def __init__(self, store: Store, calculate: Calculator) -> None:
        self._calculate = calculate
        self._deals = store.collection("deals")
        self._meta = store.collection("meta")
        self._revisions = RevisionGuard(self._deals, store.collection("deal_claims"))
        self._list = DocList(store, DEAL_LIST)

    def get(self, deal_id: str) -> Deal | None:
        doc = self._deals.find_one({"_id": deal_id})
        return deal_from_doc(doc, self._calculate) if doc else None

    def get_doc(self, deal_id: str) -> dict | None:
        return self._deals.find_one({"_id": deal_id})

    def insert(self, deal: Deal) -> None:
        self._deals.insert_one(deal_to_doc(deal))
        self._list.put(_listed(deal))

    def insert_many(self, deals: list[Deal]) -> None:
        """Bulk path (demo seeding, benchmarks): documents, then their list entries in one
        bulk load (one sorted pass over the list index, one commit)."""
        for i in range(0, len(deals), 1000):
            self._deals.insert_many([deal_to_doc(d) for d in deals[i : i + 1000]], ordered=False)
        self._list.bulk_load(_listed(d) for d in deals)

    def list_many(self, deals: list[Deal]) -> None:
        """Lists deals already stored (a recovered batch): one bulk load."""
        if deals:
            self._list.bulk_load(_listed(d) for d in deals)

    def replace_if(self, deal: Deal, expected_rev: int) -> bool:
        if not self._revisions.replace_if(deal_to_doc(deal), expected_rev):
            return False
        self._list.put(_listed(replace(deal, rev=expected_rev + 1)))
        return True

    def get_for_write(self, deal_id: str) -> Deal | None:
        doc = self._revisions.settled(deal_id)
        if doc is None:
            return None
        deal = deal_from_doc(doc, self._calculate)
        self._list.put(_listed(deal))  # heals a write interrupted before its list entry
        return deal

    def delete(self, deal_id: str) -> None:
        self._deals.delete_one({"_id": deal_id})
        self._list.remove(deal_id)

    def all(self) -> list[Deal]:
        return [deal_from_doc(d, self._calculate) for d in self._deals.find({})]

    def page(
        self,
        filters: DealFilter,
        start: int,
        count: int,
        sort: DealSort = DealSort.CREATED,
        descending: bool = True,
    ) -> Page[Deal]:
        """The one place deals are listed (newest first by default), from the list index;
        a read only (never a write)."""
        where, exact, rest = _where(filters)
        keep = None if rest == DealFilter() else rest.matches_fields
        docs, total = self._list.page(sort.value, descending, start, count, where, keep, exact)
        return Page(tuple(deal_from_doc(d, self._calculate) for d in docs), total, start)

    def count(self) -> int:
        return self._list.count()

    def rebuild_list(self) -> int:
        """Puts every deal into the list index: a schema migration's step, never a read's."""
        return rebuild_deal_list(self._deals, self._list)

    def ensure_list(self) -> None:
        """The list's native indexes (MongoDB); nothing on FerretDB."""
        self._list.ensure()

    def clear_list_cache(self) -> None:
        self._list.clear_cache()

    def settings(self) -> DealSettings:
        doc = self._meta.find_one({"_id": SETTINGS_DOC_ID})
        if not doc:
            return DealSettings()
        return DealSettings(
            reservation_days=int(doc.get("reservation_days", 7)),
            approval_discount_percent=Decimal(doc.get("approval_discount_percent", "5")),
        )

    def save_settings(self, settings: DealSettings) -> None:
        replace_upsert(
            self._meta,
            {"_id": SETTINGS_DOC_ID},
            {
                "reservation_days": settings.reservation_days,
                "approval_discount_percent": str(settings.approval_discount_percent),
            },
        )
