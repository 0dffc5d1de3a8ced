"""The organisation document: company profile, key check, policy version."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from pymongo.errors import DuplicateKeyError

from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import ValidationError
from alko_desk.storage.mongo import Store, repository

ORG_DOC_ID = "organisation"
TIERS_DOC_ID = "tiers"  # the tier keys' checks, inserted once (never updated)


def profile_to_doc(profile: CompanyProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "address": profile.address,
        "vat_id": profile.vat_id,
        "bank_account": profile.bank_account,
        "currency": profile.currency,
        "vat_rate": str(profile.vat_rate),  # Decimal kept exact as text
        "phone_region": profile.phone_region,
        "idle_lock_minutes": profile.idle_lock_minutes,
    }


def profile_from_doc(doc: dict[str, Any]) -> CompanyProfile:
    return CompanyProfile(
        name=doc["name"],
        address=doc.get("address", ""),
        vat_id=doc.get("vat_id", ""),
        bank_account=doc.get("bank_account", ""),
        currency=doc.get("currency", "EUR"),
        vat_rate=Decimal(doc.get("vat_rate", "25")),
        phone_region=doc.get("phone_region", "HR"),
        idle_lock_minutes=int(doc.get("idle_lock_minutes", 5)),
    )


@repository
class OrganisationRepository:
    def __init__(self, store: Store) -> None:
        self._meta = store.collection("meta")

    def get(self) -> dict | None:
        return self._meta.find_one({"_id": ORG_DOC_ID})

    def create(self, doc: dict[str, Any]) -> None:
        try:
            self._meta.insert_one({"_id": ORG_DOC_ID, **doc})
        except DuplicateKeyError:
            raise ValidationError("ALKO Desk has already been set up on this database.") from None

    def update_profile(self, profile: CompanyProfile) -> None:
        self._meta.update_one({"_id": ORG_DOC_ID}, {"$set": {"profile": profile_to_doc(profile)}})

    def tier_checks(self) -> dict[str, bytes]:
        """The checks of the tier keys (services/keyring.py); {} before the first login that
        creates them.

        They sit in a document of their own, written once by a unique insert: an update of
        the organisation document is a read-modify-write on FerretDB 1.24 (two desks can both
        match a `$exists: false` filter, and a profile save at the same moment can drop a
        field written meanwhile), an insert of one `_id` is not. A database from before keeps
        them in the organisation document; they are copied here at the first read (again
        harmless: the copy is an insert of the same checks)."""
        doc = self._meta.find_one({"_id": TIERS_DOC_ID})
        if doc is None:
            legacy = (self.get() or {}).get("tiers")
            if not legacy:
                return {}
            self._insert_tiers(legacy)
            doc = self._meta.find_one({"_id": TIERS_DOC_ID}) or {}
        return {tier: bytes(check) for tier, check in (doc.get("checks") or {}).items()}

    def claim_tiers(self, checks: dict[str, bytes]) -> bool:
        """Records the tier keys' checks unless some are recorded already. Of two first
        logins at once exactly one gets True; only it may use (and grant) its keys."""
        if self.tier_checks():
            return False
        return self._insert_tiers(checks)

    def _insert_tiers(self, checks: dict[str, bytes]) -> bool:
        try:
            self._meta.insert_one({"_id": TIERS_DOC_ID, "checks": dict(checks)})
        except DuplicateKeyError:
            return False
        return True

    def set_key_check(self, key_check: bytes) -> None:
        self._meta.update_one({"_id": ORG_DOC_ID}, {"$set": {"key_check": key_check}})

    def profile(self) -> CompanyProfile | None:
        doc = self.get()
        return profile_from_doc(doc["profile"]) if doc else None

    def login_name_key(self) -> bytes:
        """The key of the hashes that stand for mistyped usernames; made once, on first use.

        Written only if absent, so two desks asking at once keep the same key.
        """
        doc = self._meta.find_one({"_id": ORG_DOC_ID}, {"login_name_key": 1}) or {}
        key = doc.get("login_name_key")
        if key is None:
            self._meta.update_one(
                {"_id": ORG_DOC_ID, "login_name_key": {"$exists": False}},
                {"$set": {"login_name_key": os.urandom(32)}},
            )
            doc = self._meta.find_one({"_id": ORG_DOC_ID}, {"login_name_key": 1}) or {}
            key = doc.get("login_name_key")
        if key is None:
            raise ValidationError("ALKO Desk has not been set up on this database yet.")
        return bytes(key)
