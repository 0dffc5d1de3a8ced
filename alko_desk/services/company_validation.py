"""The company profile's rules: pure, so the setup wizard checks each page as the service does.

IBANs are checked with the ISO 13616 checksum and VAT IDs with their country's
format and check digits wherever python-stdnum knows them; a country it does not
know gets only the "not empty" rule rather than a guess.
"""

from __future__ import annotations

import phonenumbers
from stdnum import get_cc_module, iban
from stdnum.eu import vat as eu_vat

from alko_desk.models.company import CompanyProfile

# VAT prefixes that are not the ISO country code.
VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}


def phone_regions() -> list[str]:
    """The two-letter regions whose phone numbers can be read (for the country picker)."""
    return sorted(phonenumbers.SUPPORTED_REGIONS)


def compact(text: str) -> str:
    return "".join(text.split()).replace("-", "").replace(".", "").upper()


def iban_problem(text: str) -> str | None:
    if not text.strip():
        return "Enter the bank account (IBAN) for invoices."
    if not iban.is_valid(text):
        return (
            "This is not a valid IBAN: check the country letters and the digits "
            "(the two check digits do not match)."
        )
    return None


def vat_problem(text: str, region: str) -> str | None:
    """The VAT ID's problem: by its own country prefix, else by the company's phone region."""
    if not text.strip():
        return "Enter the VAT ID; invoices must show it."
    number = compact(text)
    prefix = number[:2]
    if prefix.isalpha():
        if prefix in eu_vat.MEMBER_STATES or prefix in ("EL", "XI"):
            valid = eu_vat.is_valid(number)
        else:
            module = _vat_module(VAT_PREFIX_COUNTRY.get(prefix, prefix))
            valid = module.is_valid(number[2:]) if module else True
        country = VAT_PREFIX_COUNTRY.get(prefix, prefix)
    else:
        country = region.upper()
        module = _vat_module(country)
        valid = module.is_valid(number) if module else True
    if not valid:
        return (
            f"This is not a valid VAT ID for {country}: check the digits and the country letters."
        )
    return None


def _vat_module(country: str):
    try:
        return get_cc_module(country.lower(), "vat") if country.isalpha() else None
    except Exception:  # noqa: BLE001 - a country stdnum does not know: no check rather than a guess
        return None


def validate_profile(profile: CompanyProfile) -> dict[str, str]:
    errors = {}
    if not profile.name.strip():
        errors["name"] = "Enter the company's name."
    if not profile.address.strip():
        errors["address"] = "Enter the company's address; it is printed on invoices."
    problem = vat_problem(profile.vat_id, profile.phone_region)
    if problem:
        errors["vat_id"] = problem
    problem = iban_problem(profile.bank_account)
    if problem:
        errors["bank_account"] = problem
    if len(profile.currency) != 3 or not profile.currency.isalpha():
        errors["currency"] = "Use a three-letter ISO currency code, such as EUR."
    if not (0 <= profile.vat_rate <= 100):
        errors["vat_rate"] = "The VAT rate is a percentage between 0 and 100."
    if profile.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        errors["phone_region"] = "Choose the country whose phone numbers are written without +."
    if not (1 <= profile.idle_lock_minutes <= 240):
        errors["idle_lock_minutes"] = "Between 1 and 240 minutes."
    return errors
