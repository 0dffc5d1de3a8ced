"""Stock imports and demo seeding list their vehicles in one bulk load: the same list as
record-by-record writes, a crash before or after the listing ends whole at the next start,
and demo cars arrive over past months."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.listing import PageRequest
from alko_desk.models.users import Role
from alko_desk.models.vehicles import ImportPreview, ImportRow, VehicleSort, VehicleStatus
from alko_desk.services.intents import IntentLog
from alko_desk.services.vehicle_demo import StockSeeder
from alko_desk.storage import app_index
from alko_desk.storage.doc_lists import DocList
from alko_desk.storage.vehicles_repo import VEHICLE_LIST, VehicleRepository, _listed, _where
from tests.vehicles_data import draft

MODELS = [("Škoda", "Octavia"), ("Honda", "Accord"), ("BMW", "X3")]


class Crash(BaseException):
    """The process dies here: no clean-up runs."""


@pytest.fixture
def small_buckets(monkeypatch):
    monkeypatch.setattr(app_index, "BUCKET_TARGET", 8)
    monkeypatch.setattr(app_index, "BUCKET_MAX", 16)


@pytest.fixture
def sam(context, make_user):
    return make_user("sam", Role.SALES)


def _preview(first: int, count: int, now, spread: bool = True) -> ImportPreview:
    rows = []
    for n in range(first, first + count):
        make, model = MODELS[n % 3]
        d = draft(n, price=f"{15000 + (n * 7919) % 20000}.00", make=make, model=model)
        d = replace(d, model_year=2016 + n % 9, mileage_km=(n * 3571) % 90000)
        arrived = now - timedelta(days=(n * 13) % 200, hours=n) if spread else None
        rows.append(ImportRow(n, {}, d, arrived_at=arrived))
    return ImportPreview(tuple(rows))


def _die_while(monkeypatch, target, name: str, after_calls: int = 0) -> None:
    """Makes `target.name` crash the process on call number `after_calls` + 1; nothing the
    dying desk would have done afterwards (undo, closing the intent) runs."""
    original = getattr(target, name)
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) > after_calls:
            raise Crash
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, dying)
    monkeypatch.setattr(IntentLog, "done", lambda self, intent_id: None)
    monkeypatch.setattr("alko_desk.services.vehicles.VehicleService._undo", lambda self, ids: None)


def test_an_import_lists_exactly_what_writing_each_vehicle_would(
    context, sam, small_buckets, store
):
    """Stock added one by one, then an import merged in by the bulk load: every sort both
    ways and every filter give the same rows as an index written record by record."""
    desk = context.services_for(sam).vehicles
    now = context.clock.now()
    for d in (r.draft for r in _preview(500, 6, now, spread=False).rows):
        desk.add(d)
    assert desk.import_rows(_preview(1, 60, now)).imported == 60
    vehicles = context.vehicles_repo.all()
    assert len(vehicles) == 66
    one_by_one = DocList(store, replace(VEHICLE_LIST, name="vehicles_one_by_one"))
    for v in vehicles:
        one_by_one.put(_listed(v))
    bulk = DocList(store, VEHICLE_LIST)
    filters = [
        {},
        {"status": "in_stock"},
        {"make": "Škoda"},
        {"make": "Honda", "model": "Accord", "year_from": 2019},
        {"price_min": "20000", "max_days_in_stock": 90},
        {"min_days_in_stock": 30, "text": "bmw"},
    ]
    from alko_desk.services.vehicles import vehicle_filter

    for values in filters:
        where, keep = _where(vehicle_filter(values), now)
        for sort in ("added", "make", "price", "year", "mileage", "status"):
            for descending in (False, True):
                got = bulk.page(sort, descending, 0, 100, where, keep)
                want = one_by_one.page(sort, descending, 0, 100, where, keep)
                assert got == want, (values, sort, descending)
    assert bulk.count() == one_by_one.count() == 66


def test_an_import_that_crashed_after_storing_its_vehicles_is_listed_at_the_next_start(
    context, sam, monkeypatch
):
    desk = context.services_for(sam).vehicles
    desk.add(draft(900))
    _die_while(monkeypatch, VehicleRepository, "list_many")
    with pytest.raises(Crash):
        desk.import_rows(_preview(1, 12, context.clock.now()))
    monkeypatch.undo()
    assert desk.page().total == 1  # stored, not yet listed
    assert len(context.vehicles_repo.all()) == 13

    context.finish_interrupted_work(sam)  # the next login

    listed = desk.page(count=50).rows
    assert len(listed) == 13 and desk.page().total == 13
    assert {v.id for v in listed} == {v.id for v in context.vehicles_repo.all()}
    assert context.pending_repo.all() == []
    entries = context.audit_log.query(AuditFilter(action_prefix="vehicle.imported"))
    assert [(e.actor, e.details["count"]) for e in entries] == [("system", 12)]


def test_an_import_that_crashed_while_storing_is_undone_at_the_next_start(
    context, sam, monkeypatch
):
    import alko_desk.services.vehicles as module

    monkeypatch.setattr(module, "IMPORT_BATCH", 4)
    desk = context.services_for(sam).vehicles
    preview = _preview(1, 12, context.clock.now())
    _die_while(monkeypatch, VehicleRepository, "insert_many", after_calls=2)
    with pytest.raises(Crash):
        desk.import_rows(preview)
    monkeypatch.undo()
    assert len(context.vehicles_repo.all()) == 8  # two batches of four stored

    context.finish_interrupted_work(sam)

    assert context.vehicles_repo.all() == [] and desk.page().total == 0
    assert context.pending_repo.all() == []
    assert desk.import_rows(preview).imported == 12  # the VINs are free again


def test_demo_vehicles_arrived_over_past_months_and_deals_come_after_them(context, sam, make_user):
    from tests.vehicles_data import register_client

    services = context.services_for(sam)
    register_client(services, "C-1", 1)
    seeder = StockSeeder(services.vehicles, services.deals, seed=7)
    assert seeder.seed_vehicles(40) == 40
    now = context.clock.now()
    stock = services.vehicles.page(count=100).rows
    arrivals = [v.added_at for v in stock]
    assert all(at < now for at in arrivals)
    assert all(at.weekday() < 5 and 8 <= at.hour < 18 for at in arrivals)
    days = sorted(v.days_in_stock(now) for v in stock)
    assert days[-1] - days[0] >= 60 and len(set(days)) >= 20, days
    assert days[0] <= 7 and days[-1] <= 330
    # the Vehicles page's filter and column mean something: a week is a part of the stock
    week = services.vehicles.list_page(PageRequest(0, 100, filters={"max_days_in_stock": 7}))
    assert 0 < week.total < 40
    assert {v.id for v in week.rows} == {v.id for v in stock if v.days_in_stock(now) <= 7}
    oldest = services.vehicles.list_page(PageRequest(0, 1, VehicleSort.DAYS_IN_STOCK.value, True))
    assert oldest.rows[0].days_in_stock(now) == days[-1]

    context.clock.advance(hours=1)
    assert seeder.seed_deals(5, ["C-1"]) == 5
    for deal in services.deals.page(count=10).rows:
        vehicle = services.vehicles.get(deal.vehicle_id)
        assert vehicle.status is VehicleStatus.RESERVED
        assert vehicle.added_at < deal.created_at <= context.clock.now()


def test_a_batch_of_deals_crashed_before_its_cars_were_listed_is_completed_at_the_next_start(
    context, sam, monkeypatch
):
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    services = context.services_for(sam)
    register_client(services, "C-1", 1)
    cars = [services.vehicles.add(draft(n, price="30000.00")) for n in range(1, 5)]
    context.clock.advance(days=2)
    week_ago = context.clock.now() - timedelta(days=1)
    items = [(deal_draft(car.id, client_id="C-1"), week_ago) for car in cars[:3]]
    _die_while(monkeypatch, VehicleRepository, "list_many")
    with pytest.raises(Crash):
        services.deals.create_many(items)
    monkeypatch.undo()
    reserved = services.vehicles.list_page(PageRequest(0, 10, filters={"status": "reserved"}))
    assert reserved.total == 0  # the cars are reserved, their list entries not yet written

    context.finish_interrupted_work(sam)

    deals = services.deals.page(count=10).rows
    assert len(deals) == 3 and {d.created_at for d in deals} == {week_ago}
    reserved = services.vehicles.list_page(PageRequest(0, 10, filters={"status": "reserved"}))
    assert {v.id for v in reserved.rows} == {d.vehicle_id for d in deals}
    assert {v.reserved_by for v in reserved.rows} == {d.id for d in deals}
    assert context.pending_repo.all() == []
    from alko_desk.models.audit import AuditFilter

    created = context.audit_log.query(AuditFilter(action_prefix="deal.created"))
    assert {e.target for e in created} == {f"deal:{d.id}" for d in deals}  # none unaudited
    assert all(e.details.get("recovered") for e in created)


def test_a_batch_of_deals_crashed_while_reserving_frees_the_cars_at_the_next_start(
    context, sam, monkeypatch
):
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    services = context.services_for(sam)
    register_client(services, "C-1", 1)
    cars = [services.vehicles.add(draft(n, price="30000.00")) for n in range(1, 5)]
    items = [(deal_draft(car.id, client_id="C-1"), None) for car in cars]
    _die_while(monkeypatch, VehicleRepository, "replace_if", after_calls=2)
    with pytest.raises(Crash):
        services.deals.create_many(items)
    monkeypatch.undo()
    assert sum(v.status is VehicleStatus.RESERVED for v in context.vehicles_repo.all()) == 2

    context.finish_interrupted_work(sam)

    assert {v.status for v in context.vehicles_repo.all()} == {VehicleStatus.IN_STOCK}
    in_stock = services.vehicles.list_page(PageRequest(0, 10, filters={"status": "in_stock"}))
    assert in_stock.total == 4
    assert services.deals.page().total == 0
    assert len(services.deals.create_many(items)) == 4  # and they can be sold again


def test_reading_a_just_saved_vehicle_or_deal_for_a_write_rewrites_no_list(context, sam):
    """Keys and rows are made as the database keeps datetimes (milliseconds): reading a
    record back for its next write finds its list entry unchanged (no second commit)."""
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    services = context.services_for(sam)
    register_client(services, "C-1", 1)
    context.clock.advance(microseconds=123_456)
    vehicle = services.vehicles.add(draft(1, price="30000.00"))
    deal = services.deals.create(deal_draft(vehicle.id, client_id="C-1"))
    roots = {name: store_root(context, name) for name in ("ix_vehicles", "ix_deals")}
    assert context.vehicles_repo.get_for_write(vehicle.id).reserved_by == deal.id
    assert context.deals_repo.get_for_write(deal.id).id == deal.id
    assert {name: store_root(context, name) for name in roots} == roots


def store_root(context, collection: str) -> int:
    head = context.store.collection(collection).find_one({"_id": "head"})
    return int(head["n"])


def test_cars_held_by_a_back_dated_batch_still_being_saved_are_not_taken_for_orphans(
    context, sam, make_user, monkeypatch
):
    """Back-dated deals are stored at the end of their batch; meanwhile another desk trying
    one of their cars is refused (the car's change is dated now, not with its deal)."""
    from tests.test_deals import deal_draft
    from tests.vehicles_data import register_client

    services = context.services_for(sam)
    other = context.services_for(make_user("sara", Role.SALES))
    register_client(services, "C-1", 1)
    cars = [services.vehicles.add(draft(n, price="30000.00")) for n in range(1, 3)]
    context.clock.advance(days=30)
    two_days_ago = context.clock.now() - timedelta(days=2)
    refusals = []
    store_deals = type(context.deals_repo).insert_many

    def another_desk_first(repo, deals):
        try:
            other.deals.create(deal_draft(cars[0].id, client_id="C-1"))
        except Exception as exc:  # noqa: BLE001 - the refusal is what the test looks for
            refusals.append(exc)
        return store_deals(repo, deals)

    monkeypatch.setattr(type(context.deals_repo), "insert_many", another_desk_first)
    made = services.deals.create_many(
        [(deal_draft(c.id, client_id="C-1"), two_days_ago) for c in cars]
    )
    assert len(made) == 2 and len(refusals) == 1
    assert type(refusals[0]).__name__ == "ReservationRefused"
    assert services.vehicles.get(cars[0].id).reserved_by == made[0].id
