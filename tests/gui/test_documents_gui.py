"""The ID document capture dialog and a client's documents list, through the real widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect

from alko_desk.models.documents import DocumentType, UploadState
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.services.mrz import parse
from alko_desk.services.scanning import ScanService
from alko_desk.ui.documents.capture import DocumentCaptureDialog
from alko_desk.ui.documents.panel import ClientDocumentsPanel
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import draft
from tests.mrz_images import render_document
from tests.sane_config import use_test_scanner
from tests.test_mrz import VALID_TD3

pytestmark = pytest.mark.gui


@pytest.fixture
def sales(context, make_user):
    session = make_user("sam", Role.SALES)
    return context.services_for(session)


@pytest.fixture
def client_id(sales):
    return sales.clients.register(new_client_id(), draft()).id


@pytest.fixture
def tasks(dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


@pytest.fixture
def passport_png(tmp_path):
    path = tmp_path / "passport.png"
    render_document(VALID_TD3, dpi=400).save(path)  # 1,970 + 315 px wide on its scanner bed
    return path


def _dialog(qtbot, sales, tasks, client_id, **kw) -> DocumentCaptureDialog:
    dialog = DocumentCaptureDialog(sales.documents, tasks, client_id, **kw)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_file_is_downscaled_rotated_and_cropped(qtbot, sales, tasks, client_id, passport_png):
    dialog = _dialog(qtbot, sales, tasks, client_id)
    dialog.load_files([passport_png])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=10_000)
    page = dialog.pages[0]
    assert max(page.size) == 2000  # the long side at the configured maximum
    wide, high = page.size
    qtbot.mouseClick(dialog.rotate_right_button, qtbot_left())
    assert dialog.pages[0].size == (high, wide)
    qtbot.mouseClick(dialog.rotate_left_button, qtbot_left())
    assert dialog.pages[0].size == (wide, high)
    assert not dialog.crop_button.isEnabled()
    shown = dialog.preview._shown
    dialog.preview.select(QRect(shown.left(), shown.top(), shown.width() // 2, shown.height() // 2))
    assert dialog.crop_button.isEnabled()
    qtbot.mouseClick(dialog.crop_button, qtbot_left())
    assert abs(dialog.pages[0].width - wide // 2) <= 4


def test_files_dropped_on_the_dialog_become_pages_and_a_web_link_is_not_taken(
    qtbot, sales, tasks, client_id, passport_png, tmp_path
):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    back = tmp_path / "back.jpg"
    render_document(VALID_TD3, dpi=150).save(back)
    dialog = _dialog(qtbot, sales, tasks, client_id)

    def drag(urls):
        data = QMimeData()
        data.setUrls(urls)
        where, buttons = QPoint(20, 20), Qt.MouseButton.LeftButton
        enter = QDragEnterEvent(
            where, Qt.DropAction.CopyAction, data, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(dialog, enter)
        if enter.isAccepted():
            drop = QDropEvent(
                where, Qt.DropAction.CopyAction, data, buttons, Qt.KeyboardModifier.NoModifier
            )
            QApplication.sendEvent(dialog, drop)
        return enter.isAccepted()

    assert not drag([QUrl("https://example.com/passport.png")])  # only files on this computer
    assert drag([QUrl.fromLocalFile(str(passport_png)), QUrl.fromLocalFile(str(back))])
    qtbot.waitUntil(lambda: len(dialog.pages) == 2, timeout=10_000)
    assert max(dialog.pages[0].size) == 2000 and max(dialog.pages[1].size) < 2000
    assert dialog.save_button.isEnabled()


@pytest.mark.parametrize("fmt", ["PDF", "TIFF"])
def test_every_page_of_a_multi_page_file_is_kept_together(
    qtbot, sales, tasks, client_id, tmp_path, fmt, monkeypatch
):
    """The front and back of an ID card scanned into one file: both pages, in order."""
    from PIL import Image

    from alko_desk.services import images

    front, back = Image.new("RGB", (600, 400), "red"), Image.new("RGB", (600, 400), "blue")
    path = tmp_path / f"card.{fmt.lower()}"
    front.save(path, fmt, save_all=True, append_images=[back])

    def not_pdfium(*args, **kwargs):
        raise AssertionError("the window renders PDFs with QtPdf")

    monkeypatch.setattr(images, "_pdf_pages", not_pdfium)
    dialog = _dialog(qtbot, sales, tasks, client_id)
    dialog.load_files([path])
    qtbot.waitUntil(lambda: len(dialog.pages) == 2, timeout=10_000)
    centre = [
        page.convert("RGB").getpixel((page.width // 2, page.height // 2)) for page in dialog.pages
    ]
    assert centre[0][0] > 200 > centre[0][2] and centre[1][2] > 200 > centre[1][0]
    qtbot.wait(100)
    assert len(dialog.pages) == 2  # nothing more arrives


def test_a_file_of_more_pages_than_a_document_holds_is_refused(tmp_path):
    from PIL import Image

    from alko_desk.models.errors import ValidationError
    from alko_desk.services.images import open_image, open_pages

    path = tmp_path / "eleven.pdf"
    pages = [Image.new("RGB", (100, 100), "white") for _ in range(11)]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:])
    with pytest.raises(ValidationError, match="11 pages"):
        open_pages(path)
    assert open_image(path).size[0] > 100  # the first page still reads (for the MRZ)


def test_mrz_fields_are_offered_mismatches_in_red_and_applied_only_when_ticked(
    qtbot, sales, tasks, client_id, passport_png
):
    client = {"last_name": "Kovačević", "first_name": "Željko", "birth_date": "1990-01-01"}
    dialog = _dialog(qtbot, sales, tasks, client_id, client_fields=client)
    dialog.number_edit.setText("987654321")  # typed by hand, and wrong
    dialog.load_files([passport_png])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=10_000)
    with qtbot.waitSignal(dialog.mrz_shown, timeout=20_000) as shown:
        qtbot.mouseClick(dialog.read_button, qtbot_left())
    reading = shown.args[0]
    assert reading is not None and reading.valid
    assert "every check digit holds" in dialog.mrz_status.text()
    assert dialog.is_red("doc.number")  # differs from what was typed
    assert dialog.is_red("client.last_name")  # HORVAT is not Kovačević
    assert not dialog.is_red("client.birth_date")  # the same date
    assert not dialog.is_red("doc.expiry")  # 2031: not expired
    assert not dialog.is_red("doc.type")  # the type was left at its default: nothing to compare
    # Nothing changes until a field is ticked.
    qtbot.mouseClick(dialog.apply_button, qtbot_left())
    assert dialog.number_edit.text() == "987654321"
    for key in ("doc.number", "doc.country", "doc.expiry", "doc.type"):
        dialog.tick(key)
    qtbot.mouseClick(dialog.apply_button, qtbot_left())
    assert dialog.number_edit.text() == "123456789"
    assert dialog.country_edit.text() == "HRV" and dialog.expiry_edit.text() == "2031-06-30"
    assert dialog.type_combo.currentData() is DocumentType.PASSPORT

    with qtbot.waitSignal(dialog.saved, timeout=20_000) as saved:
        qtbot.mouseClick(dialog.save_button, qtbot_left())
    info = saved.args[0]
    assert (info.number, info.issuing_country, len(info.pages)) == ("123456789", "HRV", 1)
    [stored] = sales.documents.list(client_id)
    assert stored.id == info.id


def test_an_expired_document_is_shown_in_red(qtbot, sales, tasks, client_id, tmp_path):
    from tests.test_mrz import TD3  # the ICAO specimen expired in 2012

    path = tmp_path / "old.png"
    render_document(TD3).save(path)
    dialog = _dialog(qtbot, sales, tasks, client_id)
    dialog.load_files([path])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=10_000)
    with qtbot.waitSignal(dialog.mrz_shown, timeout=20_000):
        qtbot.mouseClick(dialog.read_button, qtbot_left())
    assert dialog.is_red("doc.expiry")
    assert "expired" in dialog.mrz_status.text()


def test_a_scan_arrives_as_a_page_in_the_editor(qtbot, sales, tasks, client_id):
    use_test_scanner()
    dialog = _dialog(qtbot, sales, tasks, client_id, scanner=ScanService())
    with qtbot.waitSignal(dialog.pages_changed, timeout=20_000):
        qtbot.mouseClick(dialog.scan_button, qtbot_left())
    assert len(dialog.pages) == 1 and abs(dialog.pages[0].width - 1011) <= 2
    assert dialog.pages[0].mode == "RGB"
    assert dialog.save_button.isEnabled() and dialog.scan_button.isEnabled()

    # the device list, another resolution and grey: a smaller grey page
    qtbot.mouseClick(dialog.find_scanners_button, qtbot_left())
    qtbot.waitUntil(lambda: dialog.scanner_combo.count() == 2, timeout=20_000)
    assert dialog.scanner_combo.itemData(1) == "test:0" and "1 scanner" in dialog.status.text()
    dialog.scanner_combo.setCurrentIndex(1)
    dialog.dpi_combo.setCurrentIndex(dialog.dpi_combo.findData(150))
    dialog.colour_combo.setCurrentIndex(dialog.colour_combo.findData(False))
    with qtbot.waitSignal(dialog.pages_changed, timeout=20_000):
        qtbot.mouseClick(dialog.scan_button, qtbot_left())
    second = dialog.pages[1]
    assert abs(second.width - 506) <= 2 and second.mode == "L"


def test_a_preview_shows_a_low_resolution_grey_image_and_adds_no_page(
    qtbot, sales, tasks, client_id
):
    use_test_scanner()
    dialog = _dialog(qtbot, sales, tasks, client_id, scanner=ScanService())
    with qtbot.waitSignal(dialog.preview_shown, timeout=20_000) as shown:
        qtbot.mouseClick(dialog.preview_button, qtbot_left())
        # the click returns at once: the pass runs on the task runner, not the GUI thread
        assert dialog.preview_image is None and not dialog.preview_button.isEnabled()
        assert not dialog.scan_button.isEnabled() and dialog.progress.isVisible()
    image = shown.args[0]
    # 85.6 mm at 75 dpi, in grey; on show in the dialog but not a page
    assert abs(image.width - 253) <= 2 and image.mode == "L"
    assert dialog.preview_image is image and dialog.preview.pixmap().width() > 0
    assert dialog.pages == [] and dialog.page_list.count() == 0
    assert "placement" in dialog.status.text() and not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.scan_button.isEnabled(), timeout=5_000)
    assert dialog.preview_button.isEnabled() and not dialog.progress.isVisible()

    # the full scan afterwards is unchanged: 300 dpi colour, and the page replaces the preview
    with qtbot.waitSignal(dialog.pages_changed, timeout=20_000):
        qtbot.mouseClick(dialog.scan_button, qtbot_left())
    assert len(dialog.pages) == 1 and abs(dialog.pages[0].width - 1011) <= 2
    assert dialog.preview_image is None


def test_the_list_says_one_document_is_waiting_to_upload(
    qtbot, context, admin_session, sales, tasks, client_id, passport_png
):
    import socket

    with socket.socket() as s:  # a port nothing listens on: Cloudinary is unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context.services_for(admin_session).documents.configure_cloudinary(
        "alko-test",
        "123456789012345",
        "s3cr3t-api-secret",
        upload_prefix=f"http://127.0.0.1:{port}",
    )
    documents = context.services_for(sales.session).documents
    documents.add(client_id, _draft(), [passport_png.read_bytes()])
    panel = ClientDocumentsPanel(documents, tasks, client_id)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        panel.show()  # lists, and retries the upload (still refused)
    assert panel.waiting.text() == "1 document waiting to upload" and panel.waiting.isVisible()
    assert panel.table.item(0, 5).text() == "waiting to upload"
    assert documents.list(client_id)[0].state is UploadState.WAITING


def _draft():
    from alko_desk.models.documents import DocumentDraft

    return DocumentDraft(DocumentType.PASSPORT, "HRV", "123456789")


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_an_admin_enters_cloudinary_credentials_once_and_the_secret_is_not_kept(
    qtbot, context, admin_session, tasks, dialogs
):
    from alko_desk.ui.documents.settings import DocumentStorageSettings

    documents = context.services_for(admin_session).documents
    form = DocumentStorageSettings(documents, tasks)
    qtbot.addWidget(form)
    form.show()
    qtbot.keyClicks(form.cloud_name, "alko-cars")
    qtbot.keyClicks(form.api_key, "12")
    qtbot.keyClicks(form.api_secret, "a-long-api-secret")
    qtbot.mouseClick(form.save_button, qtbot_left())
    qtbot.waitUntil(lambda: "API key" in form.errors.text(), timeout=10_000)
    form.api_key.setText("123456789012345")
    with qtbot.waitSignal(form.saved, timeout=10_000):
        qtbot.mouseClick(form.save_button, qtbot_left())
    assert form.api_secret.text() == ""
    qtbot.waitUntil(lambda: "Cloudinary (cloud alko-cars" in form.status.text(), timeout=10_000)
    assert "a-long-api-secret" not in form.status.text()
    assert "123456789012345" not in form.status.text()


def test_quitting_with_a_document_waiting_asks_first(
    context, admin_session, sales, client_id, dialogs, passport_png
):
    import socket

    from alko_desk.ui.documents.settings import confirm_quit_with_waiting

    documents = sales.documents
    assert confirm_quit_with_waiting(documents, dialogs, None) and dialogs.confirms == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context.services_for(admin_session).documents.configure_cloudinary(
        "alko-test",
        "123456789012345",
        "s3cr3t-api-secret",
        upload_prefix=f"http://127.0.0.1:{port}",
    )
    documents = context.services_for(sales.session).documents
    documents.add(client_id, _draft(), [passport_png.read_bytes()])
    dialogs.confirm_answer = False
    assert not confirm_quit_with_waiting(documents, dialogs, None)
    assert dialogs.confirms[0].startswith("1 document waiting to upload on this desk.")


def test_a_document_number_held_by_another_client_is_flagged(
    qtbot, sales, tasks, client_id, passport_png
):
    other = sales.clients.register(
        new_client_id(),
        draft(
            "Ivana", "Horvat", email="ivana@example.hr", phone="092 555 1234", id_number="123456789"
        ),
    )
    dialog = _dialog(qtbot, sales, tasks, client_id, find_clients=sales.clients.search)
    dialog.load_files([passport_png])
    qtbot.waitUntil(lambda: len(dialog.pages) == 1, timeout=10_000)
    with qtbot.waitSignal(dialog.mrz_shown, timeout=20_000):
        qtbot.mouseClick(dialog.read_button, qtbot_left())
    assert dialog.duplicate_label.isVisible()
    assert "123456789" in dialog.duplicate_label.text()
    assert other.display_name in dialog.duplicate_label.text()


def test_a_document_number_typed_by_hand_and_held_by_another_client_is_flagged(
    qtbot, sales, tasks, client_id
):
    other = sales.clients.register(
        new_client_id(),
        draft(
            "Ivana", "Horvat", email="ivana@example.hr", phone="092 555 1234", id_number="123456789"
        ),
    )
    dialog = _dialog(qtbot, sales, tasks, client_id, find_clients=sales.clients.search)
    qtbot.keyClicks(dialog.number_edit, "123456789")
    dialog.number_edit.editingFinished.emit()  # as when staff leave the field
    qtbot.waitUntil(dialog.duplicate_label.isVisible, timeout=10_000)
    assert "123456789" in dialog.duplicate_label.text()
    assert other.display_name in dialog.duplicate_label.text()
    dialog.number_edit.setText("555000111")  # a number nobody holds
    dialog.number_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: not dialog.duplicate_label.isVisible(), timeout=10_000)


def test_names_compare_without_accents_as_the_mrz_writes_them(
    qtbot, sales, tasks, client_id, passport_png
):
    client = {"last_name": "Hórvat", "first_name": "Ivana"}
    dialog = _dialog(qtbot, sales, tasks, client_id, client_fields=client)
    dialog.show_reading(parse(VALID_TD3, dialog.today))
    assert not dialog.is_red("client.last_name") and not dialog.is_red("client.first_name")


def test_on_a_showroom_desk_the_capture_dialog_opens_without_asking_the_server(
    qtbot, connect_remote, context, tasks
):
    """Opening the dialog must not wait on the network on the GUI thread (no documents.today()
    round trip); the date is this computer's."""
    from datetime import date

    from tests.conftest import ADMIN_PASSWORD, COMPANY
    from tests.test_documents_remote import _recorded

    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    desk = connect_remote()
    services = desk.login("admin", ADMIN_PASSWORD)
    seen = _recorded(desk)
    dialog = DocumentCaptureDialog(services.documents, tasks, "")
    qtbot.addWidget(dialog)
    assert seen.received == [] and dialog.today == date.today()


def test_a_damaged_pdf_is_refused_with_a_message_by_the_windows_renderer(qapp):
    from alko_desk.models.errors import ValidationError
    from alko_desk.ui.documents.pdf_pages import pdf_pages

    with pytest.raises(ValidationError, match="cannot be opened"):
        pdf_pages(b"%PDF-1.7\nthis is not a PDF body at all")
