"""Two desks append to one audit log at once; the chain stays whole and verifiable."""

import threading
from pathlib import Path

from alko_desk.services.audit import AuditLog, HeadAnchor
from alko_desk.storage.audit_repo import AuditRepository


def test_two_desks_appending_at_once_keep_one_unbroken_chain(store, clock, tmp_path):
    desks = [
        AuditLog(AuditRepository(store), clock, HeadAnchor(Path(tmp_path) / f"a{i}.json", "t"))
        for i in range(2)
    ]

    def work(log: AuditLog, name: str) -> None:
        for n in range(40):
            log.record(name, "test.append", f"item:{n}")

    threads = [threading.Thread(target=work, args=(log, f"desk{i}")) for i, log in enumerate(desks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = desks[0].verify()
    assert report.ok, report.problem
    assert report.checked == 80 and report.head_seq == 80
    assert desks[1].verify().ok


def test_a_desk_that_crashed_before_moving_the_head_hint_does_not_fork_the_chain(
    store, clock, tmp_path
):
    repo = AuditRepository(store)
    first = AuditLog(repo, clock, HeadAnchor(None, "t"))
    first.record("a", "one")
    first.record("a", "two")
    store.db.meta.update_one(
        {"_id": "audit_head"}, {"$set": {"seq": 1, "hash": None}}
    )  # stale hint
    second = AuditLog(repo, clock, HeadAnchor(None, "t"))
    entry = second.record("b", "three")
    assert entry.seq == 3
    assert second.verify().ok
