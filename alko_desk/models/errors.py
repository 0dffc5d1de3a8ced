"""Domain errors. Each carries a message written for the user, shown as it is."""

from __future__ import annotations


class AlkoError(Exception):
    """Base of every error whose message a user may read."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_text(self) -> str:
        return f"{self.message}\n\n{self.hint}" if self.hint else self.message


class ValidationError(AlkoError):
    """Input that cannot be accepted; `field_errors` maps a field name to its message."""

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = dict(field_errors or {})


class AuthenticationError(AlkoError):
    pass


class AccountLocked(AuthenticationError):
    pass


class PasswordChangeRequired(AlkoError):
    pass


class PermissionDenied(AlkoError):
    pass


class ReauthenticationRequired(AlkoError):
    """A sensitive action needs the password entered again."""

    def __init__(self) -> None:
        super().__init__("Please enter your password again to confirm this action.")


class NotFound(AlkoError):
    pass


class ConcurrentModification(AlkoError):
    """Someone else saved the record first; `changed_fields` lists what they changed."""

    def __init__(self, message: str, changed_fields: list[str] | None = None, current=None) -> None:
        super().__init__(message)
        self.changed_fields = list(changed_fields or [])
        self.current = current  # the record as it is now, for the dialog that shows what changed


class DatabaseUnavailable(AlkoError):
    pass


class SetupRequired(AlkoError):
    pass


class UnreadableRecord(AlkoError):
    """Encrypted data that cannot be decrypted: wrong, missing or destroyed key, or tampering."""


class TamperedRecord(UnreadableRecord):
    """Stored data fails its integrity check: edited, swapped or put back in the database."""


class KeysNotGranted(AlkoError):
    """The account's role works with client data, but no colleague has handed it the keys yet."""
