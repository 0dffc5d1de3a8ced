"""Realistic fake clients for demos, screenshots and benchmarks, registered through the services."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from alko_desk.models.clients import Address, ClientDraft, ContactChannel, IdDocumentType
from alko_desk.models.listing import Progress
from alko_desk.services.clients import ClientService, new_client_id

# Locales with diacritics (hr, sl, cs, pl, de) and Cyrillic (ru, bg, uk), weighted like a Zagreb showroom.
LOCALES = {
    "hr_HR": 40,
    "sl_SI": 10,
    "cs_CZ": 8,
    "pl_PL": 6,
    "de_DE": 8,
    "en_GB": 8,
    "ru_RU": 8,
    "bg_BG": 6,
    "uk_UA": 6,
}
COUNTRY = {
    "hr_HR": "Hrvatska",
    "sl_SI": "Slovenija",
    "cs_CZ": "Česko",
    "pl_PL": "Polska",
    "de_DE": "Deutschland",
    "en_GB": "United Kingdom",
    "ru_RU": "Россия",
    "bg_BG": "България",
    "uk_UA": "Україна",
}
POOL = 150


@dataclass
class _Pool:
    first: list[str]
    last: list[str]
    city: list[str]
    street: list[str]
    postcode: list[str]


def _pools(seed: int) -> dict[str, _Pool]:
    from faker import Faker

    pools = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        pools[locale] = _Pool(
            first=sorted(
                {fake.first_name() for _ in range(POOL)}
            ),  # sorted: same data for the same seed
            last=sorted({fake.last_name() for _ in range(POOL)}),
            city=sorted({fake.city() for _ in range(POOL // 3)}),
            street=sorted({fake.street_name() for _ in range(POOL)}),
            postcode=[fake.postcode() for _ in range(POOL // 3)],
        )
    return pools


class DemoSeeder:
    def __init__(self, clients: ClientService, seed: int = 7) -> None:
        self._clients = clients
        self._rng = random.Random(seed)
        self._pools = _pools(seed)
        self._locales = list(LOCALES)
        self._weights = list(LOCALES.values())

    def drafts(self, count: int, start: int = 0) -> list[tuple[str, ClientDraft]]:
        rng = self._rng
        out = []
        for n in range(start, start + count):
            locale = rng.choices(self._locales, self._weights)[0]
            pool = self._pools[locale]
            first, last = rng.choice(pool.first), rng.choice(pool.last)
            ascii_handle = f"client{n}"
            out.append(
                (
                    new_client_id(),
                    ClientDraft(
                        first_name=first,
                        last_name=last,
                        birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55)),
                        id_type=rng.choice(list(IdDocumentType)),
                        id_number=f"D{n:09d}",
                        licence_number=f"L{n:08d}",
                        email=f"{ascii_handle}@demo.alko.example",
                        phone=f"+38591{n:07d}" if rng.random() < 0.8 else "",
                        address=Address(
                            f"{rng.choice(pool.street)} {rng.randrange(1, 140)}",
                            rng.choice(pool.postcode),
                            rng.choice(pool.city),
                            COUNTRY[locale],
                        ),
                        preferred_channel=rng.choice(list(ContactChannel)),
                        marketing_consent=rng.random() < 0.4,
                        notes="",
                    ),
                )
            )
        return out

    def seed(
        self,
        count: int,
        batch: int = 25000,  # big batches: fewer merges into the list index, fewer round trips
        start: int = 0,
        progress: Progress | None = None,
    ) -> int:
        """Registers `count` demo clients; `progress` reports and may cancel between batches."""
        done = 0
        while done < count:
            if progress and progress.cancelled:
                break
            size = min(batch, count - done)
            items = self.drafts(size, start + done)
            # Spread the last contact over the past two years, as a real client book would have.
            now = self._clients.now()
            activity = {
                cid: now - timedelta(minutes=self._rng.randrange(0, 60 * 24 * 730))
                for cid, _ in items
            }
            self._clients.register_many(items, last_activity=activity)
            done += size
            if progress:
                progress.report(done, count, "Registering demo clients")
        return done
