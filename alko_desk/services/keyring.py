"""Keys by need: which account holds which key, and the integrity of accounts.

Every account unwraps the organisation key at login (with the key its Argon2id run yields,
no further KDF). That key opens no client data. Client data sits under two tier keys:

- "clients": every client's data key is wrapped by it (and the list and blind-index keys
  derive from it) -- for the roles that read clients (sales, finance, managers);
- "ids": ID and licence numbers are sealed under it as well -- for the roles that may
  reveal them (sales, managers).

Admins hold neither. A tier key reaches an account only sealed to that account's X25519
public key by a session that holds it already ("a grant"): when a holder logs in, and while a
holder is logged in on this process (the showroom server, or a desk with several sessions),
pending accounts get their grants. A MAC of each tier key (made with the organisation key)
is kept in `meta` "tiers", a document inserted once and never updated
(storage/organisation_repo.py `claim_tiers`), so a key a database writer seals to an account
is refused, and of two first logins at once only one's keys are ever used.

The account fields that decide what an account may do (role, active, must-change-password,
public key) carry a MAC under a key derived from the organisation key, so an edit in the
database is refused at login instead of trusted.
"""

from __future__ import annotations

import threading
import weakref

from alko_desk.models.audit import AuditAction
from alko_desk.models.errors import KeysNotGranted, UnreadableRecord
from alko_desk.models.users import Permission, Role, Session, User, permissions_of
from alko_desk.security.crypto import (
    TIER_CLIENTS,
    TIER_IDS,
    generate_keypair,
    integrity_key,
    mac_matches,
    new_key,
    open_from,
    open_sealed,
    record_mac,
    seal,
    seal_to,
    tier_check,
)
from alko_desk.security.key_check import key_check_version, make_key_check
from alko_desk.services.audit import AuditLog
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.users_repo import UserRepository

NOT_GRANTED = (
    "Client data is not open to your account yet. It opens once a colleague who already "
    "works with clients (sales, finance or a manager) logs in; then log in again."
)


def tiers_for(role: Role) -> tuple[str, ...]:
    granted = permissions_of(role)
    tiers = []
    if Permission.CLIENT_READ in granted:
        tiers.append(TIER_CLIENTS)
    if Permission.CLIENT_REVEAL in granted:
        tiers.append(TIER_IDS)
    return tuple(tiers)


# -- account integrity ---------------------------------------------------------------------
def _account_fields(doc: dict) -> dict:
    pub = doc.get("pub")
    return {
        "username": doc["_id"],
        "role": doc.get("role"),
        "active": bool(doc.get("active", True)),
        "must_change_password": bool(doc.get("must_change_password", False)),
        "pub": bytes(pub).hex() if pub else "",
    }


def account_mac(org_key: bytes, doc: dict) -> bytes:
    return record_mac(integrity_key(org_key), "account", _account_fields(doc))


def account_intact(org_key: bytes, doc: dict) -> bool:
    return mac_matches(integrity_key(org_key), "account", _account_fields(doc), doc.get("mac"))


def stamped(org_key: bytes, doc: dict, changes: dict) -> dict:
    """`changes` plus the MAC of the account as it will be once they are written."""
    return {**changes, "mac": account_mac(org_key, {**doc, **changes})}


def new_account_keys(account_key: bytes, username: str, private: bytes | None = None) -> dict:
    """An account's key pair: the private half sealed under its password-derived key.

    `private` given (a password change): the same pair, re-sealed, so grants stay valid."""
    if private is None:
        private, public = generate_keypair()
    else:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = (
            X25519PrivateKey.from_private_bytes(private)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
    return {"pub": public, "priv_sealed": seal(account_key, private, f"account-private:{username}")}


def stamp_new_account(org_key: bytes, user: User, secrets: dict) -> dict:
    """The secrets of a new account plus the MAC of the account as UserRepository.insert
    writes it."""
    doc = {
        "_id": user.username,
        "role": user.role.value,
        "active": user.active,
        "must_change_password": user.must_change_password,
        **secrets,
    }
    return {**secrets, "mac": account_mac(org_key, doc)}


def _grant_context(username: str, tier: str) -> str:
    return f"alko-desk/grant/v1:{username}:{tier}"


class Keyring:
    """Opens an account's keys at login and hands tier keys to accounts that need them."""

    def __init__(
        self, users: UserRepository, organisation: OrganisationRepository, audit: AuditLog
    ) -> None:
        self._users = users
        self._org = organisation
        self._audit = audit
        self._holders: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    # -- login -----------------------------------------------------------------------------
    def ensure_integrity(self, org_key: bytes, org_doc: dict) -> bool:
        """A database from before account MACs gets them now (the accounts as they stand are
        taken as genuine, once), and the version 2 key check that says so."""
        if key_check_version(org_doc, org_key) >= 2:
            return False
        for doc in self._users.all_docs():
            self._users.update(doc["_id"], {"mac": account_mac(org_key, doc)})
        self._org.set_key_check(make_key_check(org_key))
        return True

    def open_account(
        self, doc: dict, account_key: bytes, org_key: bytes
    ) -> tuple[bytes, dict[str, bytes]]:
        """(the account's private key, the tier keys it may hold and has been granted).

        An account from before keys by need gets its key pair here."""
        name = doc["_id"]
        if doc.get("priv_sealed") is None:
            keys = new_account_keys(account_key, name)
            self._users.update(name, stamped(org_key, doc, keys))
            doc = {**doc, **keys}
        private = open_sealed(account_key, doc["priv_sealed"], f"account-private:{name}")
        return private, self._granted(doc, private, org_key)

    def _granted(self, doc: dict, private: bytes, org_key: bytes) -> dict[str, bytes]:
        checks = self._org.tier_checks()
        keys: dict[str, bytes] = {}
        for tier in tiers_for(Role(doc["role"])):
            grant = (doc.get("grants") or {}).get(tier)
            if grant is None or tier not in checks:
                continue
            try:
                key = open_from(private, grant, _grant_context(doc["_id"], tier))
            except UnreadableRecord:
                continue
            if bytes(checks[tier]) == tier_check(org_key, tier, key):
                keys[tier] = key
            else:  # sealed to this account by someone without the organisation key
                self._audit.record(
                    "system",
                    AuditAction.FRAUD_KEY_GRANT_FORGED,
                    f"user:{doc['_id']}",
                    {"tier": tier},
                )
        return keys

    def start(self, session: Session) -> None:
        """After a login: creates the tier keys on a database that has none yet (the first
        colleague who may reveal numbers), picks up grants from colleagues logged in on this
        process, and grants what this session holds to the accounts still waiting."""
        needed = tiers_for(session.user.role)
        if set(needed) == {TIER_CLIENTS, TIER_IDS} and not session.tier_keys:
            self._create_tiers(session)
        if set(needed) - set(session.tier_keys):
            for holder in list(self._holders.values()):
                if holder.tier_keys:
                    self.grant_pending(holder)
            self.pick_up(session)
        if session.tier_keys:
            with self._lock:
                self._holders[session.session_id] = session
            self.grant_pending(session)

    def _create_tiers(self, session: Session) -> None:
        """Makes the tier keys if nobody has. Two first logins at once both make keys; the
        unique insert of their checks picks one, and only that session stores and uses its
        keys (the other's would open nothing anyone else holds, and its grants would fail
        the check). The other gets the winner's keys by a grant (`pick_up`, in `start`)."""
        if self._org.tier_checks():
            return
        keys = {TIER_CLIENTS: new_key(), TIER_IDS: new_key()}
        checks = {t: tier_check(session.org_key, t, k) for t, k in keys.items()}
        if self._org.claim_tiers(checks):
            self._store_grants(session.user.username, keys)
            session.tier_keys.update(keys)

    def pick_up(self, session: Session) -> bool:
        """Opens grants that arrived after this session's login. True if it holds new keys."""
        if not session.account_private:
            return False
        doc = self._users.get_doc(session.user.username)
        if doc is None or not account_intact(session.org_key, doc):
            return False
        keys = self._granted(doc, session.account_private, session.org_key)
        fresh = {t: k for t, k in keys.items() if t not in session.tier_keys}
        session.tier_keys.update(fresh)
        if session.tier_keys:
            with self._lock:
                self._holders[session.session_id] = session
        return bool(fresh)

    def tier_key(self, session: Session, tier: str) -> bytes:
        key = session.tier_keys.get(tier)
        if key is None and self.pick_up(session):
            key = session.tier_keys.get(tier)
        if key is None:
            raise KeysNotGranted(NOT_GRANTED)
        return key

    # -- grants ----------------------------------------------------------------------------
    def grant_pending(self, holder: Session) -> list[str]:
        """Seals the holder's tier keys to every active, intact account whose role needs them
        and that lacks them. Returns the usernames served."""
        served = []
        for doc in self._users.all_docs():
            if (
                not doc.get("active", True)
                or not doc.get("pub")
                or doc.get("must_change_password")  # a password an admin chose opens its pair
            ):
                continue
            try:
                role = Role(doc.get("role"))
            except ValueError:
                continue
            have = doc.get("grants") or {}
            missing = [t for t in tiers_for(role) if t not in have and t in holder.tier_keys]
            if not missing or not account_intact(holder.org_key, doc):
                continue
            self._store_grants(doc["_id"], {t: holder.tier_keys[t] for t in missing}, doc["pub"])
            self._audit.record(
                holder.user.username,
                AuditAction.USER_KEYS_GRANTED,
                f"user:{doc['_id']}",
                {"tiers": missing},
            )
            served.append(doc["_id"])
        return served

    def _store_grants(
        self, username: str, keys: dict[str, bytes], pub: bytes | None = None
    ) -> None:
        if pub is None:
            pub = (self._users.get_doc(username) or {}).get("pub")
        self._users.update(
            username,
            {
                f"grants.{t}": seal_to(bytes(pub), k, _grant_context(username, t))
                for t, k in keys.items()
            },
        )

    def regrant(self, session: Session) -> None:
        """Seals the keys a session holds to its account's new key pair (password change)."""
        if session.tier_keys:
            self._store_grants(session.user.username, dict(session.tier_keys))

    def forget(self, session: Session) -> None:
        with self._lock:
            self._holders.pop(session.session_id, None)
        session.tier_keys.clear()
        session.account_private = b""


def grants_dropped_by(role: Role | None) -> list[str]:
    """The grants an account loses when its role becomes `role` (None: disabled)."""
    keep = set(tiers_for(role)) if role is not None else set()
    return [f"grants.{t}" for t in (TIER_CLIENTS, TIER_IDS) if t not in keep]
