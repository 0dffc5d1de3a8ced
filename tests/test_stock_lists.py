"""Vehicle and deal lists on the list index: every sort both ways, filters, announcements."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alko_desk.models.changes import ChangeKind
from alko_desk.models.deals import ApprovalStatus, DealFilter, DealSort, DealState
from alko_desk.models.errors import ValidationError
from alko_desk.models.listing import PageRequest
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleFilter, VehicleSort, VehicleStatus
from tests.test_deals import deal_draft
from tests.vehicles_data import draft, register_client

MAKES = [("Škoda", "Octavia"), ("Honda", "Accord"), ("BMW", "X3"), ("Honda", "Civic")]


@pytest.fixture
def stock(context, make_user):
    """Fourteen vehicles added over a month, three of them reserved by deals."""
    desk = context.services_for(make_user("sam", Role.SALES))
    register_client(desk, "C-0", 0)
    register_client(desk, "C-1", 1)
    vehicles = []
    for n in range(14):
        make, model = MAKES[n % 4]
        vehicles.append(
            desk.vehicles.add(
                draft(
                    n + 1,
                    price=f"{20000 + (n * 7919) % 9000}.50",
                    make=make,
                    model=model,
                    model_year=2015 + n % 6,
                    mileage_km=(n * 3571) % 50000,
                )
            )
        )
        context.clock.advance(days=2, hours=n)
    deals = [
        desk.deals.create(deal_draft(vehicles[i].id, percent=p, client_id=f"C-{i % 2}"))
        for i, p in ((1, "0"), (4, "9"), (9, "0"))
    ]
    desk.deals.cancel(deals[2], "client withdrew")
    return desk


def _all_pages(list_page, sort: str, descending: bool, size: int = 4, **filters):
    rows, start = [], 0
    while True:
        page = list_page(PageRequest(start, size, sort, descending, filters=filters))
        rows.extend(page.rows)
        start += size
        if start >= page.total:
            assert len(rows) == page.total
            return rows


VEHICLE_KEYS = {
    VehicleSort.ADDED: lambda v, now: v.added_at,
    VehicleSort.MAKE: lambda v, now: (v.make.casefold(), v.model.casefold()),
    VehicleSort.PRICE: lambda v, now: v.list_price.amount,
    VehicleSort.YEAR: lambda v, now: v.model_year,
    VehicleSort.MILEAGE: lambda v, now: v.draft.mileage_km,
    VehicleSort.DAYS_IN_STOCK: lambda v, now: v.days_in_stock(now),
    VehicleSort.STATUS: lambda v, now: list(VehicleStatus).index(v.status),
}


def test_vehicle_list_pages_in_every_sort_both_ways(stock):
    everything = stock.vehicles.page(count=100).rows
    now = stock.vehicles.now()
    for sort in VehicleSort:
        for descending in (False, True):
            rows = _all_pages(stock.vehicles.list_page, sort.value, descending)
            assert sorted(v.id for v in rows) == sorted(v.id for v in everything)  # none twice
            got = [VEHICLE_KEYS[sort](v, now) for v in rows]
            assert got == sorted(got, reverse=descending), (sort, descending)
            assert len(set(got)) > 1


VEHICLE_FILTERS = [
    {"status": "reserved"},
    {"status": "in_stock"},
    {"make": "honda"},
    {"make": "Honda", "model": "Civic"},
    {"make": "škoda", "status": "in_stock"},
    {"year_from": 2017, "year_to": 2018},
    {"price_min": "22000", "price_max": "26000.50"},
    {"min_days_in_stock": 10, "max_days_in_stock": 20},
    {"status": "in_stock", "price_min": "21000", "make": "BMW"},
    {"year_to": 2016},
    {"min_days_in_stock": 22},
    {"max_days_in_stock": 4, "status": "in_stock"},
    {"year_from": 2016, "price_max": "27000", "min_days_in_stock": 3},
    {"model": "accord", "text": "honda"},
    {"price_min": "20000.50", "price_max": "20000.50"},
]


def test_vehicle_filters_give_exactly_the_matching_vehicles(stock):
    from alko_desk.services.vehicles import vehicle_filter

    everything = stock.vehicles.page(count=100).rows
    now = stock.vehicles.now()
    for filters in VEHICLE_FILTERS:
        wanted = [v.id for v in everything if vehicle_filter(filters).matches(v, now)]
        assert wanted, filters  # the case tests something
        for sort in VehicleSort:
            for descending in (False, True):
                rows = _all_pages(
                    stock.vehicles.list_page, sort.value, descending, size=3, **filters
                )
                assert sorted(v.id for v in rows) == sorted(wanted), (filters, sort)
                got = [VEHICLE_KEYS[sort](v, now) for v in rows]
                assert got == sorted(got, reverse=descending), (filters, sort)


def test_a_bad_vehicle_filter_or_sort_is_refused_with_a_message(stock):
    with pytest.raises(ValidationError, match="needs a number"):
        stock.vehicles.list_page(PageRequest(filters={"year_from": "soon"}))
    with pytest.raises(ValidationError, match="cannot be sorted"):
        stock.vehicles.list_page(PageRequest(sort="colour"))
    assert stock.vehicles.page(VehicleFilter(text="civic")).total == 3


DEAL_KEYS = {
    DealSort.CREATED: lambda d: d.created_at,
    DealSort.STATE: lambda d: list(DealState).index(d.state),
    DealSort.APPROVAL: lambda d: d.approval.status is not ApprovalStatus.PENDING,
    DealSort.TOTAL: lambda d: d.figures.total_price.amount,
    DealSort.VEHICLE: lambda d: d.vehicle_title.casefold(),
}


def test_deal_list_pages_in_every_sort_both_ways(stock):
    for sort in DealSort:
        for descending in (False, True):
            rows = _all_pages(stock.deals.list_page, sort.value, descending, size=2)
            assert len({d.id for d in rows}) == 3
            got = [DEAL_KEYS[sort](d) for d in rows]
            assert got == sorted(got, reverse=descending), (sort, descending)


DEAL_FILTERS = [
    ({"state": "reserved"}, 2),
    ({"state": "cancelled"}, 1),
    ({"pending_approval": True}, 1),
    ({"client_id": "C-0"}, 1),
    ({"client_id": "C-1", "state": "cancelled"}, 1),
    ({"salesperson": "sam", "state": "reserved"}, 2),
    ({"salesperson": "sam", "pending_approval": True}, 1),
    ({"salesperson": "nobody"}, 0),
]


def test_deal_filters_give_exactly_the_matching_deals(stock):
    everything = stock.deals.page(count=100).rows
    for filters, expected in DEAL_FILTERS:
        flt = DealFilter(
            state=DealState(filters["state"]) if "state" in filters else None,
            client_id=filters.get("client_id", ""),
            salesperson=filters.get("salesperson", ""),
            pending_approval=filters.get("pending_approval", False),
        )
        wanted = sorted(d.id for d in everything if flt.matches(d))
        assert len(wanted) == expected, filters
        if not wanted:
            assert stock.deals.list_page(PageRequest(filters=filters)).total == 0
            continue
        for sort in DealSort:
            for descending in (False, True):
                rows = _all_pages(stock.deals.list_page, sort.value, descending, size=1, **filters)
                assert sorted(d.id for d in rows) == wanted, (filters, sort)


def test_a_vehicles_deals_are_found_by_its_id(stock):
    deal = stock.deals.page(DealFilter(state=DealState.CANCELLED)).rows[0]
    found = stock.deals.page(DealFilter(vehicle_id=deal.vehicle_id)).rows
    assert [d.id for d in found] == [deal.id]


def test_list_entries_follow_edits_and_deals(stock):
    vehicle = stock.vehicles.page(VehicleFilter(make="BMW"), count=1).rows[0]
    edited = stock.vehicles.edit(vehicle, draft(99, make="BMW", model="X5", vin=vehicle.vin))
    assert stock.vehicles.page(VehicleFilter(make="bmw", model="x5")).rows == (edited,)
    deal = stock.deals.create(deal_draft(vehicle.id))
    reserved = stock.vehicles.page(VehicleFilter(status=VehicleStatus.RESERVED)).rows
    assert vehicle.id in {v.id for v in reserved}
    stock.deals.cancel(deal, "changed mind")
    assert stock.vehicles.page(VehicleFilter(status=VehicleStatus.IN_STOCK, make="BMW")).total == 3


def test_vehicle_and_deal_writes_announce_their_changes(context, stock):
    head = stock.changes.head()
    vehicle = stock.vehicles.add(draft(77, price="31000.00"))
    deal = stock.deals.create(deal_draft(vehicle.id))
    cancelled = stock.deals.cancel(deal, "no financing")
    changes = [(c.entity, c.kind, c.ids) for c in stock.changes.since(head).changes]
    assert ("vehicles", ChangeKind.ADDED, (vehicle.id,)) in changes
    assert ("deals", ChangeKind.ADDED, (deal.id,)) in changes
    assert ("deals", ChangeKind.UPDATED, (cancelled.id,)) in changes
    assert [c for c in changes if c[0] == "vehicles" and c[2] == (vehicle.id,)][1:], changes
    assert not any(i.kind.startswith("deals.") for i in context.pending_repo.all())


def test_an_interrupted_deal_creation_frees_the_car_at_the_next_start(context, stock):
    from alko_desk.services.deals import ORPHAN_GRACE

    vehicle = stock.vehicles.add(draft(78))
    deals = stock.deals

    def lost(*args):
        raise ConnectionError("the connection dropped")

    real_insert = context.deals_repo.insert
    context.deals_repo.insert = lost
    deals._release_vehicle = lost  # and the desk cannot undo the reservation either
    try:
        with pytest.raises(ConnectionError):
            deals.create(deal_draft(vehicle.id))
    finally:
        context.deals_repo.insert = real_insert
    assert stock.vehicles.get(vehicle.id).status is VehicleStatus.RESERVED
    assert [i.kind for i in context.pending_repo.all()] == ["deals.create"]
    context.clock.advance(seconds=ORPHAN_GRACE.total_seconds() + 1)
    fresh = context.services_for(stock.session)
    assert fresh.clients.recover_pending() == 1
    assert fresh.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK
    assert context.pending_repo.all() == []


def _document_counts(store) -> dict[str, int]:
    return {name: store.db[name].count_documents({}) for name in store.db.list_collection_names()}


def test_a_list_read_on_a_fresh_database_writes_nothing(context, make_user, store):
    desk = context.services_for(make_user("rea", Role.SALES))
    finance = context.services_for(make_user("fin", Role.FINANCE))
    before = _document_counts(store)
    for sort in ("added", "price"):
        assert desk.vehicles.list_page(PageRequest(sort=sort, filters={"make": "BMW"})).total == 0
    assert desk.vehicles.list_page(PageRequest(filters={"price_min": "100"})).rows == ()
    assert desk.vehicles.count() == 0 and desk.deals.page().total == 0
    assert desk.deals.list_page(PageRequest(filters={"state": "draft"})).total == 0
    assert desk.deals.list_page(PageRequest(filters={"client_id": "C-1"})).total == 0
    assert finance.invoices.list_page(PageRequest()).total == 0
    assert _document_counts(store) == before


def test_stock_from_before_the_filtered_index_is_listed_by_the_migration_not_by_a_read(
    context, stock, store
):
    from alko_desk.storage.schema import SCHEMA_DOC_ID, SCHEMA_VERSION, ensure_schema

    vehicles = stock.vehicles.page(count=100).rows
    deals = stock.deals.page(count=100).rows
    for name in ("ix_vehicles", "ix_deals"):
        store.db.drop_collection(name)  # as on a database from before the filters
    store.db.meta.update_one({"_id": SCHEMA_DOC_ID}, {"$set": {"version": 4}})
    context.vehicles_repo.clear_list_cache()
    context.deals_repo.clear_list_cache()
    before = _document_counts(store)
    assert stock.vehicles.page().total == 0 and stock.deals.page().total == 0
    assert _document_counts(store) == before  # the read builds nothing
    assert ensure_schema(store) == SCHEMA_VERSION  # what the next start runs (from 4 on)
    context.vehicles_repo.clear_list_cache()
    context.deals_repo.clear_list_cache()
    assert {v.id for v in stock.vehicles.page(count=100).rows} == {v.id for v in vehicles}
    assert {d.id for d in stock.deals.page(count=100).rows} == {d.id for d in deals}
    honda = stock.vehicles.page(VehicleFilter(make="honda", price_min=Decimal("20000"))).rows
    assert honda and all(v.make == "Honda" for v in honda)
    cancelled = stock.deals.page(DealFilter(state=DealState.CANCELLED)).rows
    assert [d.id for d in cancelled] == [d.id for d in deals if d.state is DealState.CANCELLED]
