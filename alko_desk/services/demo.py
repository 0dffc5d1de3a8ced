"""Realistic fake clients for demos, screenshots and benchmarks, registered through the services."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers
from phonenumbers import PhoneNumberType

from alko_desk.models.clients import Address, ClientDraft, ContactChannel, IdDocumentType
from alko_desk.models.listing import Progress
from alko_desk.services.clients import ClientBatch, ClientService, new_client_id

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
REGION = {
    "hr_HR": "HR",
    "sl_SI": "SI",
    "cs_CZ": "CZ",
    "pl_PL": "PL",
    "de_DE": "DE",
    "en_GB": "GB",
    "ru_RU": "RU",
    "bg_BG": "BG",
    "uk_UA": "UA",
}
# Real towns with a real postal code: Faker's own are invented in some locales ("North Carolynville").
CITIES = {
    "hr_HR": [
        ("Zagreb", "10000"),
        ("Split", "21000"),
        ("Rijeka", "51000"),
        ("Osijek", "31000"),
        ("Zadar", "23000"),
        ("Pula", "52100"),
        ("Varaždin", "42000"),
        ("Karlovac", "47000"),
    ],
    "sl_SI": [
        ("Ljubljana", "1000"),
        ("Maribor", "2000"),
        ("Celje", "3000"),
        ("Kranj", "4000"),
        ("Koper", "6000"),
        ("Novo mesto", "8000"),
    ],
    "cs_CZ": [
        ("Praha", "110 00"),
        ("Brno", "602 00"),
        ("Ostrava", "702 00"),
        ("Plzeň", "301 00"),
        ("Olomouc", "779 00"),
        ("Liberec", "460 01"),
    ],
    "pl_PL": [
        ("Warszawa", "00-001"),
        ("Kraków", "30-001"),
        ("Łódź", "90-001"),
        ("Wrocław", "50-001"),
        ("Poznań", "60-001"),
        ("Gdańsk", "80-001"),
    ],
    "de_DE": [
        ("Berlin", "10115"),
        ("München", "80331"),
        ("Hamburg", "20095"),
        ("Köln", "50667"),
        ("Frankfurt am Main", "60311"),
        ("Stuttgart", "70173"),
    ],
    "en_GB": [
        ("London", "SW1A 1AA"),
        ("Manchester", "M1 1AE"),
        ("Birmingham", "B1 1AA"),
        ("Leeds", "LS1 1UR"),
        ("Bristol", "BS1 4DJ"),
        ("Glasgow", "G1 1XQ"),
    ],
    "ru_RU": [
        ("Москва", "101000"),
        ("Санкт-Петербург", "190000"),
        ("Новосибирск", "630000"),
        ("Екатеринбург", "620000"),
        ("Казань", "420000"),
        ("Нижний Новгород", "603000"),
    ],
    "bg_BG": [
        ("София", "1000"),
        ("Пловдив", "4000"),
        ("Варна", "9000"),
        ("Бургас", "8000"),
        ("Русе", "7000"),
        ("Стара Загора", "6000"),
    ],
    "uk_UA": [
        ("Київ", "01001"),
        ("Харків", "61000"),
        ("Одеса", "65000"),
        ("Дніпро", "49000"),
        ("Львів", "79000"),
        ("Запоріжжя", "69000"),
    ],
}
# Where Faker's street names are invented in another language ("Зинаида Plains").
STREETS = {
    "en_GB": [
        "High Street",
        "Station Road",
        "Church Lane",
        "Victoria Road",
        "Park Avenue",
        "Mill Lane",
        "King Street",
        "Queen's Road",
    ],
    "bg_BG": [
        "ул. Витоша",
        "бул. Васил Левски",
        "ул. Раковски",
        "бул. Цар Освободител",
        "ул. Граф Игнатиев",
        "бул. България",
        "ул. Шипка",
        "ул. Оборище",
    ],
}


@dataclass
class _Pool:
    female: list[tuple[str, str]]  # first names, surnames: one gender per person
    male: list[tuple[str, str]]
    street: list[str]


def _proper(name: str) -> str:
    """ "ribič" → "Ribič": some locales' lists hold lower-case surnames."""
    return name[:1].upper() + name[1:] if name[:1].islower() and " " not in name else name


def _pools(seed: int) -> dict[str, _Pool]:
    from faker import Faker

    pools = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        pools[locale] = _Pool(
            # sorted: the same data for the same seed
            female=sorted(
                {(fake.first_name_female(), _proper(fake.last_name_female())) for _ in range(POOL)}
            ),
            male=sorted(
                {(fake.first_name_male(), _proper(fake.last_name_male())) for _ in range(POOL)}
            ),
            street=STREETS.get(locale) or sorted({fake.street_name() for _ in range(POOL)}),
        )
    return pools


def demo_phone(region: str, rng: random.Random, n: int | None = None) -> str:
    """A valid mobile number of the person's own country (E.164).

    The last digits come from the client's number `n` where given, so demo clients do not
    share phones by chance (a shared phone is what the duplicate check looks for).
    """
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        return ""
    national = str(example.national_number)
    width = min(6, len(national) - 3)
    for attempt in range(20):
        if n is not None and attempt == 0:
            tail = str(n % 10**width).zfill(width)
        else:
            tail = "".join(str(rng.randrange(10)) for _ in range(width))
        candidate = phonenumbers.parse(f"+{example.country_code}{national[:-width]}{tail}", None)
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


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
            first, last = rng.choice(pool.female if rng.random() < 0.5 else pool.male)
            city, postcode = rng.choice(CITIES[locale])
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
                        phone=demo_phone(REGION[locale], rng, n) if rng.random() < 0.8 else "",
                        address=Address(
                            f"{rng.choice(pool.street)} {rng.randrange(1, 140)}",
                            postcode,
                            city,
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
        batch: int = 25000,  # documents written per round of bulk inserts; listed once at the end
        start: int = 0,
        progress: Progress | None = None,
    ) -> int:
        """Registers `count` demo clients; `progress` reports and may cancel between batches.

        The batches' clients are listed at the end, in one pass over the list index."""
        done = 0

        def batches() -> Iterator[ClientBatch]:
            nonlocal done
            while done < count:
                if progress and progress.cancelled:
                    return
                size = min(batch, count - done)
                items = self.drafts(size, start + done)
                # Registered over the past three years, last in contact some time after that.
                now = self._clients.now()
                registered, activity = {}, {}
                for cid, _ in items:
                    age = timedelta(minutes=self._rng.randrange(60, 60 * 24 * 1095))
                    registered[cid] = now - age
                    activity[cid] = now - age * self._rng.random()  # between registration and now
                yield ClientBatch(items, activity, registered)
                done += size
                if progress:
                    progress.report(done, count, "Registering demo clients")

        self._clients.register_batches(batches())
        return done
