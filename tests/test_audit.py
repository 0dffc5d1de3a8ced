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
