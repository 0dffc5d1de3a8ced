"""Change announcements and the intent log, on the real database."""

from __future__ import annotations

import pytest

from alko_desk.models.changes import ChangeKind
from alko_desk.models.users import Role
from alko_desk.services import changes as changes_module
from alko_desk.services.clients import new_client_id
from alko_desk.services.intents import IntentLog
from alko_desk.storage.intents_repo import IntentRecord
from tests.clients_data import IVAN, draft


def test_every_client_write_is_announced_and_any_role_can_read_the_feed(context, make_user):
    sales = context.services_for(make_user("sam", Role.SALES))
    finance = context.services_for(make_user("fin", Role.FINANCE))
    start = finance.changes.head()
    c = sales.clients.register(new_client_id(), draft())
    sales.clients.update(sales.clients.get(c.id), draft(city="Rijeka"))
    sales.clients.register_many([(new_client_id(), draft(**IVAN))])
    batch = finance.changes.since(start)
    assert batch.complete and batch.head == finance.changes.head() == start + 3
    assert [(ch.entity, ch.kind, ch.ids) for ch in batch.changes] == [
        ("clients", ChangeKind.ADDED, (c.id,)),
        ("clients", ChangeKind.UPDATED, (c.id,)),
        ("clients", ChangeKind.MANY, ()),
    ]
    assert [ch.seq for ch in batch.changes] == [start + 1, start + 2, start + 3]
    assert finance.changes.since(batch.head).changes == ()


def test_two_desks_never_get_the_same_change_number(context, make_user):
    from alko_desk.services.changes import ChangeLog
    from alko_desk.storage.changes_repo import ChangeRepository

    desk_a = ChangeLog(ChangeRepository(context.store), context.clock)
    desk_b = ChangeLog(ChangeRepository(context.store), context.clock)
    numbers = [desk_a.announce("x", ChangeKind.ADDED, ("1",))]
    numbers.append(desk_b.announce("x", ChangeKind.ADDED, ("2",)))  # b's hint was stale
    numbers.append(desk_a.announce("x", ChangeKind.REMOVED, ("1",)))
    assert numbers == [1, 2, 3]
    assert [c.ids for c in desk_b.since(0).changes] == [("1",), ("2",), ("1",)]


def test_a_reader_behind_the_pruned_entries_is_told_to_refresh_everything(context, monkeypatch):
    from alko_desk.services.changes import ChangeLog
    from alko_desk.storage.changes_repo import ChangeRepository

    monkeypatch.setattr(changes_module, "KEEP", 3)
    log = ChangeLog(ChangeRepository(context.store), context.clock)
    for n in range(6):
        log.announce("clients", ChangeKind.UPDATED, (str(n),))
    old = log.since(0)
    assert not old.complete and old.head == 6
    recent = log.since(4)
    assert recent.complete and [c.ids for c in recent.changes] == [("4",), ("5",)]


def test_a_write_interrupted_between_steps_is_finished_by_its_handler(context):
    log = IntentLog(context.pending_repo, context.clock)
    finished = []
    log.register("things.move", lambda intent: finished.append(intent.data["thing"]))
    with pytest.raises(RuntimeError), log.intent("things.move", "t1", thing="t1"):
        raise RuntimeError("the desk lost power here")
    assert [i.kind for i in context.pending_repo.all()] == ["things.move"]
    # the next login of this desk run: the write it gave up is finished at once
    again = IntentLog(context.pending_repo, context.clock, log.leases)
    again.register("things.move", lambda intent: finished.append(intent.data["thing"]))
    assert again.recover() == 1
    assert finished == ["t1"] and context.pending_repo.all() == []


def test_another_desks_open_intent_is_left_to_it_until_its_lease_lapses(context):
    from alko_desk.services.intents import GRACE

    desk_a = IntentLog(context.pending_repo, context.clock)
    desk_a.begin("things.move", "t1", thing="t1")  # desk A is at work on it
    desk_b = IntentLog(context.pending_repo, context.clock)  # another desk logs in
    finished = []
    desk_b.register("things.move", lambda intent: finished.append(intent.data["thing"]))
    assert desk_b.recover() == 0 and len(context.pending_repo.all()) == 1
    context.clock.advance(seconds=GRACE.total_seconds() - 60)
    desk_a.renew("things.move:t1")  # A goes on to its next batch
    context.clock.advance(seconds=120)
    assert desk_b.recover() == 0 and finished == []  # renewed a minute ago
    context.clock.advance(seconds=GRACE.total_seconds())  # A stopped renewing: it died
    assert desk_b.recover() == 1 and finished == ["t1"]
    assert context.pending_repo.all() == []


def test_a_desk_restarting_after_its_own_crash_recovers_its_intents_at_once(context):
    import subprocess
    import sys

    from alko_desk.storage.intents_repo import IntentRecord

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    here = IntentLog(context.pending_repo, context.clock).leases.writer["host"]
    dead = {"host": here, "pid": int(ended.stdout), "started": 1.0, "run": "x"}
    elsewhere = dict(dead, host="another-desk")
    for thing, writer in (("t1", dead), ("t2", elsewhere)):
        context.pending_repo.begin(
            IntentRecord(f"things.move:{thing}", "things.move", {"thing": thing},
                         context.clock.now(), writer)
        )  # fmt: skip
    finished = []
    log = IntentLog(context.pending_repo, context.clock)
    log.register("things.move", lambda intent: finished.append(intent.data["thing"]))
    # its process on this machine has ended: a crash; the other machine's may be at work
    assert log.recover() == 1 and finished == ["t1"]
    assert [i.data["thing"] for i in context.pending_repo.all()] == ["t2"]


def test_an_intent_that_cannot_be_finished_leaves_the_others_to_finish(context):
    log = IntentLog(context.pending_repo, context.clock)
    for thing in ("t1", "t2", "t3"):
        log.abandon(log.begin("things.move", thing, thing=thing))  # each step failed
    finished, tries = [], []

    def move(intent):
        tries.append(intent.data["thing"])
        if intent.data["thing"] == "t2":
            raise RuntimeError("an edited record")
        finished.append(intent.data["thing"])

    log.register("things.move", move)
    assert log.recover() == 2
    assert sorted(finished) == ["t1", "t3"] and tries.count("t2") == 1  # tried once per login
    assert [i.data["thing"] for i in context.pending_repo.all()] == ["t2"]  # for the next one


def test_an_interrupted_edit_is_reindexed_at_next_login(context, make_user):
    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    c = clients.register(new_client_id(), draft())
    record = context.clients_repo.get(c.id)
    # Crash after the document was saved with a new name, before the list was updated.
    from dataclasses import replace

    context.pending_repo.begin(
        IntentRecord(
            f"clients.reindex:{c.id}",
            "clients.reindex",
            {"client_id": c.id, "old_lk": record.lookups},
        )
    )
    # the document as the edit saves it: fields sealed for version 2, signed
    cipher = clients._cipher(c.id)
    edited = replace(clients._draft(record, cipher, masked=False), last_name="Horvat")
    saved = replace(
        record, version=2, last_name="Horvat", sealed=clients._sealed(edited, cipher, 2)
    )
    assert context.clients_repo.update_if_version(clients._signed(saved), 1)
    assert [r.display_name for r in clients.search("horvat")] == []
    again = context.auth.login("sam", "sam chooses a long passphrase 9")
    assert context.finish_interrupted_work(again) == 1
    assert [r.display_name for r in clients.search("horvat")] == ["Željko Horvat"]
    assert clients.search("kovač") == []


def test_an_upgraded_database_builds_the_client_list_at_the_first_login(context, make_user):
    from alko_desk.storage.schema import _m2_client_list_index

    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    ids = {clients.register(new_client_id(), draft(**IVAN)).id}
    ana = draft("Ana", "Babić", email="ana@example.hr", phone="", id_number="998877001")
    ids.add(clients.register(new_client_id(), ana).id)
    context.store.db.drop_collection("ix_clients")  # the list of an older version: none
    context.client_list_repo.clear_cache()
    assert clients.count() == 0
    _m2_client_list_index(context.store)  # what ensure_schema runs once on such a database
    assert [i.kind for i in context.pending_repo.all()] == ["clients.rebuild_list"]
    context.finish_interrupted_work(context.auth.login("sam", "sam chooses a long passphrase 9"))
    assert {r.id for r in clients.page(0, 10)} == ids and clients.count() == 2
    assert [r.display_name for r in clients.search("bab")] == ["Ana Babić"]


def test_batches_stored_but_not_yet_listed_are_listed_at_next_login(context, make_user):
    from alko_desk.services.clients import ClientBatch
    from alko_desk.services.demo import DemoSeeder

    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    seeder = DemoSeeder(clients, seed=3)
    stored = [seeder.drafts(4, 0), seeder.drafts(3, 4)]

    def batches():
        yield from (ClientBatch(items) for items in stored)
        raise RuntimeError("the desk lost power before the list was built")

    with pytest.raises(RuntimeError):
        clients.register_batches(batches())
    assert clients.count() == 0  # stored, not yet listed
    assert [i.kind for i in context.pending_repo.all()] == ["clients.import"] * 2
    again = context.auth.login("sam", "sam chooses a long passphrase 9")
    assert context.finish_interrupted_work(again) == 2
    ids = {cid for items in stored for cid, _ in items}
    assert {r.id for r in clients.page(0, 10)} == ids and clients.count() == 7


def test_a_bad_row_in_a_later_batch_leaves_the_earlier_batches_listed(context, make_user):
    from dataclasses import replace

    from alko_desk.models.errors import ValidationError
    from alko_desk.services.clients import ClientBatch
    from alko_desk.services.demo import DemoSeeder

    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    seeder = DemoSeeder(clients, seed=5)
    good = seeder.drafts(3, 0)
    (bad_id, bad_draft), *rest = seeder.drafts(2, 3)
    bad = [(bad_id, replace(bad_draft, email="not an email")), *rest]
    with pytest.raises(ValidationError):
        clients.register_batches([ClientBatch(good), ClientBatch(bad)])
    assert {r.id for r in clients.page(0, 10)} == {cid for cid, _ in good}  # seen at once
    assert context.pending_repo.all() == []


def test_sessions_are_built_on_a_cached_profile_that_a_settings_change_drops(
    context, admin_session, monkeypatch
):
    from dataclasses import replace

    admin = context.services_for(admin_session)
    reads: list[int] = []
    profile = context.organisation_repo.profile
    monkeypatch.setattr(context.organisation_repo, "profile", lambda: reads.append(1) or profile())
    for _ in range(3):
        assert context.services_for(admin_session).vehicles.currency == "EUR"
    assert reads == []
    start = admin.changes.head()
    admin.settings.update_company(replace(admin.settings.company(), currency="USD"))
    changes = admin.changes.since(start).changes
    assert [(c.entity, c.kind) for c in changes] == [("settings", ChangeKind.UPDATED)]
    assert context.services_for(admin_session).vehicles.currency == "USD"
