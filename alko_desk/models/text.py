"""Folding names for search: case- and accent-insensitive ("zelj" finds "Željko")."""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode does not decompose into a base letter and a mark.
_SPECIAL = str.maketrans(
    {
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "ø": "o",
        "Ø": "o",
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ı": "i",
        "þ": "th",
        "ð": "d",
        "ħ": "h",
    }
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case, accents stripped, punctuation turned into single spaces."""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NON_WORD.sub(" ", text.casefold().translate(_SPECIAL)).replace("_", " ")
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return fold(text).split()


# -- collation ---------------------------------------------------------------------------
# Names sort by the rules people expect for their script (ICU, the CLDR collation):
# Ukrainian Є, І, Ї, Ґ in their places in the alphabet, not after Я; and, in a Croatian
# desk, Č and Ć after C, Đ after D, Ž after Z. Sort keys are hex text, so that an index
# that compares plain strings (the app-kept list index, MongoDB) keeps that order.
DEFAULT_COLLATION = "hr"  # the showroom's language; every desk of one database must agree
_collators: dict[str, object] = {}


def _collator(locale: str):
    collator = _collators.get(locale)
    if collator is None:
        import icu  # PyICU; imported on first use so that starting the app stays fast

        collator = icu.Collator.createInstance(icu.Locale(locale))
        _collators[locale] = collator
    return collator


def sort_key(*parts: str, locale: str = DEFAULT_COLLATION) -> str:
    """A key whose plain string order is the collation order of `parts`, compared in turn.

    sort_key(last, first) orders by last name, then first name. Case and accents weigh
    less than letters, as in a phone book.
    """
    collator = _collator(locale)
    return " ".join(collator.getSortKey(p).rstrip(b"\x00").hex() for p in parts)
