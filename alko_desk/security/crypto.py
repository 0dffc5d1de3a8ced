"""Field encryption (AES-256-GCM), key wrapping and keyed blind indexes.

Key hierarchy:
- the organisation key (32 random bytes) is never stored in clear: each staff
  account keeps a copy wrapped under a key derived from its password;
- purpose keys are derived from it with HKDF (wrapping client data keys, blind indexes);
- each client has a data key of its own, wrapped by the organisation's wrap key.
  Destroying that wrapped key makes the client's fields unreadable for good.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from alko_desk.models.errors import UnreadableRecord

KEY_SIZE = 32
NONCE_SIZE = 12
FORMAT_V1 = b"\x01"


def new_key() -> bytes:
    return os.urandom(KEY_SIZE)


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM with the context bound as associated data, so ciphertexts cannot be swapped."""
    nonce = os.urandom(NONCE_SIZE)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode("utf-8"))


def open_sealed(key: bytes, blob: bytes, context: str) -> bytes:
    blob = bytes(blob)
    if not blob.startswith(FORMAT_V1) or len(blob) < 1 + NONCE_SIZE + 16:
        raise UnreadableRecord("This record's encrypted data is damaged.")
    nonce, body = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
    try:
        return AESGCM(key).decrypt(nonce, body, context.encode("utf-8"))
    except InvalidTag:
        raise UnreadableRecord(
            "This record cannot be decrypted: its key is wrong or missing, or the data was altered."
        ) from None


def derive_key(org_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=purpose.encode()
    ).derive(org_key)


class OrgKeys:
    """The keys derived from the organisation key for one session."""

    def __init__(self, org_key: bytes) -> None:
        self._wrap = derive_key(org_key, "alko-desk/client-key-wrap/v1")
        self._blind = derive_key(org_key, "alko-desk/blind-index/v1")
        self._directory = derive_key(org_key, "alko-desk/directory/v1")
        self.fingerprint = hashlib.sha256(
            derive_key(org_key, "alko-desk/fingerprint/v1")
        ).hexdigest()[:16]

    def wrap_client_key(self, client_id: str, data_key: bytes) -> bytes:
        return seal(self._wrap, data_key, f"client-key:{client_id}")

    def unwrap_client_key(self, client_id: str, wrapped: bytes) -> bytes:
        return open_sealed(self._wrap, wrapped, f"client-key:{client_id}")

    def seal_directory(self, entry_id: str, plaintext: bytes) -> bytes:
        """The client list's city and masked phone, readable by staff without each client's key."""
        return seal(self._directory, plaintext, f"directory:{entry_id}")

    def open_directory(self, entry_id: str, blob: bytes) -> bytes:
        return open_sealed(self._directory, blob, f"directory:{entry_id}")

    def blind_index(self, kind: str, normalized_value: str) -> str:
        mac = hmac.new(self._blind, f"{kind}\x1f{normalized_value}".encode(), hashlib.sha256)
        return mac.hexdigest()


class FieldCipher:
    """Encrypts and decrypts one client's fields with that client's data key."""

    def __init__(self, client_id: str, data_key: bytes) -> None:
        self._client_id = client_id
        self._key = data_key

    def encrypt(self, field: str, value: str) -> bytes:
        return seal(self._key, value.encode("utf-8"), f"{self._client_id}:{field}")

    def decrypt(self, field: str, blob: bytes) -> str:
        return open_sealed(self._key, blob, f"{self._client_id}:{field}").decode("utf-8")
