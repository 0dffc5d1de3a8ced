"""The showroom server: sessions, trust, streaming and change announcements over real TLS."""

import hashlib
import os
import threading
import time
import uuid

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.changes import ChangeKind
from alko_desk.models.errors import (
    AccountLocked,
    AlkoError,
    AuthenticationError,
    PermissionDenied,
)
from alko_desk.models.remote import ServerUntrusted, SessionEnded
from alko_desk.models.users import Permission
from alko_desk.remote.desk import RemoteDesk
from alko_desk.remote.server import Backend, RunningServer
from alko_desk.remote.trust import PinStore, init_identity
from alko_desk.secrets import SecretStore
from alko_desk.services.base import SessionService
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft
from tests.conftest import ADMIN_PASSWORD, SAM_PASSWORD, MemorySecrets
from tests.desks import all_at_once


def _audit(context, prefix):
    return context.audit_log.query(AuditFilter(action_prefix=prefix))


# ----------------------------------------------------------------------------- sessions


def test_a_disabled_accounts_token_stops_working_at_once(context, admin, sam):
    assert sam.clients.count() == 0
    admin.users.set_active("sam", False)
    with pytest.raises(SessionEnded) as ended:
        sam.clients.count()
    assert ended.value.reason == "disabled" and "disabled" in ended.value.message
    with pytest.raises(SessionEnded):  # and it stays dead after re-enabling
        admin.users.set_active("sam", True) or sam.clients.count()
    revoked = _audit(context, "session.revoked")
    assert revoked[0].target == "user:sam" and revoked[0].details["reason"] == "disabled"


def test_a_role_edited_in_the_database_ends_the_session_instead_of_granting_the_role(
    context, remote, sam
):
    context.store.db["users"].update_one({"_id": "sam"}, {"$set": {"role": "admin"}})
    with pytest.raises(SessionEnded) as ended:
        sam.users.list_users()
    assert ended.value.reason == "role_changed"


def test_an_admin_password_reset_ends_the_other_session(admin, sam):
    admin.confirm_password(ADMIN_PASSWORD)
    admin.users.reset_password("sam", "a brand new temporary phrase")
    with pytest.raises(SessionEnded) as ended:
        sam.clients.count()
    assert ended.value.reason == "password_reset"


def test_the_session_expires_with_the_desk_lock_and_unlocking_logs_in_again(clock, admin, sam):
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(SessionEnded) as ended:
        sam.clients.count()
    assert ended.value.reason == "idle"
    sam.confirm_password(SAM_PASSWORD)  # the unlock dialog
    assert sam.clients.count() == 0


def test_wrong_passwords_at_the_unlock_end_the_session(remote, sam):
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            sam.confirm_password("not my password at all")
    with pytest.raises(SessionEnded) as ended:
        sam.confirm_password("not my password at all")
    assert ended.value.reason == "reauth_failures"
    with pytest.raises(SessionEnded):
        sam.confirm_password(SAM_PASSWORD)


def test_logout_drops_the_session_and_zeroes_its_organisation_key(remote_backend, sam):
    (entry,) = [e for e in remote_backend._sessions.values() if e.session.user.username == "sam"]
    key = entry.session.org_key
    assert key != bytes(32)
    before = remote_backend.session_count()
    sam.logout()
    assert remote_backend.session_count() == before - 1
    assert key == bytes(32) and entry.session.org_key == b""
    with pytest.raises(SessionEnded):
        sam.clients.count()


def test_parallel_wrong_passwords_are_each_counted_and_the_lockout_holds(context, remote, sam):
    outcomes = all_at_once(lambda: remote.login("sam", "wrong password, wrong!"), 12)
    assert len(outcomes) == 12
    assert outcomes.count(AuthenticationError) == 4  # the fifth locks
    assert outcomes.count(AccountLocked) == 8
    assert len(_audit(context, "login.failed")) == 5
    with pytest.raises(AccountLocked):
        remote.login("sam", SAM_PASSWORD)


def test_only_public_methods_of_registered_services_can_be_called(remote, sam):
    for service, method in [
        ("clients", "_load"),
        ("clients", "__init__"),
        ("clients", "actor"),
        ("clients", "record_purchase"),  # between services only: a desk may not call it
        ("session", "can"),
        ("extra", "get"),
        ("os", "system"),
    ]:
        with pytest.raises(AlkoError, match="offers no"):
            sam._call(service, method, [], {})
    with pytest.raises(AttributeError):
        sam.clients._load  # noqa: B018 - the proxy has no private methods either


def test_what_only_invoicing_does_to_a_deal_cannot_be_called_from_a_desk(remote, sam):
    """Invoicing marks a deal invoiced (the car sold, the client a customer) once the invoice
    exists; a desk calling it with any number would skip the invoice, and create_many (demo
    data) back-dates deals (found in the audit)."""
    offered = set(dir(sam.deals))
    assert {"get", "create"} <= offered
    for method in ("mark_invoiced", "invoice_credited", "create_many"):
        assert method not in offered
        with pytest.raises(AlkoError, match="offers no"):
            sam._call("deals", method, [], {})


def test_bulk_registration_without_the_duplicate_checks_is_not_callable_from_a_desk(remote, sam):
    """register_many/register_batches (demo seeding) skip the duplicate and identity-conflict
    checks, back-date consent and re-list an existing id: a sales desk could use them to
    register an ID number another client holds, unflagged (found in the audit)."""
    offered = set(dir(sam.clients))
    assert "register" in offered
    for method in ("register_many", "register_batches"):
        assert method not in offered
        with pytest.raises(AlkoError, match="offers no"):
            sam._call("clients", method, [[]], {})


def test_a_call_without_a_valid_token_is_refused(remote, sam):
    sam._token = "forged-" + uuid.uuid4().hex
    with pytest.raises(SessionEnded):
        sam.clients.count()


# ----------------------------------------------------------------------------- streaming


class BlobService(SessionService):
    """A stand-in for the PDF and scan services of later issues."""

    def __init__(self, session, audit, clock, blob: bytes) -> None:
        super().__init__(session, audit, clock)
        self._blob = blob

    def document(self) -> bytes:
        self._require(Permission.CLIENT_READ, "read documents")
        return self._blob

    def chunks(self, n: int):
        self._require(Permission.USER_ADMIN, "export everything")
        for i in range(n):
            yield bytes([i % 256]) * 100_000


def test_a_binary_result_is_streamed_intact(remote_backend, context, remote, sam, admin):
    blob = os.urandom(3 * 1024 * 1024 + 17)
    real = remote_backend.context.services_for

    def with_blobs(session):
        services = real(session)
        services.extra["blobs"] = BlobService(
            session, remote_backend.context.audit_log, context.clock, blob
        )
        return services

    remote_backend.context.services_for = with_blobs
    sam = remote.login("sam", SAM_PASSWORD)
    admin = remote.login("admin", ADMIN_PASSWORD)
    got = sam.extra["blobs"].document()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob).hexdigest()
    with pytest.raises(PermissionDenied):
        admin.extra["blobs"].document()
    with pytest.raises(PermissionDenied):  # a refusal in a generator is still a domain error
        sam.extra["blobs"].chunks(3)
    streamed = admin.extra["blobs"].chunks(30)
    assert len(streamed) == 3_000_000 and streamed[-1] == 29


# ----------------------------------------------------------------------------- changes


def test_a_client_registered_on_one_desk_is_announced_to_another_within_2_s(
    connect_remote, remote, sam
):
    other = connect_remote().login("sam", SAM_PASSWORD)
    head = other.wait_for_changes(0).head
    got = {}

    def watch():
        started = time.monotonic()
        got["batch"] = other.wait_for_changes(head, wait=10)
        got["seconds"] = time.monotonic() - started

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.3)
    client = sam.clients.register(new_client_id(), draft())
    watcher.join(timeout=10)
    batch = got["batch"]
    assert got["seconds"] < 2
    assert [(c.entity, c.kind, c.ids) for c in batch.changes] == [
        ("clients", ChangeKind.ADDED, (client.id,))
    ]
    assert other.wait_for_changes(batch.head, wait=0.2).changes == ()


# ----------------------------------------------------------------------------- trust


@pytest.fixture
def keyring_pins():
    store = SecretStore()
    if not store.available:
        pytest.skip("no Secret Service in this session")
    pins = PinStore(store)
    yield pins


def _serve(backend, identity, port=0):
    return RunningServer(backend, identity, "127.0.0.1", port).start()


def test_a_different_certificate_at_the_same_address_is_refused(
    tmp_path, context, remote_backend, keyring_pins
):
    first = init_identity(tmp_path / "first", ["127.0.0.1"])
    second = init_identity(tmp_path / "second", ["127.0.0.1"])
    server = _serve(Backend(remote_backend.context, first), first)
    address = f"127.0.0.1:{server.port}"
    try:
        with pytest.raises(ServerUntrusted, match="does not know"):
            RemoteDesk(address, pins=keyring_pins)
        desk = RemoteDesk(address, pins=keyring_pins, confirm=lambda fp: fp == first.fingerprint())
        desk.close()
        assert keyring_pins.get(address).fingerprint == first.fingerprint()
        assert keyring_pins.get(address).signing_key == first.signing_public_key()
        RemoteDesk(address, pins=keyring_pins).close()  # pinned: no question the second time
        port = server.port
        server.stop()
        server = _serve(Backend(remote_backend.context, second), second, port)
        with pytest.raises(ServerUntrusted, match="different certificate") as refused:
            RemoteDesk(address, pins=keyring_pins)
        assert second.fingerprint() in refused.value.hint
        assert first.fingerprint() in refused.value.hint
    finally:
        server.stop()
        keyring_pins.set(address, None)


def test_a_mistyped_fingerprint_is_refused_and_nothing_is_pinned(server_address, remote_backend):
    pins = PinStore(MemorySecrets())
    with pytest.raises(ServerUntrusted, match="another fingerprint"):
        RemoteDesk(server_address, pins=pins, fingerprint="AB:" * 31 + "AB")
    assert pins.get(server_address) is None


def test_an_enrolment_code_pins_the_server_once(server_address, remote_backend, server_identity):
    code = server_identity.new_enrolment_code()
    with pytest.raises(ServerUntrusted, match="enrolment code"):
        RemoteDesk(server_address, pins=PinStore(MemorySecrets()), enrolment_code="AAAA-BBBB")
    pins = PinStore(MemorySecrets())
    RemoteDesk(server_address, pins=pins, enrolment_code=code.lower()).close()
    assert pins.get(server_address).fingerprint == server_identity.fingerprint()
    with pytest.raises(ServerUntrusted):  # used up
        RemoteDesk(server_address, pins=PinStore(MemorySecrets()), enrolment_code=code)


def test_sessions_of_desks_that_never_came_back_are_swept_with_their_keys(
    clock, remote_backend, remote, sam
):
    (entry,) = [e for e in remote_backend._sessions.values() if e.session.user.username == "sam"]
    key = entry.session.org_key
    clock.advance(minutes=5, seconds=1)
    assert remote_backend.sweep(force=True) >= 1
    assert key == bytes(32) and remote_backend.session_count() == 0
