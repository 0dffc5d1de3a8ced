"""What the database account the showroom server uses may do, so that it can refuse to run
with more than it needs (issue 8: least privilege on the database)."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import PyMongoError

from alko_desk.storage.mongo import Store

# Roles and actions that can drop the database or manage users and roles.
DANGEROUS_ROLES = frozenset(
    {
        "root",
        "__system",
        "dbOwner",
        "dbAdmin",
        "dbAdminAnyDatabase",
        "userAdmin",
        "userAdminAnyDatabase",
        "clusterAdmin",
        "restore",
    }
)
DANGEROUS_ACTIONS = frozenset(
    {
        "dropDatabase",
        "createUser",
        "dropUser",
        "updateUser",
        "grantRole",
        "revokeRole",
        "createRole",
        "dropRole",
        "updateRole",
        "changeCustomData",
        "anyAction",
    }
)


@dataclass(frozen=True)
class PrivilegeReport:
    supported: bool  # the server answered connectionStatus with privileges
    users: tuple[str, ...]  # who the connection is authenticated as; () when none
    dangerous: tuple[str, ...]  # roles and actions beyond what ALKO Desk needs
    # A login the database cannot limit at all: FerretDB 1.x authenticates but has no roles,
    # so every login may drop databases and create users.
    unrestricted: bool = False


def database_privileges(store: Store) -> PrivilegeReport:
    try:
        status = store.db.command({"connectionStatus": 1, "showPrivileges": True})
    except PyMongoError:
        return PrivilegeReport(False, (), ())
    info = status.get("authInfo", {})
    users = tuple(f"{u.get('user')}@{u.get('db')}" for u in info.get("authenticatedUsers", []) if u)
    found = {
        f"role {r.get('role')}"
        for r in info.get("authenticatedUserRoles", [])
        if r.get("role") in DANGEROUS_ROLES
    }
    for privilege in info.get("authenticatedUserPrivileges", []):
        for action in privilege.get("actions", []):
            if action in DANGEROUS_ACTIONS:
                found.add(f"action {action}")
    supported = "authenticatedUserPrivileges" in info or "authenticatedUserRoles" in info
    unrestricted = bool(users) and store.info.is_ferretdb
    return PrivilegeReport(supported, users, tuple(sorted(found)), unrestricted)
