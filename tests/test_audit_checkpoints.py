"""Signed audit checkpoints catch what a database writer can do to an unkeyed hash chain:
rewrite with recomputed hashes, truncate, roll back, append a forged entry."""

from __future__ import annotations

import pytest

from alko_desk.bootstrap import AppContext
from alko_desk.models.errors import PermissionDenied
from alko_desk.models.users import Role
from alko_desk.remote.checkpoints import Checkpointer, verify_with_server_keys
from alko_desk.remote.trust import init_identity
from alko_desk.security import checkpoints as signing
from alko_desk.security.audit_chain import entry_hash
from alko_desk.storage.audit_repo import block_of, entry_id
from alko_desk.storage.checkpoints_repo import CheckpointRepository
from tests.conftest import ADMIN_PASSWORD, COMPANY


def part(store, seq: int):
    collection, _ = store.partitioned_collection("audit").part(block_of(seq))
    return collection


@pytest.fixture
def identity(tmp_path):
    return init_identity(tmp_path / "server-keys", ["127.0.0.1"])


@pytest.fixture
def signer(context, identity):
    return Checkpointer(
        context.audit_log,
        CheckpointRepository(context.store),
        identity.signing_key(),
        identity.signing_public_key(),
        context.store.db.name,
        identity.folder,
        every=5,
    )


def record(context, signer, count: int) -> None:
    for n in range(count):
        context.audit_log.record("admin", "test.entry", f"thing:{n}", {"n": n})
        signer.checkpoint()


def elsewhere(context, identity):
    """`audit verify` on the server's computer, without this desk's head anchor."""
    other = AppContext(context.store, data_dir=context.data_dir / "elsewhere")
    return other.audit_log.verify(), verify_with_server_keys(
        other, identity, other.audit_log.verify()
    )


def rewrite(store, first: int, last: int, change) -> None:
    prev = (
        part(store, first - 1).find_one({"_id": entry_id(first - 1)})["hash"] if first > 1 else None
    )
    for seq in range(first, last + 1):
        doc = part(store, seq).find_one({"_id": entry_id(seq)})
        if seq == first:
            change(doc)
        else:
            doc["prev"] = prev
        doc["hash"] = entry_hash(
            doc["seq"],
            doc["time"],
            doc["actor"],
            doc["action"],
            doc["target"],
            doc["details"],
            doc["prev"],
        )
        part(store, seq).replace_one({"_id": entry_id(seq)}, doc)
        prev = doc["hash"]
    store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"hash": prev}})


def test_the_server_signs_every_n_entries_and_the_chain_verifies(context, signer, identity):
    record(context, signer, 12)
    assert sorted(cp.seq for cp in CheckpointRepository(context.store).all()) == [5, 10]
    assert signer.newest.seq == 10
    assert all(signing.signature_valid(identity.signing_public_key(), cp) for cp in signer.known())
    plain, signed = elsewhere(context, identity)
    assert plain.ok and signed.ok and signed.head_seq == 12
    assert signer.checkpoint(force=True).seq == 12


def test_a_few_entries_are_signed_by_the_timer_once_the_interval_has_passed(context, identity):
    """Fewer than N entries still get a checkpoint "at least every minute" (here 0.3 s),
    from the server's own timer thread, without anyone asking."""
    import time

    repo = CheckpointRepository(context.store)
    signer = Checkpointer(
        context.audit_log,
        repo,
        identity.signing_key(),
        identity.signing_public_key(),
        context.store.db.name,
        identity.folder,
        every=100,
        interval=3600,
    ).start()
    try:
        for n in range(3):
            context.audit_log.record("admin", "test.entry", f"thing:{n}", {"n": n})
        assert signer.checkpoint() is None  # neither 100 entries nor the interval yet
        signer._interval = 0.3  # the interval passes (set here: a busy machine may be slow)
        deadline = time.monotonic() + 10
        while not repo.all() and time.monotonic() < deadline:
            time.sleep(0.05)
        [cp] = repo.all()
        assert cp.seq == context.audit_log.verify().head_seq
        assert signing.signature_valid(identity.signing_public_key(), cp)
    finally:
        signer.stop()


def test_a_rewrite_with_recomputed_hashes_is_detected_where_no_anchor_is(context, signer, identity):
    record(context, signer, 12)
    rewrite(context.store, 3, 12, lambda doc: doc.update(actor="mallory"))
    plain, signed = elsewhere(context, identity)
    assert plain.ok  # the unkeyed chain alone cannot tell
    assert not signed.ok and signed.first_bad_seq == 1
    assert "between 1 and 5" in signed.problem
    assert not signer.verify().ok


def test_a_truncation_with_the_head_hint_rolled_back_is_detected(context, signer, identity):
    record(context, signer, 12)
    for seq in range(8, 13):
        part(context.store, seq).delete_one({"_id": entry_id(seq)})
    context.store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"seq": 7}})
    plain, signed = elsewhere(context, identity)
    assert plain.ok
    assert not signed.ok and signed.first_bad_seq == 8
    assert "entries 8 to 10 were removed" in signed.problem


def test_a_rollback_of_the_database_with_its_checkpoints_is_caught_by_the_server_copy(
    context, signer, identity
):
    record(context, signer, 12)
    for seq in range(6, 13):
        part(context.store, seq).delete_one({"_id": entry_id(seq)})
    context.store.collection("audit_checkpoints").delete_one({"_id": entry_id(10)})
    context.store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"seq": 5}})
    plain, signed = elsewhere(context, identity)
    assert plain.ok
    assert not signed.ok and signed.first_bad_seq == 6


def test_a_forged_append_is_never_signed_and_is_named(context, signer, identity):
    record(context, signer, 12)
    writer = AppContext(context.store, data_dir=context.data_dir / "attacker")
    forged = writer.audit_log.record("admin", "user.created", "user:mallory", {"role": "admin"})
    record(context, signer, 4)
    assert signer.checkpoint(force=True) is None  # refuses to vouch past entry 13
    report = signer.verify()
    assert not report.ok and report.first_bad_seq == forged.seq == 13
    assert "not written by the server" in report.problem


def test_a_checkpoint_signed_with_another_key_is_refused(context, signer, identity, tmp_path):
    record(context, signer, 6)
    other = init_identity(tmp_path / "other-keys", [])
    fake = signing.sign(other.signing_key(), context.store.db.name, 6, "0" * 64, signer.newest.time)
    CheckpointRepository(context.store).add(fake)
    _, signed = elsewhere(context, identity)
    assert not signed.ok and "signature" in signed.problem


def test_desks_verify_through_the_server_and_only_with_the_audit_permission(
    context, identity, connect_remote, remote_backend
):
    server = remote_backend.context
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    checkpointer = Checkpointer(
        server.audit_log,
        CheckpointRepository(context.store),
        identity.signing_key(),
        identity.signing_public_key(),
        context.store.db.name,
        identity.folder,
        every=5,
    )
    server.checkpointer = checkpointer
    checkpointer._adopt()  # the setup's entries, written before the server started
    desk = connect_remote()
    admin = desk.login("admin", ADMIN_PASSWORD)
    admin.users.create_user("sam", "Sam Sales", Role.SALES, "a fine temporary passphrase 7")
    newest = checkpointer.checkpoint(force=True)
    seen = admin.extra["checkpoints"].newest()
    assert seen == newest and signing.signature_valid(identity.signing_public_key(), seen)
    assert admin.extra["checkpoints"].verify(seen).ok
    sam = desk.login("sam", "a fine temporary passphrase 7")
    with pytest.raises(PermissionDenied):
        sam.extra["checkpoints"].verify()


def test_a_desk_keeps_the_newest_checkpoint_and_catches_a_rolled_back_server(
    context, identity, connect_remote, remote_backend, tmp_path
):
    from tests.conftest import MemorySecrets

    server = remote_backend.context
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    remote_backend.identity = identity
    checkpointer = Checkpointer(
        server.audit_log,
        CheckpointRepository(context.store),
        identity.signing_key(),
        identity.signing_public_key(),
        context.store.db.name,
        identity.folder,
    )
    server.checkpointer = checkpointer
    checkpointer._adopt()
    from alko_desk.remote.trust import PinStore

    pins = PinStore(MemorySecrets())
    desk = connect_remote(pins=pins)
    admin = desk.login("admin", ADMIN_PASSWORD)
    assert desk.pin.signing_key == identity.signing_public_key()  # pinned at enrolment
    checkpointer.checkpoint(force=True)
    assert admin.verify_audit().ok
    kept = admin._checkpoints.known()
    assert kept is not None and kept.seq == checkpointer.newest.seq
    # the server's database and its own copy rolled back to before that checkpoint
    head = kept.seq
    part(context.store, head).delete_one({"_id": entry_id(head)})
    context.store.collection("audit_checkpoints").delete_many({})
    context.store.collection("meta").update_one({"_id": "audit_head"}, {"$set": {"seq": head - 1}})
    (identity.folder / "newest-checkpoint.json").unlink()
    (server.data_dir / "audit-anchor.json").unlink()
    checkpointer.newest = None
    server.audit_log._head = (0, server.audit_log._head[1])
    report = admin.verify_audit()
    assert not report.ok and report.first_bad_seq == head
    assert "server signed" in report.problem
