"""Secrets in the OS keyring: the database URI with its credentials, the remembered username.

Only backends that keep secrets encrypted by the OS are accepted. With any other
(a plaintext file, none at all) we say so once and store nothing, rather than
falling back to plaintext silently.
"""

from __future__ import annotations

import logging

import keyring
import keyring.errors

SERVICE = "ALKO Desk"
ACCEPTED_BACKENDS = {
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
}
log = logging.getLogger(__name__)


def _backend_name(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


class SecretStore:
    def __init__(self, backend=None) -> None:
        self._backend = backend if backend is not None else self._pick()
        self.warning = (
            ""
            if self._backend
            else (
                "No secure keyring is available on this computer, so ALKO Desk will not remember "
                "your username or a database address with a password. Everything else works."
            )
        )

    @staticmethod
    def _pick():
        backend = keyring.get_keyring()
        candidates = getattr(backend, "backends", None) or [backend]
        for candidate in candidates:
            if _backend_name(candidate) in ACCEPTED_BACKENDS:
                return candidate
        log.warning("keyring backend %s is not accepted", _backend_name(backend))
        return None

    @property
    def available(self) -> bool:
        return self._backend is not None

    @property
    def backend_name(self) -> str:
        return _backend_name(self._backend) if self._backend else "none"

    def get(self, key: str) -> str | None:
        if not self._backend:
            return None
        try:
            return self._backend.get_password(SERVICE, key)
        except keyring.errors.KeyringError as exc:
            self._disable(exc)
            return None

    def set(self, key: str, value: str | None) -> bool:
        if not self._backend:
            return False
        try:
            if value is None:
                try:
                    self._backend.delete_password(SERVICE, key)
                except keyring.errors.PasswordDeleteError:
                    pass
            else:
                self._backend.set_password(SERVICE, key, value)
            return True
        except keyring.errors.KeyringError as exc:
            self._disable(exc)
            return False

    def _disable(self, exc: Exception) -> None:
        log.warning("keyring failed: %s", exc)
        self._backend = None
        self.warning = (
            "The OS keyring is locked or not answering, so ALKO Desk cannot remember "
            "secrets on this computer for now. Everything else works."
        )


MONGODB_URI_KEY = "mongodb-uri"
REMEMBERED_USERNAME_KEY = "remembered-username"
