"""Taking a page with a document camera or a webcam (Qt Multimedia).

The dialog lists the desk's cameras (`QMediaDevices.videoInputs()`), shows a live preview
and takes stills with `QImageCapture`. Each still goes to the capture dialog's editor as a
new page (rotate, crop, downscale), as a scanned or opened page does; front and back are
two stills.

What runs where: Qt Multimedia delivers frames and stills itself, without waiting on the
GUI thread. The preview keeps only the newest frame and paints it at most 15 times a second;
turning a still into a page (conversion and downscaling of a picture of up to 20 megapixels)
runs in the task runner. With no camera, or no Qt Multimedia on this computer, the dialog
says so and what to check, instead of a preview.

Stills are taken with `QImageCapture.capture()`, which keeps them in memory: a photo of an
ID never touches the disk before it is sealed. `on_image_captured` is the one door a still
comes in by: `QImageCapture.imageCaptured` is
connected to it, and the tests hand it a frame the same way.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from alko_desk.services import images
from alko_desk.ui.tasks import TaskRunner

PREVIEW_INTERVAL_MS = 66  # at most ~15 preview frames a second: enough to aim a document

NO_CAMERA_TEXT = (
    "No camera was found on this computer.\n\n"
    "Check that the document camera or webcam is plugged in (try another USB port) and "
    "switched on, and that no other program (a video call) is using it. On Linux your "
    "account needs access to /dev/video* (the \u201cvideo\u201d group); on Windows and macOS, "
    "camera access for desktop apps must be allowed in the privacy settings.\n\n"
    "Then press \u201cLook again\u201d. You can also scan the document or open a photo of it."
)
NO_MULTIMEDIA_TEXT = (
    "Cameras cannot be used on this computer: Qt Multimedia could not be loaded ({detail}).\n\n"
    "On Linux, install PulseAudio's client library (the libpulse0 package), which Qt "
    "Multimedia needs even for video, and open ALKO Desk again. You can scan the document "
    "or open a photo of it meanwhile."
)


def _multimedia():
    """The Qt Multimedia module, or the reason it cannot load (a missing system library)."""
    try:
        from PySide6 import QtMultimedia
    except ImportError as exc:
        return None, str(exc).split(":")[0]
    return QtMultimedia, ""


def qimage_to_pil(image: QImage) -> Image.Image:
    """A copy of a QImage as an RGB Pillow image (safe on a worker thread: QImage is reentrant
    and the caller hands over its own copy)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = bytes(rgb.constBits())[: stride * height]
    return Image.frombuffer("RGB", (width, height), data, "raw", "RGB", stride, 1).copy()


class CameraDialog(QDialog):
    """Preview and take stills; each taken still arrives as `pages_taken([PIL image])`."""

    pages_taken = Signal(list)

    def __init__(
        self,
        tasks: TaskRunner,
        *,
        max_side: int = images.DEFAULT_MAX_SIDE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Take a photo of the document"))
        self.tasks = tasks
        self.max_side = max_side
        self.taken = 0
        self._mm, self._mm_error = _multimedia()
        self._devices = None
        self._session = None
        self._camera = None
        self._capture = None
        self._sink = None
        self._latest = None  # the newest preview frame, painted by the timer
        self._device_id = None

        self.camera_combo = QComboBox()
        self.look_again_button = QPushButton(self.tr("Look again"))
        self.preview = QLabel()
        self.preview.setMinimumSize(QSize(640, 400))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #333; color: #ddd;")
        # Without a camera the preview's place shows what to check instead.
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.message.setContentsMargins(16, 16, 16, 16)
        self.message.setStyleSheet("color: #8a1c1c;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.preview)
        self.stack.addWidget(self.message)
        self.status = QLabel()
        self.take_button = QPushButton(self.tr("Take photo"))
        self.take_button.setDefault(True)
        self.done_button = QPushButton(self.tr("Done"))

        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Camera")))
        top.addWidget(self.camera_combo, 1)
        top.addWidget(self.look_again_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.done_button)
        bottom.addWidget(self.take_button)
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(self.stack, 1)
        root.addLayout(bottom)

        self._timer = QTimer(self)
        self._timer.setInterval(PREVIEW_INTERVAL_MS)
        self._timer.timeout.connect(self._paint_latest)
        self.camera_combo.currentIndexChanged.connect(self._camera_chosen)
        self.look_again_button.clicked.connect(self.look_again)
        self.take_button.clicked.connect(self.take_photo)
        self.done_button.clicked.connect(self.accept)
        self.finished.connect(lambda _result: self.stop_camera())
        if self._mm is not None:
            self._devices = self._mm.QMediaDevices(self)
            self._devices.videoInputsChanged.connect(self.list_cameras)
        self.list_cameras()
        self.resize(760, 560)

    # -- cameras -----------------------------------------------------------------------------
    def list_cameras(self) -> None:
        """Fills the list from the cameras present now; without one, says what to check."""
        if self._mm is None:
            self._show_problem(self.tr(NO_MULTIMEDIA_TEXT).format(detail=self._mm_error))
            self.camera_combo.setEnabled(False)
            self.look_again_button.setEnabled(False)
            return
        inputs = self._mm.QMediaDevices.videoInputs()
        chosen = self.camera_combo.currentData()
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        for device in inputs:
            self.camera_combo.addItem(device.description(), device)
        self.camera_combo.blockSignals(False)
        self.camera_combo.setEnabled(bool(inputs))
        if not inputs:
            self.stop_camera()
            self._show_problem(self.tr(NO_CAMERA_TEXT))
            return
        ids = [d.id() for d in inputs]
        keep = ids.index(chosen.id()) if chosen is not None and chosen.id() in ids else None
        if keep is None:
            default = self._mm.QMediaDevices.defaultVideoInput()
            keep = ids.index(default.id()) if default.id() in ids else 0
        self.camera_combo.blockSignals(True)
        self.camera_combo.setCurrentIndex(keep)
        self.camera_combo.blockSignals(False)
        if self._camera is None or self._device_id != ids[keep]:
            self._camera_chosen(keep)  # a camera plugged in elsewhere leaves this one running

    def look_again(self) -> None:
        """Lists the cameras anew and restarts the chosen one (after an error, too)."""
        self.stop_camera()
        self.list_cameras()

    def _show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        self.preview.clear()
        self.take_button.setEnabled(False)

    def _camera_chosen(self, index: int) -> None:
        device = self.camera_combo.itemData(index)
        if device is None or self._mm is None:
            return
        self.stop_camera()
        mm = self._mm
        self.stack.setCurrentWidget(self.preview)
        self.preview.setText(self.tr("Starting the camera…"))
        self._session = mm.QMediaCaptureSession(self)
        self._camera = mm.QCamera(device, self)
        self._capture = mm.QImageCapture(self)
        self._device_id = device.id()
        self._sink = mm.QVideoSink(self)
        self._session.setCamera(self._camera)
        self._session.setImageCapture(self._capture)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._frame_arrived)
        self._capture.imageCaptured.connect(self.on_image_captured)
        self._capture.readyForCaptureChanged.connect(lambda _ready: self._update_buttons())
        self._capture.errorOccurred.connect(self._capture_failed)
        self._camera.errorOccurred.connect(self._camera_failed)
        self._timer.start()
        # Qt opens the device; the dialog is painted first.
        QTimer.singleShot(0, self._camera.start)
        self._update_buttons()

    def stop_camera(self) -> None:
        self._timer.stop()
        self._latest = None
        if self._camera is not None:
            self._camera.stop()
        for obj in (self._capture, self._camera, self._sink, self._session):
            if obj is not None:
                obj.deleteLater()
        self._session = self._camera = self._capture = self._sink = None
        self._device_id = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self._capture is not None and self._capture.isReadyForCapture()
        self.take_button.setEnabled(ready)

    def _camera_failed(self, _error, text: str) -> None:
        self._show_problem(
            self.tr("The camera stopped with an error: %s\n\nCheck that no other program is "
                    "using it, unplug it and plug it in again, then press \u201cLook again\u201d.")
            % text
        )  # fmt: skip

    def _capture_failed(self, _id: int, _error, text: str) -> None:
        self.status.setText(self.tr("The photo could not be taken: %s") % text)
        self._update_buttons()

    # -- the preview -------------------------------------------------------------------------
    def _frame_arrived(self, frame) -> None:
        self._latest = frame  # only the newest is kept; the timer paints it

    def _paint_latest(self) -> None:
        frame, self._latest = self._latest, None
        if frame is None or not frame.isValid():
            return
        self.show_frame(frame.toImage())

    def show_frame(self, image: QImage) -> None:
        if image.isNull():
            return
        self.stack.setCurrentWidget(self.preview)
        self.preview.setPixmap(
            QPixmap.fromImage(image).scaled(
                self.preview.size() - QSize(8, 8),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )

    # -- stills ------------------------------------------------------------------------------
    def take_photo(self) -> None:
        if self._capture is None or not self._capture.isReadyForCapture():
            return
        self.status.setText(self.tr("Taking the photo…"))
        self.take_button.setEnabled(False)
        # capture(), never captureToFile(): the photo of an ID stays in memory, off the disk.
        self._capture.capture()  # the still arrives at on_image_captured

    def on_image_captured(self, _request_id: int, image: QImage) -> None:
        """A still from QImageCapture: converted and downscaled off the GUI thread, then
        handed to the editor as a page."""
        if image.isNull():
            self.status.setText(self.tr("The camera delivered an empty picture; try again."))
            self._update_buttons()
            return
        still, max_side = image.copy(), self.max_side  # the worker's own copy
        self.status.setText(self.tr("Adding the photo…"))
        self.tasks.run(
            lambda: [images.downscale(qimage_to_pil(still), max_side)],
            on_success=self._page_ready,
            on_finished=self._update_buttons,
            parent=self,
        )

    def _page_ready(self, pages: list[Image.Image]) -> None:
        self.taken += len(pages)
        self.status.setText(
            self.tr("Photo added as a page (%n taken). Turn the document for its back.", "", self.taken)
        )  # fmt: skip
        self.pages_taken.emit(pages)
