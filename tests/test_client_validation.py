"""Property-based tests of client validation: no input crashes it; accepted phones round-trip."""

from dataclasses import replace
from datetime import date

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alko_desk.models.clients import ClientDraft
from alko_desk.models.text import fold
from alko_desk.services.client_validation import (
    check_field,
    format_phone,
    mask_phone,
    parse_phone,
    validate_draft,
)
from tests.clients_data import draft

FIELDS = ["first_name", "last_name", "id_number", "licence_number", "email", "phone", "notes"]
REGIONS = ["HR", "SI", "DE", "RU", "GB", "US", ""]
phone_like = st.text(alphabet="+0123456789 ()-./", max_size=25)


@given(st.sampled_from(FIELDS), st.text(max_size=300), st.sampled_from(REGIONS))
def test_no_text_in_any_field_crashes_the_check(field, value, region):
    result = check_field(field, value, region)
    assert result is None or (isinstance(result, str) and result)


@given(st.one_of(st.none(), st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))))
def test_no_birth_date_crashes_the_check(value):
    check_field("birth_date", value, "HR", today=date(2026, 11, 25))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=80), max_size=len(FIELDS)))
def test_a_draft_is_either_refused_with_messages_or_normalised(changes):
    candidate: ClientDraft = replace(draft(), **changes)
    normalized, errors = validate_draft(candidate, "HR", today=date(2026, 11, 25))
    if errors:
        assert all(isinstance(m, str) and m for m in errors.values())
    else:
        assert normalized.first_name.strip() and normalized.last_name.strip()
        assert normalized.email == normalized.email.lower()


@given(phone_like, st.sampled_from(REGIONS))
def test_every_accepted_phone_number_round_trips(raw, region):
    if check_field("phone", raw, region or "HR") is not None or not raw.strip():
        return
    e164 = parse_phone(raw, region or "HR")
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    assert parse_phone(e164, "") == e164
    assert parse_phone(format_phone(e164), region or "HR") == e164
    assert mask_phone(e164)[-2:] == e164[-2:]


@given(st.sampled_from(["+385912345678", "+4915123456789", "+79123456789", "+447911123456"]))
def test_known_good_numbers_are_accepted_from_any_default_region(e164):
    for region in REGIONS:
        assert parse_phone(e164, region) == e164


@given(st.text(max_size=60))
def test_folding_is_idempotent_and_lower_case(text):
    once = fold(text)
    assert fold(once) == once
    assert once == once.casefold()


def test_folding_matches_what_staff_type():
    assert fold("Željko Đurić") == "zeljko duric"
    assert fold("ŠTEFAN Müller-Lüdenscheidt") == "stefan muller ludenscheidt"
    assert fold("Иван Пётр") == "иван петр"
