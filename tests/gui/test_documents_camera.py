"""Camera capture through Qt Multimedia, offscreen. This machine has no camera, so the
no-camera message is real; a still is handed to the dialog through the slot that
`QImageCapture.imageCaptured` is connected to, and must arrive in the editor as a page."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.ui.documents.capture import DocumentCaptureDialog
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import draft
from tests.gui.layout_checks import clipped, overlaps

pytestmark = pytest.mark.gui


@pytest.fixture
def sales(context, make_user):
    return context.services_for(make_user("sam", Role.SALES))


@pytest.fixture
def tasks(dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


@pytest.fixture
def capture(qtbot, sales, tasks):
    client_id = sales.clients.register(new_client_id(), draft()).id
    dialog = DocumentCaptureDialog(sales.documents, tasks, client_id)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _still(width: int = 4000, height: int = 3000) -> QImage:
    """A 12-megapixel still as a camera delivers it: white, a red block at the top left."""
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.fillRect(QRect(0, 0, width // 4, height // 4), QColor(220, 0, 0))
    painter.end()
    return image


def test_without_a_camera_the_dialog_says_what_to_check(qtbot, capture):
    from PySide6.QtMultimedia import QMediaDevices

    assert QMediaDevices.videoInputs() == []  # this machine has none
    camera = capture.open_camera()
    qtbot.waitExposed(camera)
    assert camera.message.isVisible()
    text = camera.message.text()
    assert text.startswith("No camera was found on this computer.")
    for hint in ("plugged in", "other program", "/dev/video", "Look again"):
        assert hint in text
    assert not camera.take_button.isEnabled() and not camera.camera_combo.isEnabled()
    qtbot.mouseClick(camera.look_again_button, Qt.MouseButton.LeftButton)  # still none
    assert camera.message.isVisible() and not camera.take_button.isEnabled()


def test_a_still_from_the_camera_arrives_downscaled_in_the_editor(qtbot, capture):
    camera = capture.open_camera()
    with qtbot.waitSignal(capture.pages_changed, timeout=10_000):
        camera.on_image_captured(1, _still())  # what QImageCapture.imageCaptured calls
    assert len(capture.pages) == 1
    page = capture.pages[0]
    assert page.size == (2000, 1500)  # the long side at the configured maximum
    assert page.getpixel((100, 100))[0] > 200 and page.getpixel((100, 100))[1] < 30
    assert page.getpixel((1900, 1400)) == (255, 255, 255)
    assert "1 taken" in camera.status.text()
    # The editor works on it as on a scan: turned right, the red block is at the top right.
    qtbot.mouseClick(capture.rotate_right_button, Qt.MouseButton.LeftButton)
    assert capture.pages[0].size == (1500, 2000)
    assert capture.pages[0].getpixel((1400, 100))[0] > 200
    assert capture.pages[0].getpixel((100, 100)) == (255, 255, 255)
    # The back of the card: a second still is a second page of the same document.
    with qtbot.waitSignal(capture.pages_changed, timeout=10_000):
        camera.on_image_captured(2, _still(1280, 720))
    assert [p.size for p in capture.pages] == [(1500, 2000), (1280, 720)]
    assert capture.save_button.isEnabled()


def test_an_empty_picture_from_the_camera_adds_no_page(qtbot, capture):
    camera = capture.open_camera()
    camera.on_image_captured(1, QImage())
    assert capture.pages == [] and "empty picture" in camera.status.text()


def test_camera_dialog_screenshot(qtbot, capture, shots):
    camera = capture.open_camera()
    qtbot.waitExposed(camera)
    qtbot.wait(50)
    camera.grab().save(str(shots / "documents-camera-none.png"))
    assert clipped(camera) == [] and overlaps(camera) == []
    # The preview as the video sink's frames are painted (the newest, by the timer).
    from PySide6.QtMultimedia import QVideoFrame

    camera._frame_arrived(QVideoFrame(_still(1280, 720)))
    camera._paint_latest()
    assert camera.stack.currentWidget() is camera.preview and camera._latest is None
    qtbot.wait(50)
    camera.grab().save(str(shots / "documents-camera-preview.png"))
    with qtbot.waitSignal(capture.pages_changed, timeout=10_000):
        camera.on_image_captured(1, _still())
    camera.done_button.click()
    qtbot.wait(50)
    capture.grab().save(str(shots / "documents-capture-from-camera.png"))


def test_without_qt_multimedia_the_dialog_names_the_missing_library(qtbot, capture, monkeypatch):
    from alko_desk.ui.documents import camera as camera_module

    monkeypatch.setattr(
        camera_module, "_multimedia", lambda: (None, "libpulse.so.0: cannot open shared object")
    )
    camera = capture.open_camera()
    assert camera.stack.currentWidget() is camera.message
    assert "Qt Multimedia could not be loaded (libpulse.so.0" in camera.message.text()
    assert "libpulse0" in camera.message.text()
    assert not camera.take_button.isEnabled() and not camera.look_again_button.isEnabled()
