"""Staff accounts and login throttling."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from alko_desk.models.errors import ValidationError
from alko_desk.models.users import Role, User
from alko_desk.storage.mongo import Store, repository
from alko_desk.storage.revisions import RevisionGuard


def user_from_doc(doc: dict) -> User:
    return User(
        username=doc["_id"],
        full_name=doc.get("full_name", ""),
        role=Role(doc["role"]),
        active=bool(doc.get("active", True)),
        must_change_password=bool(doc.get("must_change_password", False)),
        created_at=doc.get("created_at"),
        last_login_at=doc.get("last_login_at"),
    )


@repository
class UserRepository:
    """Accounts keyed by username, so every lookup is by `_id`."""

    def __init__(self, store: Store) -> None:
        self._users = store.collection("users")

    def get_doc(self, username: str) -> dict | None:
        return self._users.find_one({"_id": username})

    def get(self, username: str) -> User | None:
        doc = self.get_doc(username)
        return user_from_doc(doc) if doc else None

    def list(self) -> list[User]:
        return sorted((user_from_doc(d) for d in self._users.find({})), key=lambda u: u.username)

    def count(self) -> int:
        return self._users.count_documents({})

    def insert(self, user: User, secrets: dict[str, Any]) -> None:
        doc = {
            "_id": user.username,
            "full_name": user.full_name,
            "role": user.role.value,
            "active": user.active,
            "must_change_password": user.must_change_password,
            "created_at": user.created_at,
            "last_login_at": None,
            **secrets,
        }
        try:
            self._users.insert_one(doc)
        except DuplicateKeyError:
            raise ValidationError(
                f"The username “{user.username}” is taken.", {"username": "This username is taken."}
            ) from None

    def update(self, username: str, fields: dict[str, Any]) -> bool:
        return self._users.update_one({"_id": username}, {"$set": fields}).matched_count == 1

    def unset(self, username: str, fields: list[str]) -> None:
        if fields:
            self._users.update_one({"_id": username}, {"$unset": dict.fromkeys(fields, "")})

    def all_docs(self) -> list[dict]:
        """Every account (a few dozen): for granting keys and stamping MACs."""
        return list(self._users.find({}))


@repository
class LoginThrottleRepository:
    """Failed-login records: by account name, or by a keyed hash (`unknown:…`) for a name that
    is no account, so that what was typed (perhaps a password) is never stored.

    Written only by compare-and-set on the record's `rev` (storage/revisions.py: a unique
    claim insert, atomic on FerretDB 1.24 too), so that parallel attempts on one name, from
    any process, each meet the count the earlier ones left. What the fields mean and their
    MAC: services/throttle.py."""

    def __init__(self, store: Store) -> None:
        self._coll = store.collection("login_throttle")
        self._guard = RevisionGuard(self._coll, store.collection("login_throttle_claims"))

    def find(self, throttle_id: str) -> dict | None:
        """The record once no claimed write on it is in flight; an older copy put back over
        later writes is rolled forward to the newest that was claimed."""
        return self._guard.settled(throttle_id, follow=True)

    def get(self, throttle_id: str) -> dict:
        return self.find(throttle_id) or {"_id": throttle_id, "failures": 0, "rev": 0}

    def replace_if(self, doc: dict[str, Any], expected_rev: int) -> bool:
        """Writes `doc` as revision expected_rev + 1 unless another write took that revision."""
        return self._guard.replace_if(doc, expected_rev, create=True)

    def known_ids(self) -> set[str]:
        """The names that have a record (a few dozen accounts plus unknown-name hashes)."""
        return {d["_id"] for d in self._coll.find({}, {"_id": 1})}
