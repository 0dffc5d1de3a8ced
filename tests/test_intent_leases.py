"""Recovery at a login leaves the multi-document writes other desks are still making.

Desk A (the test's context) is paused between two steps of a write, and desk B (another
AppContext on the same database, as on a second computer) logs in and runs what every login
runs, `finish_interrupted_work`. Then A goes on: its write must end whole, as if B had not
logged in. And a write its desk really abandoned is still finished once its lease lapses.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from alko_desk.bootstrap import AppContext
from alko_desk.models.audit import AuditFilter
from alko_desk.models.listing import PageRequest
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleStatus
from alko_desk.services.clients import ClientBatch, new_client_id
from alko_desk.services.intents import GRACE
from tests.clients_data import draft as client_draft
from tests.conftest import staff_passphrase
from tests.vehicles_data import draft as car_draft


@pytest.fixture
def sam(context, make_user):
    return context.services_for(make_user("sam", Role.SALES))


@pytest.fixture
def desk_b(context, tmp_path):
    """Another desk on the same database, logging in as sam (holds the client keys)."""
    desk = AppContext(
        context.store,
        data_dir=Path(tmp_path) / "desk-b",
        clock=context.clock,
        password_cost=context.hasher.cost,
    )

    def login(username: str = "sam") -> int:
        session = desk.auth.login(username, staff_passphrase(username))
        return desk.finish_interrupted_work(session)

    desk.login_and_recover = login
    return desk


def _pause(monkeypatch, repo, name: str, meanwhile, call: int = 1) -> list:
    """Desk A's `repo.name` runs `meanwhile()` before its `call`-th call, then goes on."""
    original = getattr(repo, name)
    calls, seen = [], []

    def paused(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            seen.append(meanwhile())
        return original(*args, **kwargs)

    monkeypatch.setattr(repo, name, paused)
    return seen


def _kinds(context) -> list[str]:
    return sorted(i.kind for i in context.pending_repo.all())


def test_a_login_elsewhere_during_a_registration_leaves_the_new_client_readable(
    context, sam, desk_b, monkeypatch
):
    # A stored the client's key and is about to store the record
    seen = _pause(
        monkeypatch,
        context.clients_repo,
        "insert",
        lambda: (desk_b.login_and_recover(), _kinds(context)),
    )
    client = sam.clients.register(new_client_id(), client_draft())
    assert sam.clients.get(client.id).draft.last_name == "Kovačević"  # its key was kept
    assert [r.id for r in sam.clients.search("kovač")] == [client.id]
    assert context.pending_repo.all() == []
    assert seen == [(0, ["clients.register"])]  # B left it, open, to A


def test_a_registration_its_desk_abandoned_is_finished_once_its_lease_lapses(
    context, sam, desk_b, monkeypatch
):
    from alko_desk.storage.intents_repo import IntentRecord

    client = sam.clients.register(new_client_id(), client_draft())
    context.client_list_repo.remove(client.id)
    # as a desk on another computer leaves it when it stops after the record, before the list
    stopped = dict(context.leases.writer, host="desk-a", run="an earlier run")
    context.pending_repo.begin(
        IntentRecord(f"clients.register:{client.id}", "clients.register",
                     {"client_id": client.id}, context.clock.now(), stopped)
    )  # fmt: skip
    assert desk_b.login_and_recover() == 0 and sam.clients.count() == 0
    context.clock.advance(seconds=GRACE.total_seconds() + 1)
    assert desk_b.login_and_recover() == 1
    assert [r.id for r in sam.clients.search("kovač")] == [client.id]
    assert context.pending_repo.all() == []


def test_a_login_elsewhere_during_a_client_import_keeps_the_batch_keys(
    context, sam, desk_b, monkeypatch
):
    from alko_desk.services.demo import DemoSeeder

    items = DemoSeeder(sam.clients, seed=7).drafts(4, 0)
    # A stored the batch's keys and is about to store its records
    seen = _pause(
        monkeypatch, context.clients_repo, "insert_many", lambda: desk_b.login_and_recover()
    )
    assert sam.clients.register_batches([ClientBatch(items)]) == 4
    for client_id, item in items:  # readable: their keys are there
        assert sam.clients.get(client_id).draft.last_name == item.last_name
    assert sam.clients.count() == 4 and context.pending_repo.all() == []
    assert seen == [0]


def test_a_login_elsewhere_during_a_stock_import_leaves_the_vehicles_imported(
    context, sam, desk_b, monkeypatch
):
    from tests.test_stock_seeding import _preview

    monkeypatch.setattr("alko_desk.services.vehicles.IMPORT_BATCH", 2)
    preview = _preview(1, 5, context.clock.now())
    # A stored the first two vehicles and is about to store the next two
    seen = _pause(
        monkeypatch,
        context.vehicles_repo,
        "insert_many",
        lambda: (desk_b.login_and_recover(), _kinds(context)),
        call=2,
    )
    result = sam.vehicles.import_rows(preview)
    assert result.imported == 5
    stored = context.vehicles_repo.get_many(list(result.vehicle_ids))
    assert len(stored) == 5  # none removed under A's feet
    assert sam.vehicles.list_page(PageRequest(0, 10)).total == 5
    assert seen == [(0, ["vehicles.import"])]


def test_a_long_stock_import_renews_its_lease_so_a_login_elsewhere_leaves_it(
    context, sam, desk_b, monkeypatch
):
    """Each batch of the import takes four minutes: 16 minutes after it began, longer than
    the grace, another desk's login still leaves it (renewed as it went)."""
    from tests.test_stock_seeding import _preview

    monkeypatch.setattr("alko_desk.services.vehicles.IMPORT_BATCH", 2)
    original, calls, seen = context.vehicles_repo.insert_many, [], []

    def slow_batch(*args, **kwargs):
        calls.append(1)
        context.clock.advance(minutes=4)
        if len(calls) == 4:
            seen.append(desk_b.login_and_recover())
        return original(*args, **kwargs)

    monkeypatch.setattr(context.vehicles_repo, "insert_many", slow_batch)
    result = sam.vehicles.import_rows(_preview(1, 8, context.clock.now()))
    assert result.imported == 8
    assert len(context.vehicles_repo.get_many(list(result.vehicle_ids))) == 8
    assert seen == [0] and context.pending_repo.all() == []


def test_a_login_elsewhere_during_a_batch_of_deals_leaves_every_car_reserved(
    context, sam, desk_b, monkeypatch
):
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    register_client(sam, "C-1", 1)
    cars = [sam.vehicles.add(car_draft(n, price="30000.00")) for n in range(1, 4)]
    items = [(deal_draft(car.id, client_id="C-1"), None) for car in cars]
    # A reserved the cars and is about to store their deals
    seen = _pause(
        monkeypatch,
        context.deals_repo,
        "insert_many",
        lambda: (desk_b.login_and_recover(), _kinds(context)),
    )
    made = sam.deals.create_many(items)
    assert len(made) == 3
    for deal in made:
        car = context.vehicles_repo.get(deal.vehicle_id)
        assert (car.status, car.reserved_by) == (VehicleStatus.RESERVED, deal.id)
    assert context.pending_repo.all() == []
    assert seen == [(0, ["deals.create_many"])]


def test_a_car_of_a_back_dated_batch_being_saved_is_not_taken_as_an_orphan(
    context, sam, desk_b, monkeypatch
):
    """A batch reserves its cars dated as its deals (yesterday), then stores the deals: in
    between, another desk's reservation must not take such a car for an orphan."""
    from datetime import timedelta

    from alko_desk.services.deals import ReservationRefused
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    register_client(sam, "C-1", 1)
    cars = [sam.vehicles.add(car_draft(n, price="30000.00")) for n in range(1, 3)]
    context.clock.advance(days=2)
    yesterday = context.clock.now() - timedelta(days=1)
    other = desk_b.services_for(desk_b.auth.login("sam", staff_passphrase("sam"))).deals

    def b_reserves():
        try:
            other.create(deal_draft(cars[0].id, client_id="C-1"))
        except ReservationRefused:
            return "refused"
        return "taken"

    seen = _pause(monkeypatch, context.deals_repo, "insert_many", b_reserves)
    made = sam.deals.create_many([(deal_draft(c.id, client_id="C-1"), yesterday) for c in cars])
    assert [context.vehicles_repo.get(d.vehicle_id).reserved_by for d in made] == [
        d.id for d in made
    ]
    assert seen == ["refused"] and len(made) == 2


def test_a_login_elsewhere_keeps_the_intent_of_a_deal_being_saved(
    context, sam, desk_b, monkeypatch
):
    """Its handler used to skip a young intent, and recovery deleted it all the same: had A
    crashed after that, nothing would have freed its car."""
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    register_client(sam, "C-1", 1)
    car = sam.vehicles.add(car_draft(1, price="30000.00"))
    seen = _pause(
        monkeypatch,
        context.deals_repo,
        "insert",
        lambda: (desk_b.login_and_recover(), _kinds(context)),
    )
    deal = sam.deals.create(deal_draft(car.id, client_id="C-1"))
    assert context.vehicles_repo.get(car.id).reserved_by == deal.id
    assert context.pending_repo.all() == []
    assert seen == [(0, ["deals.create"])]


def test_a_losing_editor_does_not_close_the_winners_reindex_intent(
    context, sam, desk_b, monkeypatch
):
    """B reads the client, A saves its edit first and is listing it when B's save loses:
    B's intent is B's own, so closing it leaves A's open until A has listed its edit."""
    import threading
    from dataclasses import replace

    from alko_desk.models.errors import ConcurrentModification

    client = sam.clients.register(new_client_id(), client_draft())
    sara = desk_b.services_for(desk_b.auth.login("sam", staff_passphrase("sam"))).clients
    a_saved, b_lost, seen, failures = threading.Event(), threading.Event(), [], []
    editors: list[threading.Thread] = []

    def a_edits():
        try:
            sam.clients.update(client, replace(client.draft, last_name="Horvat"))
        except Exception as exc:  # reported by the main thread
            failures.append(exc)
            a_saved.set()

    def a_lists(original):
        def paused(*args, **kwargs):
            a_saved.set()  # A's record is saved; its lookups and list are not yet
            b_lost.wait(30)
            return original(*args, **kwargs)

        return paused

    def b_saves(original):
        def paused(*args, **kwargs):
            editors.append(threading.Thread(target=a_edits))
            editors[0].start()  # A edits while B is between its read and its save
            a_saved.wait(30)
            return original(*args, **kwargs)

        return paused

    monkeypatch.setattr(context.client_list_repo, "put", a_lists(context.client_list_repo.put))
    monkeypatch.setattr(
        desk_b.clients_repo,
        "update_if_version",
        b_saves(desk_b.clients_repo.update_if_version),
    )
    try:
        with pytest.raises(ConcurrentModification):
            sara.update(client, replace(client.draft, first_name="Marko"))
        seen.append(_kinds(context))
    finally:
        b_lost.set()
    editors[0].join(30)
    assert failures == []
    assert seen == [["clients.reindex"]]  # A's intent stayed while A was listing its edit
    assert [r.display_name for r in sam.clients.search("horvat")] == ["Željko Horvat"]
    assert context.pending_repo.all() == []


def test_a_login_elsewhere_does_not_complete_an_invoice_being_issued(
    context, make_user, desk_b, monkeypatch
):
    from tests.invoice_data import CROATIAN, car_line

    finance = context.services_for(make_user("fiona", Role.FINANCE)).invoices
    draft = finance.new_draft(CROATIAN, [car_line()], date(2026, 11, 24))
    # A took the number and is about to store the PDF
    seen = _pause(
        monkeypatch,
        context.invoices_repo,
        "store_pdf",
        lambda: desk_b.login_and_recover("fiona"),
    )
    invoice = finance.issue(draft)
    assert finance.get(invoice.number).pdf_sha256 == invoice.pdf_sha256
    audit = context.services_for(context.auth.login("admin", _admin_password())).audit
    assert audit.entries(AuditFilter(action_prefix="invoice.completed")) == []
    assert seen == [0]


def test_an_invoice_abandoned_on_another_computer_is_completed_once_its_lease_lapses(
    context, make_user, desk_b
):
    from alko_desk.models.invoices import DocumentKind
    from tests.invoice_data import CROATIAN, car_line

    finance = context.services_for(make_user("fiona", Role.FINANCE)).invoices
    stopped = finance._insert_numbered(
        DocumentKind.INVOICE,
        finance.new_draft(CROATIAN, [car_line()], date(2026, 11, 24)),
        finance.settings(),
    )
    context.store.collection("invoices").update_one(
        {"_id": stopped.number}, {"$set": {"writer.host": "desk-a", "writer.run": "earlier"}}
    )
    assert desk_b.login_and_recover("fiona") == 0
    assert not finance.get(stopped.number).pdf_sha256
    context.clock.advance(seconds=GRACE.total_seconds() + 1)
    assert desk_b.login_and_recover("fiona") == 1
    assert finance.get(stopped.number).pdf_sha256


def _admin_password() -> str:
    from tests.conftest import ADMIN_PASSWORD

    return ADMIN_PASSWORD


def test_a_number_two_threads_hold_stays_held_until_both_let_go():
    """Two issuing threads of one desk try the same invoice number: the loser letting go of
    it must not leave the winner's invoice to a login's recovery."""
    from alko_desk.services.intents import Leases
    from alko_desk.services.invoicing import invoice_lease

    leases, key = Leases(), invoice_lease("ALKO-2026-000005")
    leases.hold(key)  # the winner
    leases.hold(key)  # the loser, whose insert then fails
    leases.release(key)
    assert leases.holds(key)
    leases.release(key)
    assert not leases.holds(key)
