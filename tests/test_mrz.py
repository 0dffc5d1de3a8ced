"""Reading machine-readable zones: ICAO 9303 specimens, rendered OCR-B images, repairs, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

import pytest

from alko_desk.services.images import open_image
from alko_desk.services.mrz import parse, validate_with_library
from alko_desk.services.mrz_ocr import read_mrz_image
from tests.mrz_images import render_document

TODAY = date(2026, 11, 25)

# The specimens of ICAO Doc 9303 (part 4 appendix, part 5 and 6 appendices).
TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]
TD2 = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
]
MRVA = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
]
# A TD3 that has not expired on TODAY, to check the expiry flag the other way.
VALID_TD3 = [
    "P<HRVHORVAT<<IVANA<<<<<<<<<<<<<<<<<<<<<<<<<<",
    "1234567897HRV9001011F3106305<<<<<<<<<<<<<<<8",
]


def _replace(lines: list[str], line: int, col: int, ch: str) -> list[str]:
    out = list(lines)
    out[line] = out[line][:col] + ch + out[line][col + 1 :]
    return out


@pytest.mark.parametrize(
    "lines, fmt, number",
    [(TD3, "TD3", "L898902C3"), (TD1, "TD1", "D23145890"), (TD2, "TD2", "D23145890")],
)
def test_icao_specimens_parse_with_every_check_digit_holding(lines, fmt, number):
    reading = parse(lines, TODAY)
    assert reading.format == fmt
    assert reading.valid and reading.repairs == ()
    assert (reading.surname, reading.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert reading.document_number == number
    assert reading.issuing_country == reading.nationality == "UTO"
    assert reading.birth_date == date(1974, 8, 12)
    assert reading.expiry_date == date(2012, 4, 15) and reading.expired
    assert reading.sex == "F"
    assert validate_with_library(reading)  # the mrz library agrees


def test_the_visa_specimen_is_read_as_mrv_a():
    reading = parse(MRVA, TODAY)
    assert reading.format == "MRVA"
    assert reading.document_number == "L8988901C"
    assert reading.birth_date == date(1940, 9, 7)
    assert reading.valid


def test_a_document_still_valid_is_not_expired_and_its_optional_data_is_empty():
    reading = parse(VALID_TD3, TODAY)
    assert reading.valid, reading.failed_checks
    assert reading.expiry_date == date(2031, 6, 30) and not reading.expired
    assert reading.birth_date == date(1990, 1, 1)
    assert reading.optional_data == ""


def test_a_wrong_check_digit_is_reported_by_name():
    reading = parse(_replace(TD3, 1, 19, "3"), TODAY)  # birth date check digit 2 -> 3
    assert not reading.valid
    assert reading.failed_checks == ["birth date", "composite"]
    assert reading.repairs == ()


def test_letters_read_in_dates_and_numbers_are_repaired_when_the_check_digits_agree():
    misread = _replace(TD3, 1, 5, "O")  # L8989O2C3: the document number
    misread = _replace(misread, 1, 15, "O")  # 74O812: the birth date
    misread = _replace(misread, 1, 43, "O")  # the composite check digit itself
    reading = parse(misread, TODAY)
    assert reading.valid
    assert reading.lines == tuple(TD3)
    assert len(reading.repairs) == 3
    assert any(r.startswith("document number: '0' had been read as 'O'") for r in reading.repairs)


def test_a_repair_the_composite_contradicts_is_not_made():
    misread = _replace(TD3, 1, 15, "O")  # the birth date would repair to 740812...
    misread = _replace(misread, 1, 43, "7")  # ...but the composite says otherwise
    reading = parse(misread, TODAY)
    assert reading.lines == tuple(misread)
    assert reading.repairs == ()
    assert reading.failed_checks == ["birth date", "composite"]


def test_an_ambiguous_confusion_is_left_as_read():
    # B for 8 in a TD1 document number: D->0, 2->Z and 1->I would satisfy its check digit
    # just as well, and the composite cannot tell them apart: nothing is guessed.
    misread = _replace(TD1, 0, 11, "B")
    reading = parse(misread, TODAY)
    assert reading.lines == tuple(misread)
    assert "document number" in reading.failed_checks


def test_fillers_read_as_k_become_fillers_but_a_name_ending_in_x_keeps_it():
    lines = [
        "P<UTOFELIX<<ANNA<MARIA<<<KK<<<K<<<<<<<<<<KK<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ]
    reading = parse(lines, TODAY)
    assert reading.surname == "FELIX"
    assert reading.lines[0] == "P<UTOFELIX<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<<<<"
    assert reading.valid


def test_a_digit_in_a_country_code_is_read_as_the_letter_only_when_that_is_a_country():
    reading = parse(_replace(TD3, 1, 12, "0"), TODAY)  # UT0
    assert reading.nationality == "UTO"
    reading = parse(_replace(_replace(TD3, 1, 10, "8"), 1, 12, "0"), TODAY)  # 8T0: no such code
    assert reading.nationality == "8T0"


def test_lines_of_no_known_shape_are_not_an_mrz():
    assert parse(["P<UTOERIKSSON<<ANNA", "L898902C36"], TODAY) is None


# -- images rendered in OCR-B -----------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, effects",
    [
        (TD3, {}),
        (TD3, {"noise": 0.02, "blur": 1.0, "rotate": 2}),
        (TD1, {}),
        (TD1, {"noise": 0.03, "blur": 1.3, "rotate": -3}),
        (TD2, {"noise": 0.02, "blur": 1.0, "rotate": 2}),
        (VALID_TD3, {"noise": 0.01, "blur": 0.8, "rotate": -1.5}),
    ],
    ids=["td3-clean", "td3-noisy", "td1-clean", "td1-noisy-rotated", "td2-noisy", "hrv-passport"],
)
def test_a_rendered_document_is_read_with_its_check_digits_holding(lines, effects):
    image = render_document(lines, **effects)
    reading = read_mrz_image(image, TODAY)
    assert reading is not None
    assert reading.valid, (reading.failed_checks, reading.lines)
    expected = parse(lines, TODAY)
    for name in ("document_number", "birth_date", "expiry_date", "nationality", "sex"):
        assert getattr(reading, name) == getattr(expected, name)
    # Names carry no check digit: OCR may add a letter for a filler, and staff confirm them.
    assert reading.surname.startswith(expected.surname)


def test_an_image_without_an_mrz_gives_none():
    image = render_document(TD1)
    blank = image.crop((0, 0, image.width, image.height // 2))  # the top half: no MRZ
    assert read_mrz_image(blank, TODAY) is None


# -- the command line --------------------------------------------------------------------------


def _read_mrz(path, *extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALKO_")}
    return subprocess.run(
        [sys.executable, "-m", "alko_desk", "document", "read-mrz", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_cli_reads_a_pdf_first_page_as_json_and_exits_0(tmp_path):
    path = tmp_path / "scan.pdf"
    render_document(VALID_TD3).save(path, resolution=300)
    assert open_image(path).width > 1000
    done = _read_mrz(path, "--json")
    assert done.returncode == 0, done.stderr
    fields = json.loads(done.stdout)
    # Names carry no check digit: OCR may add a letter for a filler (staff confirm names).
    assert fields["surname"] == "HORVAT" and fields["given_names"].endswith("IVANA")
    assert fields["document_number"] == "123456789"
    assert fields["expiry_date"] == "2031-06-30" and fields["expired"] is False
    assert all(fields["check_digits"].values())


def test_cli_names_the_failing_check_digit_and_exits_3(tmp_path):
    path = tmp_path / "passport.png"
    render_document(_replace(TD3, 1, 27, "1")).save(path)  # expiry check digit 9 -> 1
    done = _read_mrz(path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert re.search(r"Check digit, expiry date: +FAILS", done.stdout)
    assert re.search(r"Check digit, birth date: +holds", done.stdout)
    assert "expiry date" in done.stderr and "composite" in done.stderr


def test_cli_without_an_mrz_exits_1_with_a_sentence(tmp_path):
    path = tmp_path / "photo.jpg"
    image = render_document(TD1)
    image.crop((0, 0, image.width, image.height // 2)).save(path)
    done = _read_mrz(path)
    assert done.returncode == 1
    assert "No machine-readable zone was found" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_stray_character_inserted_by_ocr_is_dropped_where_the_check_digits_say():
    from alko_desk.services.mrz import read_text

    text = ["I<KUTOD231458907<<<<<<<<<<<<<<<", TD1[1], TD1[2]]  # a speck read as K
    reading = read_text(text, TODAY)
    assert reading.valid and reading.document_number == "D23145890"
    assert reading.issuing_country == "UTO"
