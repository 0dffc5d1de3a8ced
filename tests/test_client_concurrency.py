"""Two processes (two desks) save an edit of the same client from the same version: one wins.

FerretDB 1.24 does not apply `update_one({_id, version: n})` atomically (two connections can
both match); the compare-and-set in storage/records.py must still let exactly one through.
"""

from __future__ import annotations

import os
from dataclasses import replace

from alko_desk.models.errors import ConcurrentModification
from alko_desk.models.users import Role
from tests.clients_data import draft
from tests.desks import race

ROUNDS = int(os.environ.get("ALKO_CLIENT_EDIT_ROUNDS", "20"))


def _edit_rounds(services, username: str, barrier, results, client_id: str, rounds: int):
    clients = services.clients
    for n in range(rounds):
        base = clients.get(client_id)
        barrier.wait(timeout=60)  # both hold the same version
        edit = replace(base.draft, notes=f"round {n} by {username}")
        barrier.wait(timeout=60)
        try:
            clients.update(base, edit)
            results.put((n, username, "saved", base.version))
        except ConcurrentModification:
            results.put((n, username, "conflict", base.version))
        barrier.wait(timeout=60)  # the next round starts from what won


def test_two_desks_editing_the_same_client_version_get_one_save_each_round(
    context, make_user, mongo_uri, tmp_path
):
    sam = context.services_for(make_user("sam", Role.SALES))
    make_user("sara", Role.SALES)
    client_id = "c" + os.urandom(8).hex()
    sam.clients.register(client_id, draft())
    outcomes = race(
        context,
        mongo_uri,
        tmp_path,
        _edit_rounds,
        client_id,
        ROUNDS,
        expect=2 * ROUNDS,
        timeout=180,
    )
    both_saved = []
    for n in range(ROUNDS):
        mine = [o for o in outcomes if o[0] == n]
        assert mine[0][3] == mine[1][3], mine  # the same base version
        if all(o[2] == "saved" for o in mine):
            both_saved.append(n)
        else:
            assert sorted(o[2] for o in mine) == ["conflict", "saved"], mine
    assert both_saved == [], f"both desks saved in rounds {both_saved} of {ROUNDS}"
    final = sam.clients.get(client_id)
    assert final.version == 1 + ROUNDS  # one save per round, none lost or doubled
