"""Staff accounts and login throttling."""

from __future__ import annotations

import time
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


def _with(doc: dict, set_fields: dict[str, Any], unset: list[str]) -> dict:
    """`doc` after `$set: set_fields` and `$unset: unset` (dotted paths reach into sub-documents)."""
    out = dict(doc)

    def parent(path: str, create: bool) -> tuple[dict | None, str]:
        *heads, last = path.split(".")
        node = out
        for head in heads:
            child = node.get(head)
            if not isinstance(child, dict):
                if not create:
                    return None, last
                child = {}
            node[head] = child = dict(child)  # copied: the document read stays as it was
            node = child
        return node, last

    for path, value in set_fields.items():
        node, last = parent(path, create=True)
        node[last] = value
    for path in unset:
        node, last = parent(path, create=False)
        if node is not None:
            node.pop(last, None)
    return out


@repository
class UserRepository:
    """Accounts keyed by username, so every lookup is by `_id`."""

    def __init__(self, store: Store) -> None:
        self._users = store.collection("users")
        # Changes are merged by compare-and-set: FerretDB 1.24 does not isolate two $set on
        # one document, so an admin's disable could be lost to the same user's login stamp.
        self._guard = RevisionGuard(self._users, store.collection("user_claims"))

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
            # revisions of a re-made account never meet the claims of an older one
            "rev": time.time_ns(),
        }
        try:
            self._users.insert_one(doc)
        except DuplicateKeyError:
            raise ValidationError(
                f"The username “{user.username}” is taken.", {"username": "This username is taken."}
            ) from None

    def update(self, username: str, fields: dict[str, Any]) -> bool:
        """Sets `fields` (dotted paths as in `$set`) on the account; False when there is none."""
        return self._merge(username, lambda doc: _with(doc, fields, []))

    def unset(self, username: str, fields: list[str]) -> None:
        if fields:
            self._merge(username, lambda doc: _with(doc, {}, fields))

    def _merge(self, username: str, change) -> bool:
        for _ in range(50):
            doc = self._guard.settled(username)
            if doc is None:
                return False
            if self._guard.replace_if(change(doc), int(doc.get("rev", 0))):
                return True
        raise RuntimeError(f"the account {username} is changing too fast to update")

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
