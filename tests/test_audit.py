"""The hash-chained audit log: every kind of tampering is named.

Concurrent desks: tests/test_chain_concurrency.py.
"""

from __future__ import annotations

import pytest

from alko_desk.bootstrap import AppContext
from alko_desk.storage import audit_repo
from alko_desk.storage.audit_repo import block_of, entry_id


def part(store, seq: int):
    collection, _ = store.partitioned_collection("audit").part(block_of(seq))
    return collection


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 3 entries, so that a short log spans several partitions."""
    monkeypatch.setattr(audit_repo, "BLOCK_SIZE", 3)


def record(context, count: int) -> None:
    for n in range(count):
        context.audit_log.record("admin", "test.entry", f"thing:{n}", {"n": n})


def test_an_untouched_log_verifies_across_blocks(context, small_blocks):
    record(context, 10)
    report = context.audit_log.verify()
    assert report.ok and report.checked == 10 and report.head_seq == 10
    assert len(context.store.partitioned_collection("audit").part_keys()) == 4


def test_an_entry_removed_from_the_middle_is_named(context, small_blocks):
    record(context, 8)
    part(context.store, 5).delete_one({"_id": entry_id(5)})
    report = context.audit_log.verify()
    assert not report.ok and report.first_bad_seq == 5 and report.checked == 4


def test_edited_details_are_named_even_when_the_hash_is_left_alone(context):
    record(context, 4)
    part(context.store, 3).update_one({"_id": entry_id(3)}, {"$set": {"details.n": 99}})
    report = context.audit_log.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(context):
    from alko_desk.security.audit_chain import entry_hash

    record(context, 4)
    doc = part(context.store, 2).find_one({"_id": entry_id(2)})
    doc["actor"] = "mallory"
    doc["hash"] = entry_hash(
        doc["seq"],
        doc["time"],
        doc["actor"],
        doc["action"],
        doc["target"],
        doc["details"],
        doc["prev"],
    )
    part(context.store, 2).replace_one({"_id": entry_id(2)}, doc)
    report = context.audit_log.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_a_desk_that_saw_the_head_detects_the_end_cut_even_with_the_hint_rolled_back(context):
    record(context, 5)
    for seq in (4, 5):
        part(context.store, seq).delete_one({"_id": entry_id(seq)})
    context.store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"seq": 3}})
    report = context.audit_log.verify()
    assert not report.ok and report.first_bad_seq == 4
    fresh_desk = AppContext(context.store, data_dir=context.data_dir / "other-desk")
    assert (
        fresh_desk.audit_log.verify().ok
    )  # without the anchor the cut is invisible: why it exists


def test_unreviewed_flags_are_counted_from_an_index_that_reads_each_entry_once(
    context, admin_session, small_blocks, monkeypatch
):
    audit = context.services_for(admin_session).audit
    record(context, 4)
    first = context.audit_log.record("system", "fraud.same_document", "client:a", {})
    second = context.audit_log.record("system", "fraud.same_document", "client:b", {})
    record(context, 2)
    assert audit.count_unreviewed_flags() == 2
    audit.mark_reviewed(first.seq)
    read: list[str] = []
    entries_in_block = context.audit_log._repo.entries_in_block
    monkeypatch.setattr(
        context.audit_log._repo,
        "entries_in_block",
        lambda key: read.append(key) or entries_in_block(key),
    )
    assert audit.count_unreviewed_flags() == 1
    assert [e.seq for e in audit.unreviewed_flags()] == [second.seq]
    # only the block holding the entries written since the last look was read again
    assert sorted(set(read)) == [block_of(second.seq + 3)]


def test_the_flag_index_catches_up_on_entries_another_desk_wrote(context, admin_session):
    from alko_desk.services.audit import AuditLog, HeadAnchor
    from alko_desk.storage.audit_repo import AuditRepository

    other_desk = AuditLog(AuditRepository(context.store), context.clock, HeadAnchor(None, "x"))
    audit = context.services_for(admin_session).audit
    assert audit.count_unreviewed_flags() == 0
    flagged = other_desk.record("system", "fraud.same_document", "client:a", {})
    assert [e.seq for e in audit.unreviewed_flags()] == [flagged.seq]
    other_desk.record("mia", "review.done", f"audit:{flagged.seq}", {"seq": flagged.seq})
    assert audit.count_unreviewed_flags() == 0


def test_a_flag_hidden_by_editing_the_index_in_the_database_comes_back(context, admin_session):
    # whoever can write to the database could empty the index (or move it past a flag) to
    # hide a fraud entry from the banner; the index carries a MAC, so it is read afresh
    audit = context.services_for(admin_session).audit
    record(context, 3)
    flagged = context.audit_log.record("system", "fraud.same_document", "client:a", {})
    assert audit.count_unreviewed_flags() == 1
    meta = context.store.collection("meta")
    meta.update_one({"_id": "audit_flags"}, {"$set": {"open": []}})
    assert [e.seq for e in audit.unreviewed_flags()] == [flagged.seq]
    meta.update_one({"_id": "audit_flags"}, {"$set": {"open": [], "mac": None}})
    assert audit.count_unreviewed_flags() == 1


def test_each_refusal_says_what_was_refused_and_is_itself_recorded(context, make_user):
    from alko_desk.models.audit import AuditAction, AuditFilter
    from alko_desk.models.errors import PermissionDenied
    from alko_desk.models.users import Role

    sales = context.services_for(make_user("sam", Role.SALES)).audit
    with pytest.raises(PermissionDenied, match="may not read the audit log"):
        sales.entries(AuditFilter())
    with pytest.raises(PermissionDenied, match="may not verify the audit log"):
        sales.verify()
    with pytest.raises(PermissionDenied, match="may not review the audit log"):
        sales.count_unreviewed_flags()
    denied = context.audit_log.query(AuditFilter(action_prefix=AuditAction.PERMISSION_DENIED))
    assert [(e.actor, e.details["operation"]) for e in denied[:3]] == [
        ("sam", "count flags"),
        ("sam", "verify"),
        ("sam", "read audit log"),
    ]
