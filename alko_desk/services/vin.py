"""Vehicle Identification Numbers: ISO 3779 syntax, the check digit, WMI and model year.

- 17 characters from the ISO 3779 alphabet: digits and capital letters except I, O and Q.
- Position 9 is a check digit (49 CFR 565.15) in North America (WMI region 1-5) and China
  (L); a wrong one there is refused. Elsewhere (Europe's W, V, S, X, Z, T, Y ... and Japan,
  Korea) manufacturers need not use it: a VIN that fails the computation is accepted with a
  warning, since many European VINs carry a plain letter or digit there.
- The manufacturer comes from the WMI (positions 1-3) through `vininfo`, a maintained
  library with the SAE WMI table; the region/country too.
- Position 10 gives the model year in a 30-year cycle (A=1980/2010, ..., 9=2009/2039):
  both candidates are returned, newest first, and those later than next year are dropped.
  North America and China must use it; elsewhere it is optional, and the report says so.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

VIN_LENGTH = 17
ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980 + index, repeating every 30 years
# Regions whose law makes position 9 a check digit: North America (1-5) and China (L).
CHECK_DIGIT_REQUIRED = frozenset("12345L")


class CheckDigit(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"  # refused: the region requires it
    NOT_USED = "not_used"  # accepted with a warning: the region does not require it


class VinVerdict(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    REFUSED = "refused"


@dataclass(frozen=True)
class VinReport:
    vin: str  # as normalised (upper case, spaces and dashes removed)
    verdict: VinVerdict
    reason: str = ""  # why refused, or the warning
    wmi: str = ""
    manufacturer: str = ""
    region: str = ""
    country: str = ""
    model_years: tuple[int, ...] = ()
    check_digit: CheckDigit | None = None
    expected_check_digit: str = ""
    # Position 10 is the model year by law in North America and China; elsewhere (ISO 3779)
    # it is optional, so the candidates are what the code would mean if the maker used it.
    model_year_by_law: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict is not VinVerdict.REFUSED

    def as_dict(self) -> dict:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["check_digit"] = self.check_digit.value if self.check_digit else None
        data["model_years"] = list(self.model_years)
        return data


def normalise(text: str) -> str:
    return "".join(ch for ch in text.strip().upper() if ch not in " -")


def check_digit_of(vin: str) -> str:
    """The check digit that position 9 should hold (`X` stands for 10)."""
    total = sum(_VALUES[ch] * w for ch, w in zip(vin, _WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def with_check_digit(vin17: str) -> str:
    """The same VIN with position 9 set to its computed check digit (demo data, tests)."""
    vin17 = normalise(vin17)
    return vin17[:8] + check_digit_of(vin17[:8] + "0" + vin17[9:]) + vin17[9:]


def model_year_candidates(code: str, latest: int) -> tuple[int, ...]:
    """Years that position 10 may stand for, newest first, not after `latest`."""
    if code not in _YEAR_CODES:
        return ()
    first = 1980 + _YEAR_CODES.index(code)
    years = list(range(first, latest + 1, 30))
    return tuple(sorted(years, reverse=True))


def _wmi_info(vin: str) -> tuple[str, str, str]:
    """(manufacturer, region, country) from vininfo; empty strings where it knows none."""
    try:
        from vininfo import Vin as _LibVin

        info = _LibVin(vin)
        manufacturer = info.manufacturer or ""
        if manufacturer == "UnsupportedBrand":
            manufacturer = ""
        return manufacturer, info.region or "", info.country or ""
    except Exception:  # noqa: BLE001 - an unknown WMI is not an error of ours: leave it blank
        return "", "", ""


def check_vin(text: str, *, current_year: int | None = None) -> VinReport:
    """Validates and decodes a VIN. Never raises: the report says refused and why."""
    from datetime import date

    vin = normalise(text)
    if not vin:
        return VinReport(vin, VinVerdict.REFUSED, "The VIN is empty.")
    if len(vin) != VIN_LENGTH:
        return VinReport(
            vin, VinVerdict.REFUSED, f"A VIN has 17 characters; this one has {len(vin)}."
        )
    forbidden = sorted({ch for ch in vin if ch in "IOQ"})
    if forbidden:
        return VinReport(
            vin,
            VinVerdict.REFUSED,
            f"A VIN never contains {', '.join(forbidden)} (ISO 3779 leaves out I, O and Q, "
            "which look like 1 and 0).",
        )
    bad = sorted({ch for ch in vin if ch not in ALPHABET})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        return VinReport(
            vin, VinVerdict.REFUSED, f"A VIN has only digits and capital letters, not {shown}."
        )
    latest = (current_year or date.today().year) + 1
    manufacturer, region, country = _wmi_info(vin)
    common = {
        "wmi": vin[:3],
        "manufacturer": manufacturer,
        "region": region,
        "country": country,
        "model_years": model_year_candidates(vin[9], latest),
        "expected_check_digit": check_digit_of(vin),
        "model_year_by_law": vin[0] in CHECK_DIGIT_REQUIRED,
    }
    if vin[8] == common["expected_check_digit"]:
        return VinReport(vin, VinVerdict.OK, check_digit=CheckDigit.VALID, **common)
    if vin[0] in CHECK_DIGIT_REQUIRED:
        return VinReport(
            vin,
            VinVerdict.REFUSED,
            f"The check digit (9th character) is {vin[8]} but should be "
            f"{common['expected_check_digit']}: the VIN is mistyped. Vehicles made for North "
            "America and China always carry a valid check digit.",
            check_digit=CheckDigit.INVALID,
            **common,
        )
    return VinReport(
        vin,
        VinVerdict.WARNING,
        f"The 9th character is not a check digit (it would be {common['expected_check_digit']}). "
        "Many European and Asian makers do not use one, so the VIN is accepted; "
        "compare it with the vehicle's documents.",
        check_digit=CheckDigit.NOT_USED,
        **common,
    )
