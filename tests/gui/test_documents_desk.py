"""ID documents reachable from the desk: the Clients page's Documents tab, the admin's
document store settings, retries of waiting uploads and the question before quitting.

Real widgets, the test's FerretDB, and the loopback Cloudinary of tests/fake_cloudinary.py.
Screenshots at the size of a 1366×768 screen go to ALKO_SCREENSHOTS (else a temporary folder).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from alko_desk.models.audit import AuditFilter
from alko_desk.models.documents import DocumentDraft, DocumentType, UploadState
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.storage.document_store import StoreUnavailable
from alko_desk.ui.clients.page import ClientsPage
from alko_desk.ui.documents.uploads import UploadRetrier
from alko_desk.ui.main_window import MainWindow
from alko_desk.ui.settings_page import SettingsPage
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft
from tests.fake_cloudinary import FakeCloudinary
from tests.gui.layout_checks import clipped, overlaps
from tests.mrz_images import render_document
from tests.test_mrz import VALID_TD3

pytestmark = pytest.mark.gui
WAIT = 10_000
LEFT = Qt.MouseButton.LeftButton


_OPEN: list = []  # pages and windows whose timers stop before their task runner goes


@pytest.fixture
def runner(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    for widget in _OPEN:
        if isinstance(widget, MainWindow):
            widget.close_quietly()
        else:
            widget.presenter.stop()
    _OPEN.clear()
    runner.wait_for_done(10_000)
    qapp.processEvents()


def session_tasks(context, runner, session):
    return runner.for_session(lambda pw: context.auth.confirm_password(session, pw))


def _window(qtbot, context, services, tasks) -> MainWindow:
    window = MainWindow(context, services, tasks)
    qtbot.addWidget(window)
    _OPEN.append(window)
    return window


@pytest.fixture
def passport(tmp_path):
    path = tmp_path / "passport.png"
    render_document(VALID_TD3, dpi=300).save(path)
    return path


@pytest.fixture
def fake():
    server = FakeCloudinary().start()
    yield server
    server.stop()


def _draft(number="123456789"):
    return DocumentDraft(DocumentType.PASSPORT, "HRV", number)


def _clients_page(qtbot, context, services, tasks) -> ClientsPage:
    page = ClientsPage(context, services, tasks)
    qtbot.addWidget(page)
    _OPEN.append(page)
    page.resize(1176, 700)  # the page of a 1366×768 window
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.loading, timeout=WAIT)
    return page


def _highlight(qtbot, page: ClientsPage, client_id: str) -> None:
    page.view.selectRow(page.model.row_of(client_id))
    qtbot.waitUntil(
        lambda: (
            page.detail.client_id == client_id
            and page.detail.stack.currentWidget() is page.detail.client_page
        ),
        timeout=WAIT,
    )


def _documents_tab(page: ClientsPage):
    page.detail.tabs.setCurrentWidget(page.documents_panel)
    return page.documents_panel


def test_the_documents_tab_follows_the_highlighted_client(
    qtbot, context, make_user, runner, passport
):
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    ana = sales.clients.register(new_client_id(), draft()).id
    ivan = sales.clients.register(new_client_id(), draft(**IVAN)).id
    sales.documents.add(ana, _draft(), [passport.read_bytes()])
    page = _clients_page(qtbot, context, sales, session_tasks(context, runner, session))
    assert page.detail.tabs.count() == 2 and page.detail.tabs.tabBar().isVisible() is False

    _highlight(qtbot, page, ana)
    panel = _documents_tab(page)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT)
    assert panel.table.item(0, 2).text() == "123456789"
    assert page.detail.tabs.tabText(1) == "Documents (1)"
    assert panel.add_button.isVisible() and panel.add_button.isEnabled()

    _highlight(qtbot, page, ivan)  # another client: the first one's rows go at once
    assert panel.client_id == ivan
    qtbot.waitUntil(lambda: panel.empty.isVisible(), timeout=WAIT)
    assert panel.table.rowCount() == 0 and page.detail.tabs.tabText(1) == "Documents"

    page.view.selectionModel().clearSelection()  # nothing highlighted: nothing shown
    qtbot.waitUntil(lambda: page.detail.client is None, timeout=WAIT)
    assert panel.client_id == "" and panel.table.rowCount() == 0
    assert not panel.add_button.isEnabled()


@pytest.mark.parametrize("role", [Role.FINANCE, Role.MANAGER])
def test_who_sees_documents_in_the_clients_page(qtbot, context, make_user, runner, role):
    sam = context.services_for(make_user("sam", Role.SALES))
    sam.clients.register(new_client_id(), draft())
    session = make_user("other", role)
    page = _clients_page(
        qtbot, context, context.services_for(session), session_tasks(context, runner, session)
    )
    if role is Role.FINANCE:
        assert page.documents_panel is None and page.detail.tabs.count() == 1
    else:  # managers view documents; adding and deleting is for sales
        assert page.documents_panel is not None
        assert not page.documents_panel.add_button.isVisibleTo(page.documents_panel)
        assert not page.documents_panel.delete_button.isVisibleTo(page.documents_panel)
        assert page.documents_panel.view_button.isVisibleTo(page.documents_panel)


def test_add_document_captures_for_the_highlighted_client_and_the_mrz_is_compared(
    qtbot, context, make_user, runner, passport, shots
):
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    ana = sales.clients.register(new_client_id(), draft()).id
    page = _clients_page(qtbot, context, sales, session_tasks(context, runner, session))
    _highlight(qtbot, page, ana)
    panel = _documents_tab(page)
    qtbot.waitUntil(lambda: panel.empty.isVisible(), timeout=WAIT)
    qtbot.wait(50)
    assert clipped(page) == [] and overlaps(page) == []
    page.grab().save(str(shots / "clients-documents-empty.png"))

    qtbot.mouseClick(panel.add_button, LEFT)
    dialog = panel.capture
    assert dialog is not None and dialog.isVisible() and dialog.client_id == ana
    assert dialog.client_fields["last_name"] == sales.clients.get(ana).draft.last_name
    dialog.load_files([passport])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=WAIT)
    with qtbot.waitSignal(dialog.mrz_shown, timeout=20_000):
        qtbot.mouseClick(dialog.read_button, LEFT)
    assert dialog.reading is not None and dialog.reading.document_number
    assert dialog.is_red("client.last_name")  # the specimen is not this client: shown in red
    for key in ("doc.type", "doc.country", "doc.number", "doc.expiry"):
        dialog.tick(key)
    qtbot.mouseClick(dialog.apply_button, LEFT)
    assert dialog.number_edit.text() == dialog.reading.document_number
    qtbot.wait(50)
    assert clipped(dialog) == []
    dialog.grab().save(str(shots / "documents-capture.png"))
    with qtbot.waitSignal(panel.refreshed, timeout=WAIT):
        qtbot.mouseClick(dialog.save_button, LEFT)
    assert panel.table.rowCount() == 1 and page.detail.tabs.tabText(1) == "Documents (1)"
    qtbot.wait(50)
    assert not panel.table.horizontalScrollBar().isVisible()  # every column in view
    assert [d.number for d in sales.documents.list(ana)] == [dialog.reading.document_number]
    qtbot.wait(50)
    assert clipped(page) == [] and overlaps(page) == []
    page.grab().save(str(shots / "clients-documents.png"))


def test_pages_are_downscaled_to_the_size_chosen_in_settings(
    qtbot, context, admin_session, make_user, runner, tmp_path
):
    from PIL import Image

    context.services_for(admin_session).documents.set_page_side_limit(900)
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    ana = sales.clients.register(new_client_id(), draft()).id
    page = _clients_page(qtbot, context, sales, session_tasks(context, runner, session))
    _highlight(qtbot, page, ana)
    panel = _documents_tab(page)
    qtbot.waitUntil(lambda: panel.empty.isVisible(), timeout=WAIT)
    assert panel.max_side == 900
    qtbot.mouseClick(panel.add_button, LEFT)
    dialog = panel.capture
    big = tmp_path / "scan.png"
    Image.new("RGB", (3000, 1800), "white").save(big)
    dialog.load_files([big])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=WAIT)
    assert dialog.max_side == 900 and dialog.pages[0].size == (900, 540)
    dialog.reject()


def test_a_waiting_upload_is_retried_by_the_window_timer_and_the_count_goes(
    qtbot, context, admin_session, make_user, runner, passport, fake, shots
):
    context.document_upload_timeout = 0.5
    context.services_for(admin_session).documents.configure_cloudinary(
        fake.cloud_name, fake.api_key, fake.api_secret, upload_prefix=fake.url
    )
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    ana = sales.clients.register(new_client_id(), draft()).id
    fake.mode = "error500"
    sales.documents.add(ana, _draft(), [passport.read_bytes()])
    assert sales.documents.waiting_message() == "1 document waiting to upload"

    window = _window(qtbot, context, sales, session_tasks(context, runner, session))
    window.resize(1366, 768)
    window.show()
    uploads = window.uploads
    qtbot.waitUntil(lambda: window.uploads_label.isVisible(), timeout=WAIT)
    assert window.uploads_label.text() == "1 document waiting to upload"
    page = window.show_section("clients")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT)
    _highlight(qtbot, page, ana)
    panel = _documents_tab(page)
    qtbot.waitUntil(lambda: panel.waiting.isVisible(), timeout=WAIT)
    assert panel.table.item(0, 5).text() == "waiting to upload"
    qtbot.wait(50)
    assert clipped(window) == [] and overlaps(window) == []
    window.grab().save(str(shots / "window-documents-waiting.png"))

    # Still failing: the timer waits twice as long next time (and never on the GUI thread).
    context.clock.advance(minutes=2)
    first = uploads.interval_ms
    with qtbot.waitSignal(uploads.round_done, timeout=WAIT):
        uploads.retry_now()
    assert uploads.interval_ms == 2 * first and uploads.timer.isActive()

    fake.mode = "ok"  # the network is back
    context.clock.advance(minutes=5)
    with qtbot.waitSignal(uploads.round_done, timeout=WAIT) as round_:
        uploads.retry_now()
    assert round_.args == [1, 0] and uploads.interval_ms == uploads.first_ms
    qtbot.waitUntil(lambda: not window.uploads_label.isVisible(), timeout=WAIT)
    assert len(fake.uploads) == 1
    assert sales.documents.list(ana)[0].state is UploadState.STORED

    # The first round without a failure also ran the periodic reconciliation (sales may).
    assert uploads.reconcile and uploads.next_reconcile > 0
    orphan = f"{next(iter(fake.uploads)).split('/')[0]}/{'0' * 32}"
    fake.assets[orphan] = b"left by a crash"
    uploads.next_reconcile = 0.0  # due again
    with qtbot.waitSignal(uploads.reconciled, timeout=WAIT) as removed:
        uploads.retry_now()
    assert removed.args == [1] and orphan not in fake.assets and len(fake.assets) == 1


def test_the_timer_round_runs_in_a_worker_and_backs_off_on_errors(qtbot, runner):
    import threading

    threads = []

    class Broken:
        def flush_outbox(self):
            threads.append(threading.current_thread())
            raise OSError("database away")

        def waiting_message(self):
            return ""

    uploads = UploadRetrier(Broken(), runner, first_ms=40, longest_ms=100)
    uploads.start(delay_ms=0)
    qtbot.waitUntil(lambda: len(threads) >= 3, timeout=WAIT)
    uploads.stop()
    assert threading.main_thread() not in threads
    assert uploads.interval_ms == 100  # 40 → 80 → at most 100


def test_quit_and_logout_with_documents_waiting_ask_first(
    qtbot, context, admin_session, make_user, runner, dialogs, passport
):
    context.document_upload_timeout = 0.5
    context.services_for(admin_session).documents.configure_cloudinary(
        "alko-test", "123456789012345", "s3cr3t-api-secret", upload_prefix="http://127.0.0.1:9"
    )
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    window = _window(qtbot, context, sales, session_tasks(context, runner, session))
    window.show()
    quits, logouts = [], []
    window.quit_requested.connect(lambda: quits.append(1))
    window.logout_requested.connect(lambda: logouts.append(1))
    window.logout_action.trigger()  # nothing waiting: no question
    assert logouts == [1] and dialogs.confirms == []
    window._leave_confirmed = False

    ana = sales.clients.register(new_client_id(), draft()).id
    sales.documents.add(ana, _draft(), [passport.read_bytes()])
    dialogs.confirm_answer = False
    window.quit_action.trigger()
    window.logout_action.trigger()
    assert quits == [] and logouts == [1] and len(dialogs.confirms) == 2
    assert dialogs.confirms[0].startswith("1 document waiting to upload on this desk.")
    window.close()  # the title bar's close button asks too, and stays open on "no"
    assert window.isVisible() and quits == []

    dialogs.confirm_answer = True
    window.quit_action.trigger()
    assert quits == [1]
    window.close()  # confirmed once: not asked again
    assert len(dialogs.confirms) == 4 and not window.isVisible()
    QApplication.processEvents()


def test_admin_settings_choose_the_document_store_after_the_password_again(
    qtbot, context, admin_session, runner, dialogs, tmp_path, shots
):
    from tests.conftest import ADMIN_PASSWORD

    services = context.services_for(admin_session)
    page = SettingsPage(context, services, session_tasks(context, runner, admin_session))
    qtbot.addWidget(page)
    page.resize(1176, 700)
    page.show()
    store = page.document_store
    assert store is not None
    qtbot.waitUntil(lambda: "Encrypted folder" in store.status.text(), timeout=WAIT)

    context.clock.advance(minutes=30)  # the login is no longer recent
    dialogs.password_answers = [ADMIN_PASSWORD]
    dialogs.confirm_answer = False  # the offer to move the documents: not now
    store.cloud_name.setText("alko-cars")
    store.api_key.setText("123456789012345")
    qtbot.keyClicks(store.api_secret, "a-long-api-secret")
    with qtbot.waitSignal(store.saved, timeout=WAIT):
        qtbot.mouseClick(store.save_button, LEFT)
    assert len(dialogs.password_prompts) == 1 and store.api_secret.text() == ""
    qtbot.waitUntil(lambda: "Cloudinary (cloud alko-cars" in store.status.text(), timeout=WAIT)
    assert (
        len(dialogs.confirms) == 1 and "Move them to the store now in use?" in dialogs.confirms[0]
    )
    assert store.migrate_status.text() == ""  # declined: nothing moved

    folder = tmp_path / "shared-documents"
    folder.mkdir()
    store.local_folder.setText(str(folder))
    dialogs.confirm_answer = True  # this time the documents move at once
    with qtbot.waitSignal(store.saved, timeout=WAIT):
        qtbot.mouseClick(store.local_button, LEFT)
    qtbot.waitUntil(lambda: str(folder) in store.status.text(), timeout=WAIT)
    assert services.documents.storage_status().folder == str(folder)
    assert len(dialogs.confirms) == 2
    assert store.page_side.value() == 2000  # the default, read from the service
    store.page_side.setValue(1600)
    with qtbot.waitSignal(store.saved, timeout=WAIT):
        qtbot.mouseClick(store.page_side_button, LEFT)
    assert services.documents.page_side_limit() == 1600
    qtbot.waitUntil(lambda: store.migrate_status.text() == "0 page(s) moved.", timeout=WAIT)
    assert [
        e.details for e in services.audit.entries(AuditFilter(action_prefix="document.mig"))
    ] == [{"pages": 0, "to": "local"}]
    page.findChildren(QScrollArea)[0].ensureWidgetVisible(store.migrate_button)
    qtbot.wait(50)
    assert clipped(page) == [] and overlaps(page) == []
    page.grab().save(str(shots / "settings-documents.png"))


def test_finance_has_no_documents_yet_the_window_still_retries(qtbot, context, make_user, runner):
    session = make_user("fin", Role.FINANCE)
    window = _window(
        qtbot, context, context.services_for(session), session_tasks(context, runner, session)
    )
    window.show()
    assert window.uploads is not None  # this desk's outbox goes up whoever is logged in
    assert not window.uploads_label.isVisible()
    # ...but the reconciliation, which deletes at the store, is not finance's to run
    assert not window.uploads.reconcile and window.uploads.next_reconcile is None


class _Documents:
    """What the retrier calls, counted: a store of the given kind, uploads failing or not."""

    def __init__(self, kind: str = "cloudinary") -> None:
        from alko_desk.models.documents import StorageStatus

        self.status = StorageStatus(kind)
        self.failed = 0
        self.reconciled = 0
        self.listing_refused = False

    def flush_outbox(self):
        from alko_desk.models.documents import FlushResult

        return FlushResult(0, self.failed, self.failed)

    def waiting_message(self):
        return ""

    def storage_status(self):
        return self.status

    def reconcile(self):
        self.reconciled += 1
        if self.listing_refused:
            raise StoreUnavailable("Cloudinary refused the listing.")
        return 2


def _round(qtbot, uploads) -> None:
    with qtbot.waitSignal(uploads.round_done, timeout=WAIT):
        uploads.retry_now()


def test_the_reconciliation_runs_on_the_upload_timer_when_due_and_only_at_cloudinary(qtbot, runner):
    now = [1000.0]
    documents = _Documents()
    uploads = UploadRetrier(
        documents, runner, reconcile=True, reconcile_every_s=3600, monotonic=lambda: now[0]
    )
    with qtbot.waitSignal(uploads.reconciled, timeout=WAIT) as removed:
        uploads.retry_now()  # due at the first round
    assert removed.args == [2] and documents.reconciled == 1
    _round(qtbot, uploads)
    now[0] += 3599
    _round(qtbot, uploads)
    assert documents.reconciled == 1  # not again within the hour
    now[0] += 1
    documents.failed = 1  # the store is unreachable: not this round
    _round(qtbot, uploads)
    assert documents.reconciled == 1
    documents.failed = 0
    _round(qtbot, uploads)
    assert documents.reconciled == 2
    now[0] += 3600
    documents.listing_refused = True  # the upload round still reports; retried in 15 min
    with qtbot.waitSignal(uploads.round_done, timeout=WAIT) as round_:
        uploads.retry_now()
    assert round_.args == [0, 0] and documents.reconciled == 3
    assert uploads.next_reconcile == now[0] + 15 * 60
    _round(qtbot, uploads)
    assert documents.reconciled == 3

    folder = _Documents("local")  # a shared folder is not the organisation's alone
    local = UploadRetrier(folder, runner, reconcile=True, monotonic=lambda: now[0])
    _round(qtbot, local)
    assert folder.reconciled == 0 and local.next_reconcile > now[0]
    refused = _Documents()
    finance = UploadRetrier(refused, runner, monotonic=lambda: now[0])  # reconcile=False
    _round(qtbot, finance)
    assert refused.reconciled == 0 and finance.next_reconcile is None


def test_registration_reads_the_id_document_and_fills_only_the_ticked_fields(
    qtbot, context, make_user, runner, passport, shots
):
    session = make_user("sam", Role.SALES, "Sam Sales")
    sales = context.services_for(session)
    sales.clients.register(new_client_id(), draft())
    page = _clients_page(qtbot, context, sales, session_tasks(context, runner, session))
    page.new_client()
    form_dialog = page.form_dialog
    qtbot.waitUntil(lambda: form_dialog.isVisible(), timeout=WAIT)
    assert form_dialog.read_button.isVisible()
    qtbot.wait(50)
    assert clipped(form_dialog) == []
    form_dialog.grab().save(str(shots / "client-form-read-document.png"))
    qtbot.keyClicks(form_dialog.form.first_name, "Ivana")

    qtbot.mouseClick(form_dialog.read_button, LEFT)
    reader = form_dialog.reader
    assert reader.reading_only and not reader.save_button.isVisibleTo(reader)
    reader.load_files([passport])
    qtbot.waitUntil(lambda: len(reader.pages) == 1, timeout=WAIT)
    with qtbot.waitSignal(reader.mrz_shown, timeout=20_000):
        qtbot.mouseClick(reader.read_button, LEFT)
    assert not reader.is_red("client.first_name")  # typed "Ivana", the MRZ says IVANA
    qtbot.mouseClick(reader.apply_button, LEFT)  # nothing ticked: nothing taken
    assert reader.isVisible() and form_dialog.form.last_name.text() == ""
    for key in ("client.last_name", "client.birth_date", "doc.number", "doc.type"):
        reader.tick(key)
    with qtbot.waitSignal(reader.fields_chosen, timeout=WAIT) as chosen:
        qtbot.mouseClick(reader.apply_button, LEFT)
    assert chosen.args[0] == {
        "last_name": "Horvat",
        "birth_date": "01.01.1990",
        "id_number": "123456789",
        "id_type": "passport",
    }
    form = form_dialog.form
    assert (form.first_name.text(), form.last_name.text()) == ("Ivana", "Horvat")
    assert form.birth_date.text() == "01.01.1990" and form.id_number.text() == "123456789"
    assert form.id_type.currentData() == "passport"
    assert form.error_text("birth_date") == "" and form.error_text("id_number") == ""
    assert not reader.isVisible()
    assert sales.documents.list(sales.clients.search("Kovačević")[0].id) == []  # nothing stored
