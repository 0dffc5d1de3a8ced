"""Realistic fake stock and deals for demos and benchmarks, made through the services.

Makes and models a Zagreb dealer sells, with their real WMI codes; VINs carry a valid check
digit where the region's law uses one (North America), and about half of the European ones
do too, as in real stock (the rest are accepted with a warning).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from alko_desk.models.deals import (
    DealDraft,
    Discount,
    DiscountKind,
    Financing,
    ItemKind,
    LineItem,
    TradeIn,
)
from alko_desk.models.errors import AlkoError
from alko_desk.models.listing import Progress
from alko_desk.models.money import Money
from alko_desk.models.vehicles import (
    Condition,
    Fuel,
    ImportPreview,
    ImportRow,
    Transmission,
    VehicleDraft,
    VehicleFilter,
    VehicleStatus,
)
from alko_desk.services.deals import DealService
from alko_desk.services.vehicles import VehicleService
from alko_desk.services.vin import ALPHABET, with_check_digit

# (make, WMI, [(model, base price in EUR, fuels)])
CATALOGUE = [
    ("Škoda", "TMB", [("Fabia", 18500, "pd"), ("Octavia", 28900, "pdh"), ("Kodiaq", 41500, "pdh")]),
    ("Volkswagen", "WVW", [("Polo", 19900, "p"), ("Golf", 29500, "pdhe"), ("T-Roc", 31900, "pd")]),
    ("Renault", "VF1", [("Clio", 17900, "ph"), ("Megane", 26900, "pde"), ("Captur", 23900, "ph")]),
    ("Peugeot", "VF3", [("208", 19500, "pe"), ("308", 27500, "pdh"), ("3008", 35900, "pdh")]),
    ("Dacia", "UU1", [("Sandero", 13900, "pl"), ("Duster", 19900, "pdl")]),
    ("Toyota", "SB1", [("Yaris", 20900, "h"), ("Corolla", 27900, "h")]),
    ("Toyota", "JTM", [("RAV4", 42900, "h")]),
    ("Hyundai", "TMA", [("i30", 22900, "p"), ("Tucson", 33900, "ph")]),
    ("Kia", "U5Y", [("Ceed", 22500, "pd"), ("Sportage", 34500, "ph")]),
    ("BMW", "WBA", [("320d", 48900, "d"), ("X3", 62900, "dh")]),
    ("Mercedes-Benz", "WDD", [("A 180", 36900, "p"), ("C 200", 51900, "ph")]),
    ("Ford", "WF0", [("Fiesta", 18900, "p"), ("Focus", 25900, "pd"), ("Kuga", 36900, "ph")]),
    ("Tesla", "5YJ", [("Model 3", 44900, "e"), ("Model Y", 49900, "e")]),
]
FUELS = {"p": Fuel.PETROL, "d": Fuel.DIESEL, "h": Fuel.HYBRID, "e": Fuel.ELECTRIC, "l": Fuel.LPG}
COLOURS = ["Bijela", "Crna", "Siva metalik", "Srebrna", "Plava", "Crvena", "Zelena", "Bež"]
LOCATIONS = [
    "Zagreb, Ilica 1",
    "Zagreb, Slavonska 12",
    "Split, Vukovarska 40",
    "Rijeka, Zvonimirova 3",
]
LENDERS = ["Erste Leasing", "PBZ Leasing", "Raiffeisen Leasing", "UniCredit Leasing"]
DEAL_BATCH = 500  # deals saved per create_many (each lists its batch in one pass)
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
_VIN_CHARS = sorted(ALPHABET)


def demo_vin(rng: random.Random, wmi: str, year: int, n: int) -> str:
    vds = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
    year_code = _YEAR_CODES[(year - 1980) % 30]
    plant = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
    vin = f"{wmi}{vds}0{year_code}{plant}{n % 1_000_000:06d}"
    if wmi[0] in "12345" or rng.random() < 0.5:
        return with_check_digit(vin)
    return vin[:8] + rng.choice(_VIN_CHARS) + vin[9:]


class StockSeeder:
    def __init__(self, vehicles: VehicleService, deals: DealService, seed: int = 7) -> None:
        self._vehicles = vehicles
        self._deals = deals
        self._rng = random.Random(seed)

    def vehicle_drafts(
        self, count: int, start: int = 0, today: date | None = None
    ) -> list[VehicleDraft]:
        rng = self._rng
        this_year = (today or date.today()).year
        drafts = []
        for n in range(start, start + count):
            make, wmi, models = rng.choice(CATALOGUE)
            model, base, fuels = rng.choice(models)
            used = rng.random() < 0.45
            year = this_year - rng.randint(1, 9) if used else this_year
            mileage = (
                rng.randint(8_000, 25_000) * (this_year - year) if used else rng.randint(5, 50)
            )
            price = (
                Decimal(base) * (Decimal("0.88") ** (this_year - year)) if used else Decimal(base)
            )
            price = (price / 10).quantize(Decimal(1)) * 10 - 10  # 24,990-style prices
            cost = (price * Decimal(rng.uniform(0.78, 0.9))).quantize(Decimal(1))
            drafts.append(
                VehicleDraft(
                    vin=demo_vin(rng, wmi, year, n),
                    make=make,
                    model=model,
                    trim=rng.choice(["", "Style", "Ambition", "Comfort", "Sport", "Premium"]),
                    model_year=year,
                    first_registration=date(year, rng.randint(1, 12), rng.randint(1, 28))
                    if used
                    else None,
                    colour=rng.choice(COLOURS),
                    fuel=FUELS[rng.choice(fuels)],
                    transmission=rng.choice(list(Transmission)),
                    mileage_km=mileage,
                    condition=Condition.USED if used else Condition.NEW,
                    purchase_cost=Money.of(cost),
                    acquired_without_vat=used and rng.random() < 0.6,
                    list_price=Money.of(price),
                    location=rng.choice(LOCATIONS),
                )
            )
        return drafts

    def seed_vehicles(self, count: int, start: int = 0, progress: Progress | None = None) -> int:
        """Adds `count` vehicles as one import (stored in batches, listed in one pass), each
        arrived some time in the past months (`arrival`), so days in stock mean something."""
        drafts = self.vehicle_drafts(count, start)
        now = self._vehicles.now()
        preview = ImportPreview(
            tuple(
                ImportRow(i + 2, {}, d, arrived_at=self.arrival(d, now))
                for i, d in enumerate(drafts)
            )
        )
        return self._vehicles.import_rows(preview, progress).imported

    def arrival(self, draft: VehicleDraft, now: datetime) -> datetime:
        """When a demo car came into stock: most sell within weeks, a few stand for months
        (used cars longer); during opening hours on a weekday, never in the future."""
        rng = self._rng
        mean_days = 55 if draft.condition is Condition.USED else 35
        days = min(
            rng.expovariate(1 / mean_days), 330 if draft.condition is Condition.USED else 200
        )
        day = (now - timedelta(days=days)).date()
        minutes = timedelta(minutes=rng.randrange(0, 10 * 60))
        at = datetime.combine(day, time(8), tzinfo=now.tzinfo) + minutes
        while at.weekday() >= 5 or at >= now:  # a weekday, and never later than now
            at -= timedelta(days=1)
        return at

    def seed_deals(
        self,
        count: int,
        client_ids: list[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Deals on vehicles in stock: most reserved and ready to invoice, a few waiting for a
        manager's approval (discount above the threshold). Made over the last days (within
        the reservation period, so none has lapsed), each after its car arrived; saved in
        batches through `DealService.create_many` (lists written once per batch)."""
        rng = self._rng
        stock = list(
            self._vehicles.page(VehicleFilter(status=VehicleStatus.IN_STOCK), count=10**7).rows
        )
        rng.shuffle(stock)
        if not client_ids:
            raise AlkoError("Deals need clients: seed some first (--clients N).")
        settings = self._deals.settings()
        threshold = settings.approval_discount_percent
        now = self._vehicles.now()
        window = timedelta(days=max(1, settings.reservation_days - 1))
        batch: list[tuple[DealDraft, datetime]] = []
        done = 0
        for vehicle in stock[:count]:
            price = vehicle.list_price.amount
            percent = Decimal(rng.choice([0, 1, 2, 3, 4])) if rng.random() < 0.85 else threshold + 2
            trade_in = None
            if rng.random() < 0.3:
                value = Money.of((price * Decimal(rng.uniform(0.1, 0.35))).quantize(Decimal(10)))
                loan = Money.of(rng.choice([0, 0, 1500, 3200]))
                _, wmi, models = rng.choice(CATALOGUE)
                trade_in = TradeIn(
                    demo_vin(rng, wmi, 2015, rng.randrange(10**6)),
                    f"{rng.choice(models)[0]} 2015",
                    rng.randint(90_000, 220_000),
                    value,
                    loan,
                )
            deposit = Money.of(rng.choice([500, 1000, 2000]))
            financing = None
            if rng.random() < 0.4:
                financing = Financing(
                    rng.choice(LENDERS),
                    Money.of((price * Decimal("0.5")).quantize(Decimal(100))),
                    rng.choice([36, 48, 60, 84]),
                    Decimal(rng.choice(["4.9", "5.9", "6.9", "7.5"])),
                )
            items = (LineItem(ItemKind.FEE, "Registration", Money.of(180), vat_applies=False),)
            if rng.random() < 0.5:
                items += (LineItem(ItemKind.ACCESSORY, "Winter tyres", Money.of(690)),)
            draft = DealDraft(
                client_id=rng.choice(client_ids),
                vehicle_id=vehicle.id,
                discounts=(Discount(DiscountKind.PERCENT, percent),),
                items=items,
                trade_in=trade_in,
                deposit=deposit,
                financing=financing,
            )
            created = now - window * rng.random()
            if created <= vehicle.added_at:  # a car that came in lately: sold since it came
                created = vehicle.added_at + (now - vehicle.added_at) * rng.uniform(0.2, 0.9)
            batch.append((draft, created))
            if len(batch) >= DEAL_BATCH:
                done += len(self._deals.create_many(batch))
                batch = []
                if progress:
                    progress(done, count)
        if batch:
            done += len(self._deals.create_many(batch))
            if progress:
                progress(done, count)
        return done
