"""A deal's business buyer: the checks the deal builder runs as the user types and the deal
service runs on save, and when a sale to one is an intra-community supply.

VAT IDs are checked with python-stdnum's EU module (country prefix, format and check
digits); only EU VAT IDs are taken, since the business buyer exists for the EU rules
(the customer's VAT ID on the invoice, Art. 226 (4); the intra-community exemption,
Art. 138 of Directive 2006/112/EC). Whether the number is registered (VIES) is not asked:
that needs the network, and the dealer keeps the VIES confirmation with the deal's papers.
"""

from __future__ import annotations

from stdnum.eu import vat as eu_vat

from alko_desk.models.company import CompanyProfile
from alko_desk.models.deals import BusinessBuyer

# The EU VAT prefixes: member states, EL for Greece, XI for Northern Ireland (goods only).
EU_VAT_PREFIXES = frozenset(p.upper() for p in eu_vat.MEMBER_STATES) | {"EL"}
# The prefix as a country (Greek VAT IDs start with EL; the country code is GR).
_PREFIX_COUNTRY = {"EL": "GR"}


def compact_vat_id(text: str) -> str:
    return "".join(text.split()).replace("-", "").replace(".", "").upper()


def buyer_vat_problem(text: str) -> str | None:
    """What is wrong with a business buyer's VAT ID, in words for the user; None if nothing."""
    number = compact_vat_id(text)
    if not number:
        return "Enter the company's VAT ID, with its country letters (e.g. DE136695976)."
    prefix = number[:2]
    if not prefix.isalpha():
        return "Start the VAT ID with its country letters, e.g. DE136695976 or HR33392005961."
    if prefix not in EU_VAT_PREFIXES:
        return f"{prefix} is not an EU VAT ID prefix: a business buyer needs an EU VAT ID."
    if not eu_vat.is_valid(number):
        return f"This is not a valid {prefix} VAT ID: check the digits (the check digit fails)."
    return None


def business_buyer_problems(buyer: BusinessBuyer) -> dict[str, str]:
    """The business buyer's problems by field (`business_buyer.company`, `.vat_id`)."""
    errors = {}
    if not buyer.company.strip():
        errors["business_buyer.company"] = "Enter the business buyer's company name."
    problem = buyer_vat_problem(buyer.vat_id)
    if problem:
        errors["business_buyer.vat_id"] = problem
    return errors


def vat_country(vat_id: str) -> str:
    prefix = compact_vat_id(vat_id)[:2]
    return _PREFIX_COUNTRY.get(prefix, prefix)


def is_intra_community(buyer: BusinessBuyer | None, seller_country: str) -> bool:
    """A supply to a business registered for VAT in another EU member state than the seller's."""
    if buyer is None or not seller_country:
        return False
    eu = {_PREFIX_COUNTRY.get(p, p) for p in EU_VAT_PREFIXES}
    buyer_country = vat_country(buyer.vat_id)
    seller = seller_country.upper()
    return buyer_country in eu and seller in eu and buyer_country != seller


def company_country(profile: CompanyProfile | None) -> str:
    """The dealer's country (ISO code): its VAT ID's prefix, else its phone region (as the
    invoice's supplier address has it, services/invoicing.supplier_from_profile)."""
    if profile is None:
        return ""
    prefix = profile.vat_id.strip()[:2].upper()
    country = prefix if prefix.isalpha() else profile.phone_region.upper()
    return _PREFIX_COUNTRY.get(country, country)
