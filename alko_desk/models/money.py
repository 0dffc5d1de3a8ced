"""Money: a Decimal amount in an ISO 4217 currency, rounded as that currency is.

Amounts never pass through float. Arithmetic keeps full precision until `rounded()`
(or a constructor with `round=True`) applies the currency's minor unit with
ROUND_HALF_UP, the rounding that invoices and VAT returns use in the EU.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor units per ISO 4217 for the currencies a European dealer meets; 2 otherwise.
_MINOR_UNITS = {"JPY": 0, "HUF": 2, "ISK": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """A Decimal from a Decimal, an int or a string; floats are refused (they are not exact)."""
    if isinstance(value, bool | float):
        raise TypeError("money amounts are Decimal, int or str, never float")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = "EUR"

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str = "EUR") -> Money:
        """Rounded to the currency's minor unit."""
        return cls(to_decimal(amount), currency).rounded()

    @classmethod
    def zero(cls, currency: str = "EUR") -> Money:
        return cls(Decimal(0), currency).rounded()

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-minor_units(self.currency))

    def rounded(self) -> Money:
        return Money(self.amount.quantize(self.quantum, rounding=ROUND_HALF_UP), self.currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def allocate(self, weights: list[Decimal | int]) -> list[Money]:
        """Splits the rounded amount by weights so that the parts add up exactly (largest remainder)."""
        total = self.rounded()
        weights = [to_decimal(w) for w in weights]
        whole = sum(weights)
        if not weights or whole <= 0:
            raise ValueError("weights must be positive")
        q = total.quantum
        shares = [(total.amount * w / whole) for w in weights]
        parts = [s.quantize(q, rounding="ROUND_FLOOR") for s in shares]
        left = int((total.amount - sum(parts)) / q)
        order = sorted(range(len(shares)), key=lambda i: shares[i] - parts[i], reverse=True)
        for i in order[:left]:
            parts[i] += q
        return [Money(p, self.currency) for p in parts]

    def to_storage(self) -> dict[str, str]:
        """As stored in a document: the amount as a string keeps every digit on any database."""
        return {"amount": str(self.amount), "currency": self.currency}

    @classmethod
    def from_storage(cls, doc: dict[str, str]) -> Money:
        return cls(Decimal(doc["amount"]), doc["currency"])

    def __str__(self) -> str:
        return f"{self.amount:,.{minor_units(self.currency)}f} {self.currency}"
