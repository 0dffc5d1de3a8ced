"""Two desks at the same moment on the invoice claims and requests (FerretDB 1.24 applies a
conditional update without isolation, and a racing upsert's loser gets a duplicate key)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from alko_desk.models.invoices import DocumentKind, InvoiceRef, credit_lines
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.services.invoicing import InvoiceCompletion, credit_claim_key
from alko_desk.storage.invoices_repo import InvoiceRepository
from alko_desk.storage.mongo import Store, connect
from tests.invoice_data import CROATIAN, car_line
from tests.same_moment import at_the_same_moment, on_connections_at_once

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
STALE_BEFORE = NOW - timedelta(minutes=2)


def _crashed_desks_claim(store, key: str) -> None:
    locks = store.collection("invoice_locks")
    locks.delete_one({"_id": key})
    locks.insert_one({"_id": key, "owner": "crashed-desk", "at": NOW - timedelta(hours=1)})


def test_two_desks_taking_over_a_crashed_desks_claim_at_once_have_exactly_one_winner(
    mongo_uri, store
):
    """A desk crashed while crediting an invoice; two desks credit it again at the same moment
    after its claim lapsed. Before: both took the claim over (16 of 25 rounds in review) and
    could credit beyond the invoice's gross, or invoice one deal twice."""
    rounds = on_connections_at_once(
        mongo_uri,
        store.db.name,
        [
            lambda s, r: InvoiceRepository(s).claim(f"credit:R-{r}", "desk-a", NOW, STALE_BEFORE),
            lambda s, r: InvoiceRepository(s).claim(f"credit:R-{r}", "desk-b", NOW, STALE_BEFORE),
        ],
        rounds=25,
        reset=lambda r: _crashed_desks_claim(store, f"credit:R-{r}"),
    )
    locks = store.collection("invoice_locks")
    for r, (a, b, _) in enumerate(rounds):
        assert sorted([a, b]) == [False, True], (r, a, b)
        winner = "desk-a" if a else "desk-b"
        assert locks.find_one({"_id": f"credit:R-{r}"})["owner"] == winner, r


def test_a_claim_released_during_its_takeover_is_claimed_afresh(store):
    """The stale claim's desk was slow, not dead, and let go while it was being taken over."""
    repo = InvoiceRepository(store)
    _crashed_desks_claim(store, "deal:D1")
    held = store.collection("invoice_locks").find_one({"_id": "deal:D1"})
    repo.release("deal:D1", "crashed-desk")
    assert repo._take_over("deal:D1", held, "desk-a", NOW, STALE_BEFORE)
    assert store.collection("invoice_locks").find_one({"_id": "deal:D1"})["owner"] == "desk-a"
    assert not repo.claim("deal:D1", "desk-b", NOW, STALE_BEFORE)  # and held as usual
    repo.release("deal:D1", "desk-a")
    assert repo.claim("deal:D1", "desk-b", NOW, STALE_BEFORE)


def test_two_sales_desks_requesting_an_invoice_for_one_deal_at_once_both_land(mongo_uri, store):
    """Before: one of the two got a duplicate key error (19 of 25 rounds in review)."""

    def request(desk: str):
        def call(s, r):
            doc = {"_id": f"deal-{r}", "note": desk, "by": desk, "at": NOW, "invoice": ""}
            InvoiceRepository(s).save_request(doc)

        return call

    rounds = on_connections_at_once(
        mongo_uri, store.db.name, [request("sam"), request("sue")], rounds=25
    )
    assert [r for r in rounds if r != [None, None, None]] == []
    requests = {d["_id"]: d["by"] for d in InvoiceRepository(store).requests()}
    assert sorted(requests) == sorted(f"deal-{r}" for r in range(25))
    assert set(requests.values()) <= {"sam", "sue"}


# ----------------------------------------------------------------------------- credit-note links


@pytest.fixture
def finance(context, make_user):
    return context.services_for(make_user("fiona", Role.FINANCE)).invoices


def _issue(finance):
    return finance.issue(finance.new_draft(CROATIAN, [car_line()], date(2026, 11, 24)))


def _crash_left_credit_note(context, finance, invoice, gross: str) -> str:
    """A credit note a desk inserted and then died: no link on the invoice yet. Its PDF is
    stored already (a crash after that step), so completing it goes straight to the link."""
    lines = credit_lines(invoice, Money.of(gross), "goodwill")
    note = finance._insert_numbered(
        DocumentKind.CREDIT_NOTE,
        replace(invoice.draft, lines=lines),
        finance.settings(),
        corrects=InvoiceRef(invoice.number, invoice.issue_date),
        reason="goodwill",
    )
    pdf = b"%PDF-1.7 stand-in"
    context.invoices_repo.store_pdf(note.number, pdf, hashlib.sha256(pdf).hexdigest())
    return note.number


def _links(context, number: str) -> set[str]:
    return set(context.invoices_repo.get(number).get("credit_notes", []))


def test_a_recovery_leaves_the_credit_notes_of_an_invoice_being_credited_to_that_desk(
    context, finance, clock
):
    """Links to an invoice are written only under its credit claim, so no two desks add
    links at once (`$addToSet` is a read-modify-write on FerretDB 1.24: one would be lost,
    and the credited amount with it)."""
    invoice = _issue(finance)
    note = _crash_left_credit_note(context, finance, invoice, "1000")
    key = credit_claim_key(invoice.number)
    assert context.invoices_repo.claim(key, "desk-crediting-it", clock.now(), clock.now())
    assert finance.finish_interrupted() == 0  # another desk is crediting it: left to that desk
    assert _links(context, invoice.number) == set()
    assert note in context.invoices_repo.incomplete()
    context.invoices_repo.release(key, "desk-crediting-it")
    assert finance.finish_interrupted() == 1
    assert _links(context, invoice.number) == {note}
    assert finance.account(invoice.number).credited == Money.of("1000.00")


def test_two_desks_linking_credit_notes_of_one_invoice_at_once_lose_no_link(
    context, finance, mongo_uri
):
    """Two desks finish two crash-left credit notes of one invoice at the same moment (a
    login's recovery, a print of the note); a desk that finds the other linking leaves its
    note to the next recovery. Every credit note ends up counted."""
    invoice = _issue(finance)
    clients = [connect(mongo_uri) for _ in range(2)]
    completions = [
        InvoiceCompletion(
            InvoiceRepository(Store.open(c, context.store.db.name)),
            context.audit_log,
            clock=context.clock,
        )
        for c in clients
    ]
    settings = finance.settings()
    notes: list[str] = []
    try:
        for r in range(15):
            pair = [_crash_left_credit_note(context, finance, invoice, "100") for _ in range(2)]
            notes += pair
            at_the_same_moment(
                *(
                    functools.partial(done.complete, number, settings)
                    for done, number in zip(completions, pair, strict=True)
                )
            )
            finance.finish_interrupted()  # the next login: notes left to another desk
            assert _links(context, invoice.number) == set(notes), f"round {r}: a link was lost"
    finally:
        for c in clients:
            c.close()
    assert finance.account(invoice.number).credited == Money.of("3000.00")
