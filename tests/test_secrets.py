"""Secrets go to a recommended OS keyring, or nowhere: never to plaintext."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from alko_desk.secrets import MONGODB_URI_KEY, SecretStore


@pytest.fixture
def default_keyring():
    """Restores the process-wide keyring choice after a test replaces it."""
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


class PlaintextFileKeyring(keyring.backend.KeyringBackend):
    """What keyrings.alt's PlaintextKeyring does: passwords in a readable file."""

    priority = 1
    path: Path

    def set_password(self, service, username, password):
        self.path.write_text(f"{service} {username} {password}\n")

    def get_password(self, service, username):
        return None

    def delete_password(self, service, username):
        pass


class LockedKeyring(keyring.backend.KeyringBackend):
    """An accepted backend whose collection stays locked (the user cancelled the unlock prompt)."""

    priority = 1

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("locked")

    def delete_password(self, service, username):
        raise keyring.errors.KeyringLocked("locked")


@pytest.mark.skipif(
    not os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
    reason="no D-Bus session bus: run the suite with `make test`, which starts one "
    "with gnome-keyring's Secret Service",
)
def test_the_secret_service_round_trips_a_secret():
    store = SecretStore()
    assert store.backend_name == "keyring.backends.SecretService.Keyring", store.warning
    key = f"test-{uuid.uuid4().hex}"
    value = "mongodb://desk:pässwörd@db.example:27017/?tls=true"
    try:
        assert store.set(key, value)
        assert SecretStore().get(key) == value  # a fresh store reads what the keyring kept
    finally:
        store.set(key, None)
    assert SecretStore().get(key) is None


@pytest.mark.parametrize(
    "backend_factory", [fail.Keyring, PlaintextFileKeyring], ids=["no-keyring", "plaintext-file"]
)
def test_an_unsafe_or_missing_keyring_is_refused_with_a_warning_and_stores_nothing(
    backend_factory, tmp_path, caplog, default_keyring
):
    backend = backend_factory()
    backend.path = tmp_path / "plaintext-keyring.cfg"
    keyring.set_keyring(backend)
    with caplog.at_level(logging.WARNING, logger="alko_desk.secrets"):
        store = SecretStore()
    assert not store.available
    assert "will not remember" in store.warning
    assert "not accepted" in caplog.text
    assert store.set(MONGODB_URI_KEY, "mongodb://desk:secret@db.example/") is False
    assert store.get(MONGODB_URI_KEY) is None
    assert not backend.path.exists()


def test_a_keyring_that_stays_locked_turns_secrets_off_with_a_warning(caplog):
    store = SecretStore(LockedKeyring())
    with caplog.at_level(logging.WARNING, logger="alko_desk.secrets"):
        assert store.get(MONGODB_URI_KEY) is None
    assert not store.available
    assert "locked" in store.warning
    assert store.set(MONGODB_URI_KEY, "mongodb://x/") is False
