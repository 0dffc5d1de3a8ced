"""The VIN guard changes hands atomically: a delivered car coming back in stock (a trade-in)
is taken in by exactly one desk, also when two desks take it at the same moment."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alko_desk.models.vehicles import Vehicle, VehicleStatus
from alko_desk.services.vehicles import new_vehicle_id
from alko_desk.storage.mongo import Store, connect
from alko_desk.storage.vehicles_repo import VehicleRepository, VinTaken
from tests.vehicles_data import draft

ROUNDS = 12


def _vehicle(n: int) -> Vehicle:
    now = datetime.now(UTC)
    return Vehicle(
        id=new_vehicle_id(),
        draft=draft(n),
        status=VehicleStatus.IN_STOCK,
        added_at=now,
        updated_at=now,
    )


def _delivered(repo: VehicleRepository, n: int) -> Vehicle:
    sold = _vehicle(n)
    repo.insert(sold)
    assert repo.replace_if(replace(sold, status=VehicleStatus.DELIVERED), sold.rev)
    return sold


def _take(desk: VehicleRepository, vehicle: Vehicle, barrier, outcomes: list) -> None:
    barrier.wait(timeout=30)
    try:
        desk.insert(vehicle)
        outcomes.append(("won", vehicle.id))
    except VinTaken as taken:
        outcomes.append(("refused", taken.vehicle_id))


def test_two_desks_taking_in_a_delivered_vin_at_once_get_one_success_each_round(context, mongo_uri):
    """Each round a delivered car's VIN comes back on two desks (two connections) at once:
    exactly one holds it afterwards and the other is told who does."""
    repo = context.vehicles_repo
    clients = [connect(mongo_uri) for _ in range(2)]
    desks = [VehicleRepository(Store.open(c, context.store.db.name)) for c in clients]
    try:
        for n in range(ROUNDS):
            _delivered(repo, n)
            barrier = threading.Barrier(2)
            outcomes: list[tuple[str, str]] = []

            threads = [
                threading.Thread(target=_take, args=(d, _vehicle(n), barrier, outcomes))
                for d in desks
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            won = [vid for kind, vid in outcomes if kind == "won"]
            refused = [vid for kind, vid in outcomes if kind == "refused"]
            assert len(won) == 1 and len(refused) == 1, (n, outcomes)
            assert refused == won  # the refusal names the desk that took it
            assert repo.holder_of_vin(draft(n).vin) == won[0]
    finally:
        for c in clients:
            c.close()


def test_a_fresh_guard_of_a_vehicle_being_written_is_not_taken_over(context):
    """A desk between claiming the VIN and writing its vehicle is not mistaken for a crash."""
    repo = context.vehicles_repo
    context.store.db.vehicle_vins.insert_one(
        {"_id": draft(1).vin, "vehicle": "V-being-written", "at": datetime.now(UTC)}
    )
    with pytest.raises(VinTaken) as taken:
        repo.insert(_vehicle(1))
    assert taken.value.vehicle_id == "V-being-written"


def test_a_guard_left_by_a_crash_is_taken_over_after_the_grace(context):
    repo = context.vehicles_repo
    context.store.db.vehicle_vins.insert_one(
        {
            "_id": draft(1).vin,
            "vehicle": "V-never-written",
            "at": datetime.now(UTC) - timedelta(hours=1),
        }
    )
    vehicle = _vehicle(1)
    repo.insert(vehicle)
    assert repo.holder_of_vin(vehicle.vin) == vehicle.id


def test_a_takeover_claimed_by_a_crashed_desk_is_finished_by_the_next(context):
    repo = context.vehicles_repo
    sold = _delivered(repo, 1)
    crashed = _vehicle(1)
    context.store.db.vehicle_claims.insert_one(
        {
            "_id": f"vin:{sold.vin}:{sold.id}",
            "vehicle": crashed.id,
            "at": datetime.now(UTC) - timedelta(hours=1),
        }
    )
    late = _vehicle(1)
    # the crashed desk's takeover is rolled forward (the claim is never taken twice); its
    # vehicle was never written and the claim is past the grace, so the VIN is free again
    repo.insert(late)
    assert repo.holder_of_vin(sold.vin) == late.id
    assert context.store.db.vehicle_claims.find_one({"_id": f"vin:{sold.vin}:{crashed.id}"})
