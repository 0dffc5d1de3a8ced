"""Two desks at the same moment on the invoice claims and requests (FerretDB 1.24 applies a
conditional update without isolation, and a racing upsert's loser gets a duplicate key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alko_desk.storage.invoices_repo import InvoiceRepository
from tests.same_moment import on_connections_at_once

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
