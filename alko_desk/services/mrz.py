"""Parsing and checking a machine-readable zone (ICAO 9303), and repairing OCR confusions.

The check digits are computed with the `mrz` library; the field layout of each format
(TD1 cards, TD2 cards, TD3 passports, MRV-A and MRV-B visas) is described once below.

OCR confuses 0/O, 1/I, 8/B, 5/S, 2/Z and reads the filler `<` as K or X. A confusion is
repaired only where a check digit confirms it: the repaired field's own check digit must
hold, exactly one repair with the fewest changes must do so (two equally good repairs are
ambiguous and none is made), and the composite check digit, where the format has one,
must hold as well. Names carry no check digit and are never changed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date

from mrz.base.functions import hash_string

from alko_desk.models.documents import CheckDigit, MrzReading

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"

# What OCR reads instead of each character (both directions where it goes both ways).
CONFUSIONS: dict[str, str] = {
    "0": "OQD",
    "O": "0Q",
    "Q": "0O",
    "D": "0",
    "1": "I",
    "I": "1",
    "8": "B",
    "B": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6",
    "K": "<",
    "X": "<",
}
DIGITS = "0123456789"
MAX_CHANGES = 4  # a field with more confusions than this is not guessed at
MAX_CANDIDATES = 20_000  # and neither is one whose repairs would take too long to try


@dataclass(frozen=True)
class Span:
    line: int
    start: int
    end: int  # exclusive

    def read(self, lines: list[str]) -> str:
        return lines[self.line][self.start : self.end]

    def positions(self) -> list[tuple[int, int]]:
        return [(self.line, i) for i in range(self.start, self.end)]


@dataclass(frozen=True)
class Check:
    """A check digit at `digit` over the concatenated `spans`; `numeric` when the data are digits."""

    name: str
    spans: tuple[Span, ...]
    digit: tuple[int, int]
    numeric: bool = False
    may_be_empty: bool = False  # an empty optional field may carry `<` as its check digit


@dataclass(frozen=True)
class Layout:
    name: str
    lines: int
    length: int
    type_: Span
    country: Span
    names: Span
    number: Span
    nationality: Span
    birth: Span
    sex: tuple[int, int]
    expiry: Span
    optional: tuple[Span, ...]
    checks: tuple[Check, ...]


def _two_line(name: str, length: int, *, composite: bool, optional_check: bool) -> Layout:
    """TD2, TD3, MRV-A and MRV-B share one layout of the second line."""
    opt_end = length - 2 if optional_check else (length - 1 if composite else length)
    optional = Span(1, 28, opt_end)
    checks = [
        Check("document number", (Span(1, 0, 9),), (1, 9)),
        Check("birth date", (Span(1, 13, 19),), (1, 19), numeric=True),
        Check("expiry date", (Span(1, 21, 27),), (1, 27), numeric=True),
    ]
    if optional_check:
        checks.append(Check("optional data", (optional,), (1, length - 2), may_be_empty=True))
    if composite:
        checks.append(
            Check(
                "composite",
                (Span(1, 0, 10), Span(1, 13, 20), Span(1, 21, length - 1)),
                (1, length - 1),
            )
        )
    return Layout(
        name=name,
        lines=2,
        length=length,
        type_=Span(0, 0, 2),
        country=Span(0, 2, 5),
        names=Span(0, 5, length),
        number=Span(1, 0, 9),
        nationality=Span(1, 10, 13),
        birth=Span(1, 13, 19),
        sex=(1, 20),
        expiry=Span(1, 21, 27),
        optional=(optional,),
        checks=tuple(checks),
    )


TD1 = Layout(
    name="TD1",
    lines=3,
    length=30,
    type_=Span(0, 0, 2),
    country=Span(0, 2, 5),
    names=Span(2, 0, 30),
    number=Span(0, 5, 14),
    nationality=Span(1, 15, 18),
    birth=Span(1, 0, 6),
    sex=(1, 7),
    expiry=Span(1, 8, 14),
    optional=(Span(0, 15, 30), Span(1, 18, 29)),
    checks=(
        Check("document number", (Span(0, 5, 14),), (0, 14)),
        Check("birth date", (Span(1, 0, 6),), (1, 6), numeric=True),
        Check("expiry date", (Span(1, 8, 14),), (1, 14), numeric=True),
        Check(
            "composite",
            (Span(0, 5, 30), Span(1, 0, 7), Span(1, 8, 15), Span(1, 18, 29)),
            (1, 29),
        ),
    ),
)
TD2 = _two_line("TD2", 36, composite=True, optional_check=False)
TD3 = _two_line("TD3", 44, composite=True, optional_check=True)
MRVA = _two_line("MRVA", 44, composite=False, optional_check=False)
MRVB = _two_line("MRVB", 36, composite=False, optional_check=False)


def layout_for(lines: list[str]) -> Layout | None:
    shape = (len(lines), len(lines[0]) if lines else 0)
    visa = bool(lines) and lines[0][:1] == "V"
    if shape == (3, 30):
        return TD1
    if shape == (2, 36):
        return MRVB if visa else TD2
    if shape == (2, 44):
        return MRVA if visa else TD3
    return None


# -- check digits ----------------------------------------------------------------------------


def check_digit(data: str) -> str:
    return hash_string(data)


def _check_holds(check: Check, lines: list[str]) -> bool:
    data = "".join(s.read(lines) for s in check.spans)
    digit = lines[check.digit[0]][check.digit[1]]
    if check.may_be_empty and digit == "<" and set(data) <= {"<"}:
        return True
    return digit in DIGITS and check_digit(data) == digit


def _plausible(check: Check, lines: list[str]) -> bool:
    """Dates must be dates; a repair that makes 991340 is no repair."""
    if not check.numeric:
        return True
    return _yymmdd(check.spans[0].read(lines)) is not None


def _yymmdd(text: str) -> tuple[int, int, int] | None:
    if not re.fullmatch(r"\d{6}", text):
        return None
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:])
    try:
        date(2000 + yy, mm, dd)
    except ValueError:
        return None
    return yy, mm, dd


# -- repair ----------------------------------------------------------------------------------


def _alternatives(ch: str, digits_only: bool) -> list[str]:
    options = [c for c in CONFUSIONS.get(ch, "") if not digits_only or c in DIGITS]
    return options


Changes = dict[tuple[int, int], str]


def _apply(lines: list[str], changes: Changes) -> list[str]:
    out = list(lines)
    for (line, col), ch in changes.items():
        out[line] = out[line][:col] + ch + out[line][col + 1 :]
    return out


def _holds(check: Check, lines: list[str]) -> bool:
    return _check_holds(check, lines) and _plausible(check, lines)


def _forced_digits(check: Check, lines: list[str]) -> Changes:
    """Letters in a date or a check digit, as the one digit each is mistaken for."""
    positions = [*check.spans[0].positions(), check.digit] if check.numeric else [check.digit]
    changes: Changes = {}
    for line, col in positions:
        ch = lines[line][col]
        if ch in DIGITS or (check.may_be_empty and ch == "<"):
            continue
        digits = _alternatives(ch, True)
        if len(digits) == 1:
            changes[(line, col)] = digits[0]
    return changes


def _candidates(check: Check, lines: list[str], frozen: set[tuple[int, int]]) -> list[Changes]:
    """Every set of fewest confusions that makes this check hold (several: ambiguous)."""
    forced = _forced_digits(check, lines)
    if forced and _holds(check, _apply(lines, forced)):
        return [forced]
    positions = [p for s in check.spans for p in s.positions() if p not in frozen]
    positions.append(check.digit)
    options = []
    for line, col in positions:
        digits_only = check.numeric or (line, col) == check.digit
        alts = _alternatives(lines[line][col], digits_only)
        if alts:
            options.append(((line, col), alts))
    tried = 0
    for count in range(1, MAX_CHANGES + 1):
        found: list[Changes] = []
        for chosen in itertools.combinations(options, count):
            for picks in itertools.product(*(alts for _, alts in chosen)):
                tried += 1
                if tried > MAX_CANDIDATES:
                    return found
                changes = {pos: ch for (pos, _), ch in zip(chosen, picks, strict=True)}
                if _holds(check, _apply(lines, changes)):
                    found.append(changes)
        if found:
            return found
    return []


def _field_of(layout: Layout, pos: tuple[int, int]) -> str:
    for check in layout.checks:
        if check.name != "composite" and (
            pos == check.digit or any(pos in s.positions() for s in check.spans)
        ):
            return check.name
    return "composite" if any(c.digit == pos for c in layout.checks) else "optional data"


LETTERS_FOR_DIGITS = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}


def _letter_fields(layout: Layout) -> list[tuple[str, Span]]:
    return [
        ("document type", layout.type_),
        ("issuing country", layout.country),
        ("names", layout.names),
        ("nationality", layout.nationality),
    ]


def repair_format(layout: Layout, lines: list[str]) -> tuple[list[str], list[str]]:
    """Repairs that the format itself confirms, where no check digit can.

    - The filler `<` read as K or X: a K or X right after a filler and followed by a filler
      (or the end of the line) is a filler too. K counts as 0 like the filler in every check
      digit, so no check digit can tell them apart; an X changes them, and is taken as a
      filler only where the check digits still hold.
    - A digit in a field of letters only (country codes, names): the letter it is mistaken
      for, in a country code only when that makes a known code.
    """
    from mrz.base.countries_ops import is_code

    current = list(lines)
    described: list[str] = []
    fillers: list[str] = []
    digits_at = {c.digit for c in layout.checks}
    for row in range(len(current)):
        for col in range(1, len(current[row])):
            line = current[row]
            if line[col] not in "KX" or line[col - 1] != "<":
                continue
            following = line[col + 1 : col + 2]
            if following not in ("", "<", "K", "X") or (row, col) in digits_at:
                continue
            candidate = _apply(current, {(row, col): "<"})
            if line[col] == "X" and not all(
                _holds(c, candidate) for c in layout.checks if _holds(c, current)
            ):
                continue
            fillers.append(f"{row + 1}:{col + 1}")
            current = candidate
    if fillers:
        described.append(
            f"filler '<' had been read as K or X at line:position {', '.join(fillers)}"
        )
    for name, span in _letter_fields(layout):
        text = span.read(current)
        fixed = "".join(LETTERS_FOR_DIGITS.get(ch, ch) for ch in text)
        if fixed == text:
            continue
        if name in ("issuing country", "nationality") and not is_code(fixed.replace("<", "")):
            continue
        changes = {
            (span.line, span.start + i): b
            for i, (a, b) in enumerate(zip(text, fixed, strict=True))
            if a != b
        }
        described += [
            f"{name}: '{ch}' had been read as '{current[r][c]}' (line {r + 1}, position {c + 1})"
            for (r, c), ch in sorted(changes.items())
        ]
        current = _apply(current, changes)
    return current, described


def repair(layout: Layout, lines: list[str]) -> tuple[list[str], list[str]]:
    """The lines with confirmed repairs applied, and a description of each repair.

    A failing field is repaired when exactly one set of fewest confusions makes its check
    digit hold and, where the format has a composite check digit, the composite holds too
    with every repaired field together. Otherwise the lines stay as read.
    """
    individual = [c for c in layout.checks if c.name != "composite"]
    composite = next((c for c in layout.checks if c.name == "composite"), None)
    failing = [c for c in individual if not _holds(c, lines)]
    per_check = [_candidates(c, lines, set()) for c in failing]
    changes: Changes = {}
    if composite is None:
        for options in per_check:
            if len(options) == 1:
                changes.update(options[0])
    elif failing:
        forced = _forced_digits(composite, lines)  # the composite digit itself misread
        merged = [
            {k: v for part in (forced, *combo) for k, v in part.items()}
            for combo in itertools.product(*per_check)
        ]
        agreeing = [
            m
            for m in merged
            if _check_holds(composite, _apply(lines, m))
            and all(_holds(c, _apply(lines, m)) for c in individual)
        ]
        if len(agreeing) == 1:
            changes = agreeing[0]
    elif not _check_holds(composite, lines):
        # Only what no other check digit protects (optional data of cards) is tried here.
        covered = {p for c in individual for s in c.spans for p in s.positions()}
        covered |= {c.digit for c in individual}
        options = _candidates(composite, lines, covered)
        if len(options) == 1:
            changes = options[0]
    described = [
        f"{_field_of(layout, (line, col))}: '{ch}' had been read as '{lines[line][col]}' "
        f"(line {line + 1}, position {col + 1})"
        for (line, col), ch in sorted(changes.items())
    ]
    return _apply(lines, changes), described


# -- parsing ---------------------------------------------------------------------------------


def _birth_date(text: str, today: date) -> date | None:
    parts = _yymmdd(text)
    if parts is None:
        return None
    yy, mm, dd = parts
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    return _safe_date(year, mm, dd)


def _expiry_date(text: str, today: date) -> date | None:
    parts = _yymmdd(text)
    if parts is None:
        return None
    yy, mm, dd = parts
    year = 2000 + yy if 2000 + yy <= today.year + 50 else 1900 + yy
    return _safe_date(year, mm, dd)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _names(text: str) -> tuple[str, str]:
    text = text.rstrip("<")
    surname, _, given = text.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _document_number(layout: Layout, lines: list[str]) -> str:
    number = layout.number.read(lines)
    # TD1: a number longer than nine characters continues in the optional data, and the
    # check digit position holds `<` (ICAO 9303 part 5, 4.2.2 note j).
    if layout is TD1 and lines[0][14] == "<" and lines[0][15] != "<":
        number += lines[0][15:30].split("<", 1)[0][:-1]
    return number.replace("<", "")


def parse(lines: list[str], today: date) -> MrzReading | None:
    """Parses MRZ lines of the right shape (None when they fit no format), repairing what it may."""
    lines = [line.strip().upper() for line in lines]
    layout = layout_for(lines)
    if layout is None or any(len(line) != layout.length for line in lines):
        return None
    if any(ch not in ALPHABET for line in lines for ch in line):
        return None
    formatted, format_repairs = repair_format(layout, lines)
    fixed, digit_repairs = repair(layout, formatted)
    repairs = format_repairs + digit_repairs
    checks = tuple(
        CheckDigit(c.name, _check_holds(c, fixed) and _plausible(c, fixed)) for c in layout.checks
    )
    surname, given = _names(layout.names.read(fixed))
    expiry = _expiry_date(layout.expiry.read(fixed), today)
    sex = fixed[layout.sex[0]][layout.sex[1]]
    return MrzReading(
        format=layout.name,
        lines=tuple(fixed),
        document_type=layout.type_.read(fixed).rstrip("<"),
        issuing_country=layout.country.read(fixed).replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=_document_number(layout, fixed),
        nationality=layout.nationality.read(fixed).replace("<", ""),
        birth_date=_birth_date(layout.birth.read(fixed), today),
        sex=sex if sex in "MF" else "X",
        expiry_date=expiry,
        optional_data=" ".join(
            part for part in (s.read(fixed).strip("<") for s in layout.optional) if part
        ),
        checks=checks,
        repairs=tuple(repairs),
        expired=expiry is not None and expiry < today,
    )


def validate_with_library(reading: MrzReading) -> bool:
    """The `mrz` library's own verdict on the lines (check digits and field formats)."""
    from mrz.checker.mrva import MRVACodeChecker
    from mrz.checker.mrvb import MRVBCodeChecker
    from mrz.checker.td1 import TD1CodeChecker
    from mrz.checker.td2 import TD2CodeChecker
    from mrz.checker.td3 import TD3CodeChecker

    checker = {
        "TD1": TD1CodeChecker,
        "TD2": TD2CodeChecker,
        "TD3": TD3CodeChecker,
        "MRVA": MRVACodeChecker,
        "MRVB": MRVBCodeChecker,
    }[reading.format]
    return bool(checker("\n".join(reading.lines)))


# -- finding the lines in OCR text -----------------------------------------------------------

_SHAPES = ((3, 30), (2, 44), (2, 36))


def clean_line(text: str) -> str:
    text = text.upper().replace(" ", "").replace("«", "<<").replace("‹", "<")
    return "".join(ch for ch in text if ch in ALPHABET)


def fit_length(line: str, length: int) -> str:
    """OCR loses or adds fillers in long `<` runs: the longest run absorbs the difference."""
    diff = length - len(line)
    if diff == 0:
        return line
    runs = [(m.end() - m.start(), m.start()) for m in re.finditer(r"<+", line)]
    if runs:
        run_len, start = max(runs)
        if diff > 0 or run_len + diff >= 1:
            new_len = max(run_len + diff, 1)
            return line[:start] + "<" * new_len + line[start + run_len :]
    return (line + "<" * diff)[:length]


def _passing(layout: Layout, lines: list[str]) -> int:
    return sum(_check_holds(c, lines) for c in layout.checks)


def _realign(raw: list[str], fitted: list[str], length: int) -> list[str]:
    """A line one character too long may hold a stray character (a speck read as a letter)
    rather than an extra filler: the deletion that makes the most check digits hold wins,
    and only when it makes more of them hold than trimming the fillers does."""
    layout = layout_for(fitted)
    if layout is None:
        return fitted
    best = list(fitted)
    for row, line in enumerate(raw):
        if len(line) != length + 1:
            continue
        score = _passing(layout, best)
        for i in range(len(line)):
            candidate = list(best)
            candidate[row] = line[:i] + line[i + 1 :]
            if layout_for(candidate) is layout and _passing(layout, candidate) > score:
                best, score = candidate, _passing(layout, candidate)
    return best


def find_mrz_lines(text_lines: list[str]) -> list[list[str]]:
    """Candidate groups of MRZ lines in OCR output, the most likely first."""
    cleaned = [clean_line(t) for t in text_lines]
    cleaned = [c for c in cleaned if len(c) >= 20]
    groups: list[tuple[int, list[str]]] = []
    for count, length in _SHAPES:
        for i in range(len(cleaned) - count + 1):
            window = cleaned[i : i + count]
            if not all(abs(len(w) - length) <= 4 for w in window):
                continue
            fitted = _realign(window, [fit_length(w, length) for w in window], length)
            off = sum(abs(len(w) - length) for w in window)
            fillers = sum(w.count("<") for w in window)
            groups.append((off * 10 - fillers, fitted))
    groups.sort(key=lambda g: g[0])
    return [g[1] for g in groups]


def read_text(text_lines: list[str], today: date) -> MrzReading | None:
    """The best MRZ in OCR output: a fully valid reading first, else the one with most checks."""
    best: MrzReading | None = None
    for lines in find_mrz_lines(text_lines):
        reading = parse(lines, today)
        if reading is None:
            continue
        if reading.valid:
            return reading
        if best is None or len(reading.failed_checks) < len(best.failed_checks):
            best = reading
    return best
