"""Two processes (two desks) save a deal for the same car at the same moment: one wins."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from alko_desk.models.deals import DealDraft, Discount, DiscountKind
from alko_desk.models.users import Role
from alko_desk.services.deals import ReservationRefused
from tests.desks import race
from tests.vehicles_data import draft, register_client

ROUNDS = int(os.environ.get("ALKO_RESERVE_ROUNDS", "20"))


def _reserve_each(services, username: str, barrier, results, vehicle_ids):
    deals = services.deals
    for vehicle_id in vehicle_ids:
        barrier.wait(timeout=60)
        deal_draft = DealDraft(
            "C-1", vehicle_id, discounts=(Discount(DiscountKind.AMOUNT, Decimal(100)),)
        )
        try:
            deal = deals.create(deal_draft)
            results.put((vehicle_id, username, "won", deal.id))
        except ReservationRefused as refused:
            results.put((vehicle_id, username, "refused", refused.other_deal))


def test_two_desks_reserving_the_same_vehicle_get_one_success_each_round(
    context, make_user, mongo_uri, tmp_path
):
    sam = context.services_for(make_user("sam", Role.SALES))
    register_client(sam, "C-1")
    make_user("sara", Role.SALES)
    vehicle_ids = [sam.vehicles.add(draft(n)).id for n in range(ROUNDS)]
    outcomes = race(
        context, mongo_uri, tmp_path, _reserve_each, vehicle_ids, expect=2 * len(vehicle_ids)
    )
    for vehicle_id in vehicle_ids:
        mine = [o for o in outcomes if o[0] == vehicle_id]
        won = [o for o in mine if o[2] == "won"]
        refused = [o for o in mine if o[2] == "refused"]
        assert len(won) == 1 and len(refused) == 1, mine
        assert refused[0][3] == won[0][3]  # the refusal names the winning deal
        assert sam.vehicles.get(vehicle_id).reserved_by == won[0][3]
    assert sam.deals.page(count=1).total == ROUNDS


@pytest.mark.skipif(os.environ.get("ALKO_SLOW") != "1", reason="100 rounds: set ALKO_SLOW=1")
def test_hundred_rounds(context, make_user, mongo_uri, tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__, fromlist=["ROUNDS"]), "ROUNDS", 100)
    test_two_desks_reserving_the_same_vehicle_get_one_success_each_round(
        context, make_user, mongo_uri, tmp_path
    )
