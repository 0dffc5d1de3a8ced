"""`alko-desk vin check`: exit codes and output as the README defines them; needs no login."""

from __future__ import annotations

import json
import subprocess
import sys


def vin_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alko_desk", "vin", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_valid_vin_exits_0_and_decodes():
    done = vin_check("JM1BL1SF3A1267720")
    assert done.returncode == 0, done.stderr
    assert "Mazda" in done.stdout
    assert done.stderr == ""


def test_european_vin_without_check_digit_exits_0_with_a_warning_line():
    done = vin_check("XTAGFK330JY144213")
    assert done.returncode == 0
    assert done.stderr.startswith("warning: ")


def test_refused_vin_exits_3_with_the_reason():
    done = vin_check("1M8GDM9A1KP042788")
    assert done.returncode == 3
    assert "should be X" in done.stderr
    bad_letter = vin_check("1M8GDM9AXKP04278O")
    assert bad_letter.returncode == 3
    assert "never contains O" in bad_letter.stderr


def test_json_prints_the_decoded_fields():
    done = vin_check("1FAHP3FN8AW139719", "--json")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["wmi"] == "1FA"
    assert data["manufacturer"] == "Ford"
    assert 2010 in data["model_years"]
    assert data["check_digit"] == "valid"
