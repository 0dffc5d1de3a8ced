"""Numbers stay gapless and unique across desks issuing at once and across SIGKILL.

Each desk is its own process on the shared FerretDB: four processes issue 100 invoices each
at the same time, rendering the real PDF and e-invoice (about 60 s of CPU in all, workers and
FerretDB together; `ALKO_INVOICE_RACE_PER_DESK=25` races fewer while working on this).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alko_desk.models.users import Role
from tests.invoice_worker import STEPS

ROOT = Path(__file__).resolve().parent.parent
PER_DESK = int(os.environ.get("ALKO_INVOICE_RACE_PER_DESK", "100"))


@pytest.fixture
def finance_login(make_user):
    make_user("fiona", Role.FINANCE)
    return "fiona", "fiona chooses a long passphrase 9"


def _worker(mongo_uri, store, login, count, *extra) -> subprocess.Popen:
    user, password = login
    return subprocess.Popen(
        [sys.executable, "-m", "tests.invoice_worker", mongo_uri, store.db.name, user, password]
        + [str(count), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _numbers(store) -> list[tuple[str, int]]:
    return sorted((d["series"], d["seq"]) for d in store.collection("invoices").find({}))


@pytest.mark.timeout(900)
def test_four_desks_issuing_at_once_get_contiguous_unique_numbers(mongo_uri, store, finance_login):
    per_desk = PER_DESK
    desks = [_worker(mongo_uri, store, finance_login, per_desk) for _ in range(4)]
    printed = []
    for desk in desks:
        out, err = desk.communicate(timeout=880)
        assert desk.returncode == 0, err
        printed += out.split()
    assert len(printed) == len(set(printed)) == 4 * per_desk
    numbers = _numbers(store)
    assert len({s for s, _ in numbers}) == 1
    assert [n for _, n in numbers] == list(range(1, 4 * per_desk + 1))
    assert sorted(printed) == [f"{s}-{n:06d}" for s, n in numbers]


@pytest.mark.timeout(300)
def test_desk_killed_at_each_step_of_issuing_leaves_numbers_contiguous(
    mongo_uri, store, finance_login
):
    """One desk after another: each is killed at the next step of issuing; the next desk
    completes the interrupted invoice at login. Finally a desk issues normally."""
    expected = 0
    for step in STEPS:
        crashed = _worker(mongo_uri, store, finance_login, 1, "--crash-at", step)
        crashed.communicate(timeout=120)
        assert crashed.returncode == -signal.SIGKILL, step
        expected += step != "before_insert"  # killed before the insert: no number was taken
    last = _worker(mongo_uri, store, finance_login, 1)
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, err
    expected += 1
    numbers = [n for _, n in _numbers(store)]
    assert numbers == list(range(1, expected + 1))
    assert out.strip().endswith(f"{expected:06d}")
    for doc in store.collection("invoices").find({}):
        # every stored invoice is whole: complete, its PDF stored with the hash it records
        assert doc["complete"], doc["_id"]
        pdf = store.collection("invoice_pdfs").find_one({"_id": doc["_id"]})
        assert hashlib.sha256(bytes(pdf["pdf"])).hexdigest() == doc["pdf_sha256"]


@pytest.mark.timeout(300)
def test_a_desk_killed_while_invoicing_a_deal_leaves_it_invoiced_whole_or_free_to_invoice(
    mongo_uri, store, context, make_user, finance_login, clock
):
    """For each step of issuing a deal's invoice, a desk killed there: after the next finance
    login the deal either has its whole invoice (PDF stored with its hash, the deal invoiced)
    or, killed before its number was taken, is invoiced again with the next number once the
    dead desk's claim on the deal lapses. The numbers stay contiguous throughout."""
    from alko_desk.models.deals import DealState
    from alko_desk.models.errors import ConcurrentModification, ValidationError
    from alko_desk.services.invoicing import CLAIM_STALE_AFTER
    from tests.vehicles_data import client_with_deal

    sam = context.services_for(make_user("sam", Role.SALES))
    fiona = context.auth.login(*finance_login)
    finance = context.services_for(fiona).invoices
    expected = 0
    _, first_deal = client_with_deal(context, sales=sam)
    for n, step in enumerate(STEPS, start=1):
        deal = first_deal if n == 1 else _another_deal(sam, first_deal.client_id, n)
        crashed = _worker(
            mongo_uri, store, finance_login, 1, "--crash-at", step, "--deal", deal.id,
            "--now", clock.now().isoformat(),
        )  # fmt: skip
        crashed.communicate(timeout=120)
        assert crashed.returncode == -signal.SIGKILL, step
        context.finish_interrupted_work(fiona)  # what the next finance login does
        found = context.invoices_repo.by_deal(deal.id)
        if step == "before_insert":
            assert found == []  # no number was taken...
            with pytest.raises(ConcurrentModification):  # ...the dead desk's claim holds...
                finance.issue_for_deal(deal.id)
            clock.advance(seconds=CLAIM_STALE_AFTER.total_seconds() + 1)
            invoice = finance.issue_for_deal(deal.id)  # ...until it lapses
        else:
            [doc] = found
            invoice = finance.get(doc["_id"])
        expected += 1
        assert invoice.sequence == expected, step
        stored = store.collection("invoices").find_one({"_id": invoice.number})
        pdf = store.collection("invoice_pdfs").find_one({"_id": invoice.number})
        assert stored["complete"] and stored["deal_id"] == deal.id, step
        assert hashlib.sha256(bytes(pdf["pdf"])).hexdigest() == stored["pdf_sha256"], step
        invoiced = sam.deals.get(deal.id)
        assert (invoiced.state, invoiced.invoice_number) == (DealState.INVOICED, invoice.number)
        if step != "before_insert":  # the dead desk's claim still holds for a while...
            with pytest.raises(ConcurrentModification):
                finance.issue_for_deal(deal.id)
            clock.advance(seconds=CLAIM_STALE_AFTER.total_seconds() + 1)
        with pytest.raises(ValidationError, match="already invoiced"):  # ...never twice
            finance.issue_for_deal(deal.id)
    assert [n for _, n in _numbers(store)] == list(range(1, expected + 1))


def _another_deal(sales, client_id: str, n: int):
    """A deal for the same client on another new car (the n-th of the test's vehicles)."""
    from decimal import Decimal

    from alko_desk.models.deals import DealDraft, Discount, DiscountKind
    from tests.vehicles_data import draft as vehicle_draft

    vehicle = sales.vehicles.add(vehicle_draft(n, price="30000.00"))
    return sales.deals.create(
        DealDraft(
            client_id=client_id,
            vehicle_id=vehicle.id,
            discounts=(Discount(DiscountKind.PERCENT, Decimal(0)),),
        )
    )
