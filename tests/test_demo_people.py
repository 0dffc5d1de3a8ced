"""Demo people a dealer would believe: one locale per person, consistent throughout (issue 7, item 13)."""

from __future__ import annotations

import random

import phonenumbers

from alko_desk.models.users import Role
from alko_desk.services.demo import CITIES, COUNTRY, REGION, DemoSeeder, demo_phone


def test_each_person_is_made_from_one_locale(context, make_user):
    seeder = DemoSeeder(context.services_for(make_user("sam", Role.SALES)).clients, seed=11)
    country_to_locale = {country: locale for locale, country in COUNTRY.items()}
    drafts = seeder.drafts(400)
    phones = [d.phone for _cid, d in drafts if d.phone]
    assert len(set(phones)) == len(phones)  # no shared phones by chance (the duplicate check)
    for _cid, d in drafts:
        locale = country_to_locale[d.address.country]
        assert (d.address.city, d.address.postal_code) in CITIES[locale]  # a real town
        assert d.last_name[:1].isupper() and d.first_name[:1].isupper(), d.display_name
        if d.phone:
            number = phonenumbers.parse(d.phone, None)
            assert phonenumbers.is_valid_number(number)
            assert phonenumbers.region_code_for_number(number) == REGION[locale], d.phone
        if locale == "cs_CZ" and d.last_name.endswith("ová"):
            assert d.first_name not in {"Adam", "Jan", "Petr", "Jiří", "Tomáš"}, d.display_name
        assert "Plains" not in d.address.street and "North " not in d.address.city


def test_czech_and_russian_surnames_agree_with_the_first_name():
    from alko_desk.services.demo import _pools

    pools = _pools(3)
    cz_male = [last for _first, last in pools["cs_CZ"].male]
    assert not any(last.endswith("ová") for last in cz_male)  # no "Adam Bártová"
    cz_female = [last for _first, last in pools["cs_CZ"].female]
    assert sum(last.endswith("á") for last in cz_female) > len(cz_female) * 0.8
    ru_male = [last for _first, last in pools["ru_RU"].male]
    assert not any(last.endswith(("ова", "ева", "ина")) for last in ru_male)


def test_last_activity_is_never_before_registration(context, make_user):
    sales = context.services_for(make_user("sam", Role.SALES)).clients
    DemoSeeder(sales, seed=5).seed(30)
    for row in sales.page(0, 30):
        client = sales.get(row.id)
        assert client.created_at <= client.last_activity <= sales.now()


def test_demo_phones_are_valid_in_every_country():
    rng = random.Random(1)
    for region in REGION.values():
        for _ in range(5):
            number = phonenumbers.parse(demo_phone(region, rng), None)
            assert phonenumbers.is_valid_number(number)
            assert phonenumbers.region_code_for_number(number) == region
