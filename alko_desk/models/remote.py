"""What a desk meets when it works through a showroom server: its errors, in words for staff."""

from __future__ import annotations

from alko_desk.models.errors import AlkoError, AuthenticationError


class SessionEnded(AuthenticationError):
    """The server ended this login: idle too long, logged out, or the account changed.

    `reason` is "idle", "logout", "disabled", "role_changed", "password_reset",
    "reauth_failures" or "unknown" (a token the server does not know, e.g. after a restart).
    """

    def __init__(self, message: str, reason: str = "unknown") -> None:
        super().__init__(message, hint="Log in again to continue.")
        self.reason = reason


class ServerUnavailable(AlkoError):
    """The showroom server does not answer."""


class ServerUntrusted(AlkoError):
    """The server's certificate is not the one this desk pinned, or was not confirmed."""
