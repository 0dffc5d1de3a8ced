"""Field encryption (AES-256-GCM), key wrapping and keyed blind indexes.

Key hierarchy (keys by need; services/keyring.py says who holds what):
- the organisation key (32 random bytes) is never stored in clear: each staff
  account keeps a copy wrapped under a key derived from its password. It opens no
  client data: key check, account MACs, settings' secrets;
- two tier keys, "clients" and "ids", reach only the roles that need them, sealed to
  each account's X25519 public key; the client wrap, blind-index, list and client-MAC
  keys derive from "clients" with HKDF (`ClientTierKeys`);
- each client has a data key of its own, wrapped by the "clients" wrap key; ID and
  licence numbers need the "ids" key as well (`BoundFieldCipher`). Destroying the
  wrapped data key makes the client's fields unreadable for good. ID documents' pages and
  details likewise need both (`id_document_key`).
`OrgKeys` and `FieldCipher` (derived from the organisation key, fields bound to client and
field only) remain to read data written before keys by need, during its upgrade.
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


# -- keys by need (v2) ----------------------------------------------------------------------
# The organisation key (every account) no longer opens client data. Two tier keys do:
# "clients" (roles that read clients) and "ids" (roles that may reveal ID and licence
# numbers). Each account has an X25519 key pair; a tier key reaches an account only sealed
# to its public key by a session that holds it already (services/keyring.py).

TIER_CLIENTS = "clients"
TIER_IDS = "ids"
ID_FIELDS = ("id_number", "licence_number")  # sealed under the "ids" tier as well


def generate_keypair() -> tuple[bytes, bytes]:
    """(private, public) raw X25519 keys."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private = X25519PrivateKey.generate()
    return (
        private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def _box_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=ephemeral_public + recipient_public,
        info=b"alko-desk/sealed-box/v1",
    ).derive(shared)


def seal_to(recipient_public: bytes, plaintext: bytes, context: str) -> bytes:
    """Seals for the holder of the private key only (ephemeral X25519, HKDF, AES-GCM)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(bytes(recipient_public)))
    key = _box_key(shared, ephemeral_public, bytes(recipient_public))
    return ephemeral_public + seal(key, plaintext, context)


def open_from(private: bytes, blob: bytes, context: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    blob = bytes(blob)
    if len(blob) < 32:
        raise UnreadableRecord("This record's encrypted data is damaged.")
    me = X25519PrivateKey.from_private_bytes(bytes(private))
    my_public = me.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        shared = me.exchange(X25519PublicKey.from_public_bytes(blob[:32]))
    except ValueError:
        raise UnreadableRecord("This record's encrypted data is damaged.") from None
    return open_sealed(_box_key(shared, blob[:32], my_public), blob[32:], context)


def integrity_key(org_key: bytes) -> bytes:
    """The MAC key of plaintext fields that matter (accounts' role and active flag)."""
    return derive_key(org_key, "alko-desk/integrity-mac/v1")


def throttle_mac_key(org_key: bytes) -> bytes:
    """The MAC key of login-throttle records (services/throttle.py). A key of its own, not
    `integrity_key`: it is kept outside the database between logins, so it must open and forge
    nothing but throttle records."""
    return derive_key(org_key, "alko-desk/login-throttle-mac/v1")


def _canonical(value):
    from datetime import UTC, datetime, timedelta

    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        # milliseconds: what BSON keeps of a datetime
        return {"ms": (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def record_mac(key: bytes, kind: str, fields: dict) -> bytes:
    """HMAC-SHA256 over a canonical form of `fields`, bound to what kind of record it is."""
    import json

    body = json.dumps(_canonical(fields), sort_keys=True, ensure_ascii=False, default=str)
    return hmac.new(key, f"{kind}\x1f{body}".encode(), hashlib.sha256).digest()


def mac_matches(key: bytes, kind: str, fields: dict, mac: bytes | None) -> bool:
    return mac is not None and hmac.compare_digest(record_mac(key, kind, fields), bytes(mac))


def tier_check(org_key: bytes, tier: str, tier_key: bytes) -> bytes:
    """What the organisation document keeps of a tier key: proves a granted key is the real
    one (a database writer can seal any key to an account's public key, but cannot make this
    without the organisation key)."""
    return record_mac(
        integrity_key(org_key), "tier-key", {"tier": tier, "key": hashlib.sha256(tier_key).digest()}
    )


class ClientTierKeys(OrgKeys):
    """The keys derived from the "clients" tier key: same use as OrgKeys (v1, derived from the
    organisation key, kept only to read data written before keys by need), plus the MAC key
    of client records."""

    def __init__(self, clients_key: bytes) -> None:  # noqa: D107 - no super(): other purposes
        self._wrap = derive_key(clients_key, "alko-desk/client-key-wrap/v2")
        self._blind = derive_key(clients_key, "alko-desk/blind-index/v2")
        self._directory = derive_key(clients_key, "alko-desk/directory/v2")
        self._mac = derive_key(clients_key, "alko-desk/client-mac/v2")
        self.fingerprint = hashlib.sha256(
            derive_key(clients_key, "alko-desk/fingerprint/v2")
        ).hexdigest()[:16]

    def record_mac(self, fields: dict) -> bytes:
        return record_mac(self._mac, "client", fields)

    def mac_matches(self, fields: dict, mac: bytes | None) -> bool:
        return mac_matches(self._mac, "client", fields, mac)


def id_document_key(client_id: str, data_key: bytes, ids_key: bytes) -> bytes:
    """The key of a client's ID documents (pages and their number, country, expiry): derived
    from the "ids" tier key and the client's data key, as ID numbers are. Finance unwraps
    clients' data keys (it reads clients) but may not see ID documents, which show the very
    numbers it may not reveal; shredding the data key still destroys them."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=data_key,
        info=f"alko-desk/id-documents/v1:{client_id}".encode(),
    ).derive(ids_key)


class BoundFieldCipher:
    """One client's fields (v2): the data key seals every field; ID and licence numbers are
    sealed with a key that needs the "ids" tier key as well as the client's data key, so that
    shredding the data key still destroys them. Each field's associated data binds the client,
    the field and the record version: a ciphertext moved to another client or field, or an
    older one of the same field put back, does not open."""

    def __init__(self, client_id: str, data_key: bytes, ids_key: bytes | None) -> None:
        self._client_id = client_id
        self._key = data_key
        self._id_key = (
            HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_SIZE,
                salt=data_key,
                info=f"alko-desk/id-fields/v2:{client_id}".encode(),
            ).derive(ids_key)
            if ids_key
            else None
        )

    @property
    def opens_id_fields(self) -> bool:
        return self._id_key is not None

    def _context(self, field: str, version: int) -> str:
        return f"alko-desk/client-field/v2\x1f{self._client_id}\x1f{field}\x1f{version}"

    def _key_for(self, field: str) -> bytes:
        if field not in ID_FIELDS:
            return self._key
        if self._id_key is None:
            from alko_desk.models.errors import PermissionDenied

            raise PermissionDenied("Your role cannot open ID and licence numbers.")
        return self._id_key

    def encrypt(self, field: str, value: str, version: int) -> bytes:
        return seal(self._key_for(field), value.encode("utf-8"), self._context(field, version))

    def decrypt(self, field: str, blob: bytes, version: int) -> str:
        return open_sealed(self._key_for(field), blob, self._context(field, version)).decode(
            "utf-8"
        )
