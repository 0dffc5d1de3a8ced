"""The EPC QR code payload (EPC069-12, "SEPA credit transfer" QR, version 002)."""

from __future__ import annotations

from decimal import Decimal

from alko_desk.models.money import Money

MAX_AMOUNT = Decimal("999999999.99")


def epc_payload(
    *, name: str, iban: str, amount: Money, reference: str, bic: str = ""
) -> str | None:
    """The text to encode, or None when the standard does not allow one (not EUR, no amount)."""
    if amount.currency != "EUR" or not (Decimal("0.01") <= amount.amount <= MAX_AMOUNT):
        return None
    iban = iban.replace(" ", "").upper()
    if not iban:
        return None
    lines = [
        "BCD",  # service tag
        "002",  # version
        "1",  # character set: UTF-8
        "SCT",  # SEPA credit transfer
        bic.replace(" ", "").upper(),  # optional in version 002 within the EEA
        name[:70],
        iban,
        f"EUR{amount.rounded().amount:.2f}",
        "",  # purpose code
        "",  # structured creditor reference (none: we use the unstructured text)
        reference[:140],  # unstructured remittance information: the invoice number
    ]
    return "\n".join(lines)
