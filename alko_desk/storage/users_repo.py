"""Staff accounts and login throttling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from alko_desk.models.errors import ValidationError
from alko_desk.models.users import Role, User
from alko_desk.storage.mongo import Store, repository


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
    """Failed-login counters: by account name, or by a keyed hash (`unknown:…`) for a name that
    is no account, so that what was typed (perhaps a password) is never stored."""

    def __init__(self, store: Store) -> None:
        self._coll = store.collection("login_throttle")

    def get(self, username: str) -> dict:
        return self._coll.find_one({"_id": username}) or {"_id": username, "failures": 0}

    def record_failure(self, username: str) -> dict:
        from pymongo import ReturnDocument

        return self._coll.find_one_and_update(
            {"_id": username},
            {"$inc": {"failures": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    def lock(self, username: str, until: datetime, lockouts: int) -> None:
        self._coll.update_one(
            {"_id": username},
            {"$set": {"locked_until": until, "lockouts": lockouts, "failures": 0}},
        )

    def reset(self, username: str, *, keep_lockouts: bool = False) -> None:
        fields: dict[str, Any] = {"failures": 0, "locked_until": None}
        if not keep_lockouts:
            fields["lockouts"] = 0
        self._coll.update_one({"_id": username}, {"$set": fields})
