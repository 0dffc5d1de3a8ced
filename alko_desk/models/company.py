"""The dealership's own details and organisation-wide settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CompanyProfile:
    name: str
    address: str
    vat_id: str
    bank_account: str
    currency: str = "EUR"
    vat_rate: Decimal = Decimal(25)
    phone_region: str = "HR"
    idle_lock_minutes: int = 5
