"""Shared helpers for vehicle and deal tests."""

from __future__ import annotations

from alko_desk.models.money import Money
from alko_desk.models.vehicles import Condition, Fuel, VehicleDraft
from alko_desk.services.vin import with_check_digit


def vin_n(n: int) -> str:
    """A North-American-style VIN with a valid check digit, unique per n."""
    return with_check_digit(f"1HGCM826{0}3A{n:06d}")


def draft(n: int = 1, price: str = "25000.00", **changes) -> VehicleDraft:
    base = {
        "vin": vin_n(n),
        "make": "Honda",
        "model": "Accord",
        "trim": "EX",
        "model_year": 2024,
        "colour": "Plava",
        "fuel": Fuel.PETROL,
        "mileage_km": 10,
        "condition": Condition.NEW,
        "purchase_cost": Money.of("20000.00"),
        "list_price": Money.of(price),
        "location": "Zagreb, Ilica 1",
    }
    base.update(changes)
    return VehicleDraft(**base)
