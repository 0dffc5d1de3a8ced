"""The tier keys are made once: two first logins at the same moment (a fresh or upgraded
database) end with one pair of keys that both hold, and nothing later drops their checks.

FerretDB 1.24 applies an update as read-modify-write without isolation (README, "FerretDB's
limits"): a conditional `update_one({tiers: {$exists: false}})` let both desks win (18 of 25
rounds in review), each then storing grants of its own keys; clients saved under the loser's
keys opened for nobody else, and its grants were refused as forged."""

from __future__ import annotations

import functools
import threading
from dataclasses import replace
from pathlib import Path

from alko_desk.bootstrap import AppContext
from alko_desk.models.audit import AuditAction, AuditFilter
from alko_desk.models.users import Role
from alko_desk.security.crypto import TIER_CLIENTS, TIER_IDS
from alko_desk.services.clients import new_client_id
from alko_desk.storage.mongo import Store, connect
from alko_desk.storage.organisation_repo import OrganisationRepository
from tests.clients_data import draft
from tests.conftest import COMPANY, staff_passphrase
from tests.same_moment import at_the_same_moment, on_connections_at_once

ROUNDS = 10


def _forget_tiers(store) -> None:
    """The database as before any login made tier keys (fresh, or from before keys by need)."""
    meta = store.collection("meta")
    meta.delete_one({"_id": "tiers"})
    meta.update_one({"_id": "organisation"}, {"$unset": {"tiers": ""}})
    store.collection("users").update_many({}, {"$unset": {"grants": ""}})


def _forged(context) -> list:
    return context.audit_log.query(
        AuditFilter(action_prefix=AuditAction.FRAUD_KEY_GRANT_FORGED.value)
    )


# ----------------------------------------------------------------------------- repository


def test_two_desks_claiming_the_tier_keys_at_once_have_exactly_one_winner(mongo_uri, store):
    store.collection("meta").insert_one({"_id": "organisation", "profile": {}})
    rounds = on_connections_at_once(
        mongo_uri,
        store.db.name,
        [
            lambda s, r: OrganisationRepository(s).claim_tiers({"clients": f"A{r}".encode()}),
            lambda s, r: OrganisationRepository(s).claim_tiers({"clients": f"B{r}".encode()}),
        ],
        rounds=25,
        reset=lambda r: _forget_tiers(store),
        check=OrganisationRepository(store).tier_checks,
    )
    for r, (*results, checks) in enumerate(rounds):
        assert sorted(results) == [False, True], (r, results)
        winner = "AB"[results.index(True)]
        assert checks == {"clients": f"{winner}{r}".encode()}, r


def test_a_profile_saved_while_the_tier_keys_are_made_keeps_them(mongo_uri, store):
    from alko_desk.storage.organisation_repo import profile_to_doc

    store.collection("meta").insert_one({"_id": "organisation", "profile": {}})
    renamed = [replace(COMPANY, name=f"ALKO {r}") for r in range(25)]
    rounds = on_connections_at_once(
        mongo_uri,
        store.db.name,
        [
            lambda s, r: OrganisationRepository(s).claim_tiers({"clients": f"K{r}".encode()}),
            lambda s, r: OrganisationRepository(s).update_profile(renamed[r]),
        ],
        rounds=25,
        reset=lambda r: _forget_tiers(store),
        check=OrganisationRepository(store).tier_checks,
    )
    for r, (claimed, _, checks) in enumerate(rounds):
        assert claimed is True, (r, claimed)
        assert checks == {"clients": f"K{r}".encode()}, r
    profile = OrganisationRepository(store).get()["profile"]
    assert profile == profile_to_doc(renamed[-1])


def test_checks_an_older_version_kept_in_the_organisation_document_stay_in_force(mongo_uri, store):
    """A database whose checks sit in the organisation document (before this change): they
    are read from there, copied once (two desks copying at once agree), and never replaced."""
    old = {"clients": b"old-clients", "ids": b"old-ids"}
    store.collection("meta").insert_one({"_id": "organisation", "profile": {}, "tiers": old})
    rounds = on_connections_at_once(
        mongo_uri,
        store.db.name,
        [lambda s, r: OrganisationRepository(s).tier_checks()] * 2,
        rounds=1,
    )
    assert rounds == [[old, old, None]]
    repo = OrganisationRepository(store)
    assert repo.claim_tiers({"clients": b"new", "ids": b"new"}) is False
    assert repo.tier_checks() == old
    assert store.collection("meta").find_one({"_id": "tiers"})["checks"] == old


# ----------------------------------------------------------------------------- logins


def _desk(mongo_uri, context, tmp_path: Path, name: str) -> tuple:
    client = connect(mongo_uri)
    desk = AppContext(
        Store.open(client, context.store.db.name),
        data_dir=tmp_path / name,
        clock=context.clock,
        password_cost=context.hasher.cost,
    )
    return client, desk


def test_two_first_logins_at_once_end_with_one_pair_of_tier_keys(
    context, make_user, mongo_uri, tmp_path
):
    """Two salespeople log in at the same moment on two desks while no tier keys exist: one
    desk's keys are kept, the other desk gets those by a grant (no forged-grant alarm), and a
    client either registers opens for the other."""
    users = ("sam", "sue")
    for name in users:
        context.auth.logout(make_user(name, Role.SALES))  # no session of this process holds keys
    opened = [_desk(mongo_uri, context, tmp_path, f"desk{i}") for i in range(2)]
    desks = [desk for _, desk in opened]
    barrier: list[threading.Barrier] = []
    for desk in desks:  # both desks reach the claim together, having both found no keys
        claim = desk.organisation_repo.claim_tiers

        def lined_up(checks, claim=claim):
            barrier[0].wait(timeout=30)
            return claim(checks)

        desk.organisation_repo.claim_tiers = lined_up
    try:
        for r in range(ROUNDS):
            _forget_tiers(context.store)
            barrier[:] = [threading.Barrier(2)]
            sessions = at_the_same_moment(
                *(
                    functools.partial(d.auth.login, u, staff_passphrase(u))
                    for d, u in zip(desks, users, strict=True)
                )
            )
            assert not [s for s in sessions if isinstance(s, Exception)], (r, sessions)
            keys = [
                {t: d.keyring.tier_key(s, t) for t in (TIER_CLIENTS, TIER_IDS)}
                for d, s in zip(desks, sessions, strict=True)
            ]
            assert keys[0] == keys[1], f"round {r}: the desks hold different tier keys"
            for desk, session in zip(desks, sessions, strict=True):
                desk.auth.logout(session)
            # a later login of either opens the same keys from its grant
            again = desks[1].auth.login(users[0], staff_passphrase(users[0]))
            assert again.tier_keys == keys[0], r
            desks[1].auth.logout(again)
            assert _forged(context) == [], r
        sam = desks[0].auth.login("sam", staff_passphrase("sam"))
        sue = desks[1].auth.login("sue", staff_passphrase("sue"))
        client = desks[0].services_for(sam).clients.register(new_client_id(), draft())
        assert desks[1].services_for(sue).clients.get(client.id).draft.email == draft().email
    finally:
        for client, _ in opened:
            client.close()


def test_a_database_whose_checks_sit_in_the_organisation_document_keeps_its_keys(
    context, make_user
):
    """Upgraded from the version that kept the checks in the organisation document."""
    sam = make_user("sam", Role.SALES)
    keys = dict(sam.tier_keys)
    client = context.services_for(sam).clients.register(new_client_id(), draft())
    context.auth.logout(sam)
    meta = context.store.collection("meta")
    checks = meta.find_one({"_id": "tiers"})["checks"]
    meta.delete_one({"_id": "tiers"})
    meta.update_one({"_id": "organisation"}, {"$set": {"tiers": checks}})

    again = context.auth.login("sam", staff_passphrase("sam"))
    assert again.tier_keys == keys
    assert context.services_for(again).clients.get(client.id).draft.email == draft().email
    assert meta.find_one({"_id": "tiers"})["checks"] == checks
    assert _forged(context) == []
