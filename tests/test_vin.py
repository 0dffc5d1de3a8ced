"""VIN checks on real VINs gathered from public sources (tests/data/vins.csv says where from)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alko_desk.services.vin import (
    ALPHABET,
    CheckDigit,
    VinVerdict,
    check_digit_of,
    check_vin,
    model_year_candidates,
    with_check_digit,
)

ROWS = list(csv.DictReader((Path(__file__).parent / "data" / "vins.csv").open(encoding="utf-8")))


@pytest.mark.parametrize("row", ROWS, ids=[r["vin"] for r in ROWS])
def test_real_vins_decode_as_published(row):
    report = check_vin(row["vin"], current_year=2026)
    assert report.verdict.value == row["expected"], report.reason
    if row["manufacturer"]:
        assert row["manufacturer"].casefold() in report.manufacturer.casefold()
    if row["model_year"]:
        assert int(row["model_year"]) in report.model_years
    assert report.wmi == row["vin"][:3]


def test_wikipedia_example_has_check_digit_x():
    assert check_digit_of("1M8GDM9AXKP042788") == "X"
    report = check_vin("1M8GDM9AXKP042788", current_year=2026)
    assert report.check_digit is CheckDigit.VALID
    assert report.model_year_by_law


@pytest.mark.parametrize(
    ("vin", "words"),
    [
        ("1M8GDM9AXKP04278", "17 characters"),
        ("1M8GDM9AXKP0427888", "17 characters"),
        ("1M8GDM9AXKP0427O8", "never contains O"),
        ("IM8GDM9AXKP042788", "never contains I"),
        ("1M8GDM9AXKQ042788", "never contains Q"),
        ("1M8GDM9AXKP04278_", "only digits and capital letters"),
        ("", "empty"),
    ],
)
def test_malformed_vins_are_refused_with_the_reason(vin, words):
    report = check_vin(vin)
    assert report.verdict is VinVerdict.REFUSED
    assert words in report.reason


def test_wrong_check_digit_is_refused_in_north_america():
    report = check_vin("1M8GDM9A1KP042788")
    assert report.verdict is VinVerdict.REFUSED
    assert report.check_digit is CheckDigit.INVALID
    assert "should be X" in report.reason


def test_european_vin_without_check_digit_is_a_warning():
    report = check_vin("XTAGFK330JY144213", current_year=2026)
    assert report.verdict is VinVerdict.WARNING
    assert report.accepted
    assert report.check_digit is CheckDigit.NOT_USED
    assert report.manufacturer == "AvtoVAZ"
    assert not report.model_year_by_law


def test_lower_case_and_spaces_are_normalised():
    assert check_vin(" jm1bl1sf3a1267720 ").vin == "JM1BL1SF3A1267720"


def test_model_year_cycle_and_latest_year():
    assert model_year_candidates("A", 2026) == (2010, 1980)
    assert model_year_candidates("9", 2026) == (2009,)
    assert model_year_candidates("T", 2027) == (2026, 1996)
    assert model_year_candidates("0", 2026) == ()  # 0 is no year code


@given(st.text(alphabet=sorted(ALPHABET), min_size=17, max_size=17))
def test_any_vin_with_its_computed_check_digit_is_valid(text):
    vin = with_check_digit("1" + text[1:])  # North America: the check digit is law
    assert check_vin(vin).verdict is VinVerdict.OK
    assert check_vin(vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]).verdict is (
        VinVerdict.REFUSED
    )
