"""ID documents in a showroom: desks send pages to the server over TLS; only the server holds
the Cloudinary secret, seals the pages with the client's key and uploads them.

Every byte a desk receives from the server is recorded (a transport under the desk's own
HTTP client), so that the tests can assert the secret is in none of it."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.documents import DocumentDraft, DocumentType, UploadState
from alko_desk.models.errors import AlkoError, PermissionDenied
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.storage.document_store import LocalDocumentStore, new_asset_id
from tests.clients_data import draft
from tests.conftest import ADMIN_PASSWORD, COMPANY, STAFF_PASSWORD
from tests.fake_cloudinary import FakeCloudinary
from tests.test_documents import BACK, FRONT, _assert_ciphertext_only

PASSPORT = DocumentDraft(DocumentType.PASSPORT, "HRV", "123456789")
SAM_PASSWORD = "sam chooses a long passphrase 9"


class Recorder(httpx.BaseTransport):
    """Passes requests on and keeps every response body the desk receives, as bytes."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.received: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        self.received.append(b"\n".join(f"{k}: {v}".encode() for k, v in response.headers.items()))
        self.received.append(body)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
        )


def _recorded(desk) -> Recorder:
    recorder = Recorder(desk._transport._http._transport)
    desk._transport._http._transport = recorder
    return recorder


def _forms(secret: str) -> list[bytes]:
    """The secret as text, and as base64 at each of the three alignments (bytes travel so)."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 :]
        forms.append(encoded[: len(encoded) - 4])
    return forms


@pytest.fixture
def fake():
    server = FakeCloudinary().start()
    yield server
    server.stop()


@pytest.fixture
def showroom(connect_remote, context, remote_backend, fake):
    """The server with Cloudinary set up by an admin at a desk; two desks, each recorded."""
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    remote_backend.context.document_upload_timeout = 2.0
    admin_desk, sam_desk = connect_remote(), connect_remote()
    admin_seen, sam_seen = _recorded(admin_desk), _recorded(sam_desk)
    admin = admin_desk.login("admin", ADMIN_PASSWORD)
    admin.confirm_password(ADMIN_PASSWORD)
    # The admin types the secret once; it goes to the server and never comes back.
    admin.documents.configure_cloudinary(
        fake.cloud_name, fake.api_key, fake.api_secret, upload_prefix=fake.url
    )
    admin.users.create_user("sam", "Sam Sales", Role.SALES, STAFF_PASSWORD)
    sam = sam_desk.login("sam", STAFF_PASSWORD).change_password(STAFF_PASSWORD, SAM_PASSWORD)
    return admin, sam, [admin_seen, sam_seen]


def _assert_secret_never_received(recorders, fake) -> None:
    everything = b"".join(b for r in recorders for b in r.received)
    assert everything, "nothing was recorded"
    for form in _forms(fake.api_secret):
        assert form not in everything
    assert fake.api_key.encode() not in everything  # only the masked hint travels
    assert b"cloudinary://" not in everything
    assert b"api_secret" not in everything


def test_a_remote_desk_adds_views_and_deletes_a_document_the_server_uploads(
    showroom, fake, remote_backend
):
    admin, sam, recorders = showroom
    client_id = sam.clients.register(new_client_id(), draft()).id
    info = sam.documents.add(client_id, PASSPORT, [FRONT, BACK])
    assert info.state is UploadState.STORED and len(fake.uploads) == 2
    assert fake.rejected == []
    _assert_ciphertext_only(fake.bodies, FRONT, BACK)  # sealed on the server before upload
    [listed] = sam.documents.list(client_id)
    assert (listed.id, listed.number, len(listed.pages)) == (info.id, "123456789", 2)
    assert sam.documents.view(client_id, info.id, 0).data == FRONT
    assert sam.documents.view(client_id, info.id, 1).data == BACK
    assert sam.documents.waiting_count() == 0 and sam.documents.waiting_message() == ""
    assert sam.documents.flush_outbox().waiting == 0
    sam.documents.delete(client_id, info.id)
    assert sorted(p for p, _ in fake.destroyed) == sorted(fake.uploads)
    assert fake.assets == {} and sam.documents.list(client_id) == []
    # What the admin's desk may ask about the store: a description without the secret.
    status = admin.documents.storage_status()
    assert status.kind == "cloudinary" and status.cloud_name == fake.cloud_name
    assert status.api_key_hint and status.api_key_hint != fake.api_key
    assert admin.documents.reconcile() == 0
    admin.documents.set_page_side_limit(1500)  # Settings' page size reaches every desk
    assert sam.documents.page_side_limit() == 1500
    # An export hands the pages to the desk, which writes them; nothing lands on the server.
    again = sam.documents.add(client_id, PASSPORT, [FRONT])
    sam.confirm_password(SAM_PASSWORD)
    assert [c.data for c in sam.documents.export(client_id, again.id)] == [FRONT]
    _assert_secret_never_received(recorders, fake)


def test_no_document_method_a_desk_can_call_hands_out_the_store_or_its_credentials(showroom, fake):
    admin, sam, recorders = showroom
    for services in (admin, sam):
        methods = set(dir(services.documents))
        assert "current_store" not in methods and "_credentials" not in methods
    for private in ("_credentials", "_current_store", "_store_named"):  # nor by name
        with pytest.raises(AlkoError, match="offers no"):
            sam._call("documents", private, [], {})
    _assert_secret_never_received(recorders, fake)


def test_an_upload_that_fails_waits_on_the_server_and_goes_up_from_a_desk_later(
    showroom, fake, clock
):
    _, sam, recorders = showroom
    client_id = sam.clients.register(new_client_id(), draft()).id
    fake.mode = "error500"
    info = sam.documents.add(client_id, PASSPORT, [FRONT])
    assert info.state is UploadState.WAITING
    assert sam.documents.waiting_message() == "1 document waiting to upload"
    assert sam.documents.view(client_id, info.id).data == FRONT  # from the server's outbox
    # Quitting this desk loses nothing (the page waits on the server): no question asked.
    from alko_desk.ui.documents.settings import confirm_quit_with_waiting

    class Dialogs:
        asked: list[str] = []

        def confirm(self, parent, title, text, ok_text=""):
            self.asked.append(text)
            return False

    dialogs = Dialogs()
    assert confirm_quit_with_waiting(sam.documents, dialogs, None) and dialogs.asked == []
    fake.mode = "ok"
    clock.advance(seconds=31)
    result = sam.documents.flush_outbox()
    assert (result.uploaded, result.failed, result.waiting) == (1, 0, 0)
    assert len(fake.assets) == 1
    _assert_secret_never_received(recorders, fake)


def test_only_sales_and_admins_may_remove_orphaned_uploads(desk, desk_admin, desk_user):
    """The reconciliation deletes from the store: finance and managers are refused (and the
    refusal audited) in-process and through the server alike, and the orphan stays."""
    store = LocalDocumentStore(Path(desk_admin.documents.storage_status().folder))
    orphan = new_asset_id()
    store.put(orphan, b"ciphertext a crash left without a record")
    for username, role in (("fin", Role.FINANCE), ("meg", Role.MANAGER)):
        with pytest.raises(PermissionDenied) as refused:
            desk_user(username, role).documents.reconcile()
        assert f"({role.label}) may not remove orphaned document uploads" in refused.value.message
    assert orphan in store.asset_ids()
    denials = desk_admin.audit.entries(AuditFilter(action_prefix="permission.denied"))
    assert {(d.actor, d.target, d.details["permission"]) for d in denials} == {
        ("fin", "documents", "client.write"),
        ("meg", "documents", "client.write"),
    }
    assert desk_user("sam", Role.SALES).documents.reconcile() == 1
    assert orphan not in store.asset_ids()
    [removed] = desk_admin.audit.entries(AuditFilter(action_prefix="document.orphans_removed"))
    assert (removed.actor, removed.details) == ("sam", {"count": 1})
    assert desk_admin.documents.reconcile() == 0


def test_a_desk_cannot_ask_the_server_for_a_clients_data_key(showroom):
    """The documents service asks ClientService for the client's key on the server; a desk
    calling that method by name would take the key home (found in the audit of issue 8)."""
    _, sam, _ = showroom
    client_id = sam.clients.register(new_client_id(), draft()).id
    assert "data_key_for_documents" not in dir(sam.clients)
    with pytest.raises(AlkoError, match="offers no"):
        sam._call("clients", "data_key_for_documents", [client_id], {})
