"""Shared helpers for vehicle and deal tests."""

from __future__ import annotations

from alko_desk.models.money import Money
from alko_desk.models.users import Role
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


def client_with_deal(
    context, make_user=None, *, sales=None, n: int = 1, percent: str = "0", **client
):
    """A registered client (Croatian address, country as typed) and a saved deal for a new car
    sold to them by `sales` (or a new user `sam`); returns (sales services, deal)."""
    from decimal import Decimal

    from alko_desk.models.deals import DealDraft, Discount, DiscountKind
    from alko_desk.services.clients import new_client_id
    from tests.clients_data import draft as client_draft

    sam = sales or context.services_for(make_user("sam", Role.SALES))
    registered = sam.clients.register(new_client_id(), client_draft(**client))
    vehicle = sam.vehicles.add(draft(n, price="30000.00"))
    deal = sam.deals.create(
        DealDraft(
            client_id=registered.id,
            vehicle_id=vehicle.id,
            discounts=(Discount(DiscountKind.PERCENT, Decimal(percent)),),
            deposit=Money.of("2000"),
        )
    )
    return sam, deal


def register_client(services, client_id: str = "C-1", n: int = 1):
    """A registered client with a chosen id (deals refuse a buyer who is not registered)."""
    from tests.clients_data import draft as client_draft

    return services.clients.register(
        client_id,
        client_draft(
            email=f"kupac{n}@example.hr",
            phone=f"091 234 56{n % 100:02d}",
            id_number=f"1122334{n % 100:02d}",
            licence=f"HR7788{n % 100:02d}",
        ),
        allow_shared_contact=True,
    )
