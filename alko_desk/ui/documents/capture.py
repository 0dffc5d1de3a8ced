"""Capturing an ID document: file, drag and drop, scanner or camera; rotate, crop, downscale;
the MRZ.

The pages are plain Pillow images held by the dialog; every slow step (opening a file or a
PDF, scanning, reading the MRZ, encrypting and storing) runs through the task runner. The
MRZ's fields are offered beside what was typed and what the client's record says:
mismatches and an expired document are shown in red, and nothing is applied until staff
tick the fields to use.

PDF pages are rendered with QtPdf (ui/documents/pdf_pages.py; the command line's
`document read-mrz` renders with pypdfium2, without Qt); every page of a multi-page PDF or
TIFF is added.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRubberBand,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.documents import DocumentDraft, DocumentType, MrzReading
from alko_desk.models.errors import ValidationError
from alko_desk.models.listing import Progress
from alko_desk.models.text import fold
from alko_desk.services import images
from alko_desk.ui.documents import pdf_pages
from alko_desk.ui.tasks import TaskRunner

RED = QColor(255, 205, 205)
FILE_FILTER = "Scans and photos (*.png *.jpg *.jpeg *.tif *.tiff *.pdf)"

# MRZ document codes -> our document types (ICAO 9303: P passport, I/A/C identity cards;
# many states mark residence permits IR or AR).
MRZ_TYPES = {"P": DocumentType.PASSPORT, "IR": DocumentType.RESIDENCE_PERMIT}


def mrz_document_type(code: str) -> DocumentType:
    if code in MRZ_TYPES:
        return MRZ_TYPES[code]
    if code[:1] == "P":
        return DocumentType.PASSPORT
    if code.endswith("R") and code[:1] in "AIC":
        return DocumentType.RESIDENCE_PERMIT
    if code[:1] in "AIC":
        return DocumentType.ID_CARD
    return DocumentType.OTHER


def to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimage = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: `data` goes away


class CropPreview(QLabel):
    """The current page, scaled to fit; dragging marks the part to keep."""

    selection_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(420, 300))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #333; color: #ddd;")
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, self)
        self._origin = QPoint()
        self._image_size = QSize()
        self._shown = QRect()

    def show_image(self, image: Image.Image | None) -> None:
        self._band.hide()
        self.selection_changed.emit(False)
        if image is None:
            self.clear()
            self.setText(self.tr("Open a file, drop it here, scan, or take a photo."))
            self._image_size = QSize()
            return
        pixmap = QPixmap.fromImage(to_qimage(image))
        self._image_size = pixmap.size()
        scaled = pixmap.scaled(
            self.size() - QSize(8, 8),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.setPixmap(scaled)
        x = (self.width() - scaled.width()) // 2
        y = (self.height() - scaled.height()) // 2
        self._shown = QRect(x, y, scaled.width(), scaled.height())

    def mousePressEvent(self, event) -> None:
        self._origin = event.position().toPoint()
        self._band.setGeometry(QRect(self._origin, QSize()))
        self._band.show()

    def mouseMoveEvent(self, event) -> None:
        self._band.setGeometry(QRect(self._origin, event.position().toPoint()).normalized())

    def mouseReleaseEvent(self, event) -> None:
        self.selection_changed.emit(self.selection() is not None)

    def select(self, rect: QRect) -> None:
        """Marks a selection in widget coordinates (what a drag does)."""
        self._band.setGeometry(rect.normalized())
        self._band.show()
        self.selection_changed.emit(self.selection() is not None)

    def selection(self) -> tuple[int, int, int, int] | None:
        """The marked part in image pixels, or None."""
        if not self._band.isVisible() or self._shown.isEmpty():
            return None
        rect = self._band.geometry().intersected(self._shown)
        if rect.width() < 8 or rect.height() < 8:
            return None
        scale = self._image_size.width() / self._shown.width()
        left = round((rect.left() - self._shown.left()) * scale)
        top = round((rect.top() - self._shown.top()) * scale)
        return left, top, left + round(rect.width() * scale), top + round(rect.height() * scale)


class _ForwardedProgress(Progress):
    """The scanner's progress token, forwarded to the task's control (worker thread)."""

    def __init__(self, control) -> None:
        super().__init__()
        self._control = control

    def report(self, done: int, total: int = 0, text: str = "") -> None:
        super().report(done, total, text)
        self._control.progress(done, total, text)
        if self._control.cancelled:
            self.cancel()


# The capture dialog's document types -> the registration form's ID types.
FORM_ID_TYPES = {
    DocumentType.ID_CARD: "national_id",
    DocumentType.PASSPORT: "passport",
    DocumentType.RESIDENCE_PERMIT: "residence_permit",
}


SCAN_DPIS = (150, 200, 300, 600)  # 300: an MRZ reads well and a card stays about 1,000 px


class DocumentCaptureDialog(QDialog):
    saved = Signal(object)  # DocumentInfo
    # Reading only (registration): the ticked fields, by the client form's field names.
    fields_chosen = Signal(dict)
    pages_changed = Signal(int)
    mrz_shown = Signal(object)  # MrzReading or None
    preview_shown = Signal(object)  # the low-resolution preview (a Pillow image)

    def __init__(
        self,
        documents,
        tasks: TaskRunner,
        client_id: str,
        *,
        scanner=None,
        client_fields: dict[str, str] | None = None,
        find_clients=None,
        max_side: int = images.DEFAULT_MAX_SIDE,
        today: date | None = None,
        reading_only: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # Reading only: the registration form's "Read from ID document…"; nothing is stored,
        # the ticked MRZ fields go back to the form.
        self.reading_only = reading_only
        # ClientService.search: an exact ID number finds the clients who already hold it.
        self.find_clients = find_clients
        self.setWindowTitle(self.tr("Add an ID document"))
        self.setAcceptDrops(True)
        self.documents = documents
        self.tasks = tasks
        self.client_id = client_id
        self.scanner = scanner
        self.client_fields = dict(client_fields or {})
        self.max_side = max_side
        self.today = today or _today_of(documents)
        self.pages: list[Image.Image] = []
        self.current = -1
        self.reading: MrzReading | None = None
        # The last preview scan while it is on show (it is never a page): None otherwise.
        self.preview_image: Image.Image | None = None
        self._build()
        if reading_only:
            self.setWindowTitle(self.tr("Read from an ID document"))
            self.save_button.hide()
            self.apply_button.setText(self.tr("Fill the form with the ticked fields"))
            self.cancel_button.setText(self.tr("Close"))
        self._refresh()

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.open_button = QPushButton(self.tr("Open file…"))
        self.scan_button = QPushButton(self.tr("Scan"))
        self.scan_button.setEnabled(self.scanner is not None)
        self.preview_button = QPushButton(self.tr("Preview"))
        self.preview_button.setToolTip(
            self.tr("A quick low-resolution pass to check where the document lies.")
        )
        self.preview_button.setEnabled(self.scanner is not None)
        self.camera_button = QPushButton(self.tr("Camera…"))
        self.progress = QProgressBar()
        self.progress.hide()
        # Which scanner, at what resolution, in colour or grey (SANE's device list on demand:
        # looking for network scanners can take seconds).
        self.scanner_combo = QComboBox()
        self.scanner_combo.addItem(self.tr("First scanner found"), None)
        self.find_scanners_button = QPushButton(self.tr("Find scanners"))
        self.dpi_combo = QComboBox()
        for dpi in SCAN_DPIS:
            self.dpi_combo.addItem(self.tr("%d dpi") % dpi, dpi)
        self.dpi_combo.setCurrentIndex(SCAN_DPIS.index(300))
        self.colour_combo = QComboBox()
        self.colour_combo.addItem(self.tr("Colour"), True)
        self.colour_combo.addItem(self.tr("Grey"), False)
        for w in (
            self.scanner_combo,
            self.find_scanners_button,
            self.dpi_combo,
            self.colour_combo,
        ):
            w.setEnabled(self.scanner is not None)
        self.page_list = QListWidget()
        self.page_list.setMaximumWidth(120)
        self.preview = CropPreview()
        self.rotate_left_button = QPushButton(self.tr("Rotate left"))
        self.rotate_right_button = QPushButton(self.tr("Rotate right"))
        self.crop_button = QPushButton(self.tr("Crop to selection"))
        self.remove_button = QPushButton(self.tr("Remove page"))

        self.type_combo = QComboBox()
        for kind in DocumentType:
            self.type_combo.addItem(kind.label, kind)
        self.country_edit = QLineEdit()
        self.country_edit.setPlaceholderText("HRV")
        self.number_edit = QLineEdit()
        self.expiry_edit = QLineEdit()
        self.expiry_edit.setPlaceholderText(self.tr("YYYY-MM-DD"))
        self.read_button = QPushButton(self.tr("Read MRZ"))
        self.mrz_status = QLabel()
        self.mrz_status.setWordWrap(True)
        self.duplicate_label = QLabel()
        self.duplicate_label.setWordWrap(True)
        self.duplicate_label.setStyleSheet("color: #b00020;")
        self.duplicate_label.hide()
        self.mrz_table = QTableWidget(0, 4)
        self.mrz_table.setHorizontalHeaderLabels(
            [self.tr("Field"), self.tr("MRZ"), self.tr("Entered / on record"), self.tr("Use")]
        )
        self.mrz_table.verticalHeader().hide()
        self.apply_button = QPushButton(self.tr("Use ticked fields"))
        self.status = QLabel()
        self.save_button = QPushButton(self.tr("Save document"))
        self.cancel_button = QPushButton(self.tr("Cancel"))

        sources = QHBoxLayout()
        for w in (
            self.open_button,
            self.preview_button,
            self.scan_button,
            self.camera_button,
            self.progress,
        ):
            sources.addWidget(w)
        scan_settings = QHBoxLayout()
        scan_settings.addWidget(self.scanner_combo, 1)
        for w in (self.find_scanners_button, self.dpi_combo, self.colour_combo):
            scan_settings.addWidget(w)
        edit = QHBoxLayout()
        for w in (
            self.rotate_left_button,
            self.rotate_right_button,
            self.crop_button,
            self.remove_button,
        ):
            edit.addWidget(w)
        pages = QHBoxLayout()
        pages.addWidget(self.page_list)
        pages.addWidget(self.preview, 1)
        form = QFormLayout()
        form.addRow(self.tr("Type"), self.type_combo)
        form.addRow(self.tr("Issuing country"), self.country_edit)
        form.addRow(self.tr("Number"), self.number_edit)
        form.addRow(self.tr("Expiry"), self.expiry_edit)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.read_button)
        right.addWidget(self.mrz_status)
        right.addWidget(self.duplicate_label)
        right.addWidget(self.mrz_table, 1)
        right.addWidget(self.apply_button)
        left = QVBoxLayout()
        left.addLayout(sources)
        left.addLayout(scan_settings)
        left.addLayout(pages, 1)
        left.addLayout(edit)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        root = QVBoxLayout(self)
        root.addLayout(body, 1)
        root.addLayout(buttons)

        self.open_button.clicked.connect(self._choose_files)
        self.scan_button.clicked.connect(self.scan)
        self.preview_button.clicked.connect(self.preview_scan)
        self.find_scanners_button.clicked.connect(self.find_scanners)
        self.camera_button.clicked.connect(self.open_camera)
        self.page_list.currentRowChanged.connect(self._select_page)
        self.rotate_left_button.clicked.connect(lambda: self.rotate(-1))
        self.rotate_right_button.clicked.connect(lambda: self.rotate(1))
        self.crop_button.clicked.connect(self.crop)
        self.remove_button.clicked.connect(self.remove_page)
        self.preview.selection_changed.connect(lambda _has: self._refresh())
        self.read_button.clicked.connect(self.read_mrz)
        self.number_edit.editingFinished.connect(self.check_typed_number)
        self.apply_button.clicked.connect(self.apply_ticked)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        self.resize(1100, 640)

    def _refresh(self) -> None:
        has_page = 0 <= self.current < len(self.pages)
        for button in (self.rotate_left_button, self.rotate_right_button, self.remove_button):
            button.setEnabled(has_page)
        self.read_button.setEnabled(has_page)
        self.crop_button.setEnabled(
            has_page and self.preview_image is None and self.preview.selection() is not None
        )
        self.save_button.setEnabled(bool(self.pages))
        self.apply_button.setEnabled(self.mrz_table.rowCount() > 0)

    # -- pages -----------------------------------------------------------------------------
    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Open scans"), "", FILE_FILTER)
        if paths:
            self.load_files([Path(p) for p in paths])

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.load_files([Path(u.toLocalFile()) for u in event.mimeData().urls()])
        event.acceptProposedAction()

    def load_files(self, paths: list[Path]) -> None:
        max_side = self.max_side
        self.status.setText(self.tr("Opening…"))
        self.tasks.run(
            # every page of a multi-page PDF or TIFF (front and back in one file)
            lambda: [
                images.downscale(page, max_side) for p in paths for page in pdf_pages.open_pages(p)
            ],
            on_success=self._add_pages,
            on_finished=lambda: self.status.setText(""),
            parent=self,
        )

    def find_scanners(self) -> None:
        """SANE's device list in a worker; the choice stays "first found" until one is picked."""
        scanner = self.scanner
        self.find_scanners_button.setEnabled(False)
        self.status.setText(self.tr("Looking for scanners…"))

        def found(devices) -> None:
            chosen = self.scanner_combo.currentData()
            while self.scanner_combo.count() > 1:
                self.scanner_combo.removeItem(1)
            for device in devices:
                self.scanner_combo.addItem(device.label, device.name)
            self.scanner_combo.setCurrentIndex(max(0, self.scanner_combo.findData(chosen)))
            self.status.setText(
                self.tr("%n scanner(s) found.", "", len(devices))
                if devices
                else self.tr("No scanner found: check that it is on and connected.")
            )

        self.tasks.run(
            scanner.devices,
            on_success=found,
            on_finished=lambda: self.find_scanners_button.setEnabled(True),
            parent=self,
        )

    def scan(self) -> None:
        scanner, max_side = self.scanner, self.max_side
        device, dpi = self.scanner_combo.currentData(), self.dpi_combo.currentData()
        colour = self.colour_combo.currentData()
        self.scan_button.setEnabled(False)
        self.preview_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()

        def work(control):
            image = scanner.scan(
                device, dpi=dpi, color=colour, progress=_ForwardedProgress(control)
            )
            return [images.downscale(image, max_side)]

        def finished():
            self.progress.hide()
            self.scan_button.setEnabled(True)
            self.preview_button.setEnabled(True)

        self.tasks.run(
            work,
            with_control=True,
            on_success=self._add_pages,
            on_progress=self._scan_progress,
            on_finished=finished,
            parent=self,
        )

    def preview_scan(self) -> None:
        """A quick grey low-resolution pass, shown in place of the page (not added to it)."""
        scanner, device = self.scanner, self.scanner_combo.currentData()
        self.preview_button.setEnabled(False)
        self.scan_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()

        def shown(image: Image.Image) -> None:
            self.preview_image = image
            self.preview.show_image(image)
            self.status.setText(self.tr("Preview: check the document's placement, then Scan."))
            self._refresh()
            self.preview_shown.emit(image)

        def finished():
            self.progress.hide()
            self.preview_button.setEnabled(True)
            self.scan_button.setEnabled(True)

        self.tasks.run(
            lambda control: scanner.preview(device, progress=_ForwardedProgress(control)),
            with_control=True,
            on_success=shown,
            on_progress=self._scan_progress,
            on_finished=finished,
            parent=self,
        )

    def open_camera(self):
        """The camera window (ui/documents/camera.py): each photo taken arrives as a page."""
        from alko_desk.ui.documents.camera import CameraDialog

        self.camera = CameraDialog(self.tasks, max_side=self.max_side, parent=self)
        self.camera.pages_taken.connect(self._add_pages)
        self.camera.open()
        return self.camera

    def _scan_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _add_pages(self, new: list[Image.Image]) -> None:
        self.pages.extend(new)
        self._sync_pages(len(self.pages) - 1)

    def _sync_pages(self, current: int) -> None:
        self.page_list.blockSignals(True)
        self.page_list.clear()
        for n in range(len(self.pages)):
            self.page_list.addItem(self.tr("Page %n", "", n + 1))
        self.page_list.blockSignals(False)
        self.current = min(current, len(self.pages) - 1)
        if self.current >= 0:
            self.page_list.setCurrentRow(self.current)
        self._show_current()
        self.pages_changed.emit(len(self.pages))

    def _select_page(self, row: int) -> None:
        self.current = row
        self._show_current()

    def _show_current(self) -> None:
        self.preview_image = None
        self.preview.show_image(self.pages[self.current] if self.current >= 0 else None)
        self._refresh()

    def rotate(self, quarter_turns: int) -> None:
        self.pages[self.current] = images.rotate(self.pages[self.current], quarter_turns)
        self._show_current()

    def crop(self) -> None:
        box = self.preview.selection()
        if box is None:
            return
        try:
            self.pages[self.current] = images.crop(self.pages[self.current], box)
        except ValidationError as exc:
            self.status.setText(exc.message)
            return
        self._show_current()

    def remove_page(self) -> None:
        del self.pages[self.current]
        self._sync_pages(self.current)

    # -- the MRZ ---------------------------------------------------------------------------
    def read_mrz(self) -> None:
        from alko_desk.services.mrz_ocr import read_mrz_image

        page, today = self.pages[self.current].copy(), self.today
        find, client_id = self.find_clients, self.client_id
        self.mrz_status.setText(self.tr("Reading the MRZ…"))
        self.read_button.setEnabled(False)

        def work():
            reading = read_mrz_image(page, today)
            others = []
            if reading is not None and find is not None and reading.document_number:
                others = [r for r in find(reading.document_number) if r.id != client_id]
            return reading, others

        def done(result):
            reading, others = result
            self.show_duplicates(reading, others)
            self.show_reading(reading)

        self.tasks.run(work, on_success=done, on_finished=self._refresh, parent=self)

    def show_duplicates(self, reading: MrzReading | None, others: list) -> None:
        self._show_duplicates(reading.document_number if reading else "", others)

    def check_typed_number(self) -> None:
        """A number typed by hand gets the same duplicate warning as one read from the MRZ."""
        number = self.number_edit.text().strip().upper()
        find, client_id = self.find_clients, self.client_id
        if not number or find is None:
            self._show_duplicates("", [])
            return

        def work():
            return [r for r in find(number) if r.id != client_id]

        self.tasks.run(
            work, on_success=lambda others: self._show_duplicates(number, others), parent=self
        )

    def _show_duplicates(self, number: str, others: list) -> None:
        if not number or not others:
            self.duplicate_label.hide()
            return
        names = ", ".join(r.display_name for r in others)
        self.duplicate_label.setText(
            self.tr(
                "Document number %s is already stored on another client: %s. Check before saving."
            )
            % (number, names)
        )
        self.duplicate_label.show()

    def _rows(self, reading: MrzReading) -> list[tuple[str, str, str, str]]:
        """(key, label, from the MRZ, entered or on record); keys starting 'doc.' can be applied."""
        expiry = reading.expiry_date.isoformat() if reading.expiry_date else ""
        birth = reading.birth_date.isoformat() if reading.birth_date else ""
        kind = mrz_document_type(reading.document_type)
        return [
            ("doc.type", self.tr("Type"), kind.label, self._chosen_type_label()),
            ("doc.country", self.tr("Issuing country"), reading.issuing_country, self.country_edit.text()),
            ("doc.number", self.tr("Number"), reading.document_number, self.number_edit.text()),
            ("doc.expiry", self.tr("Expiry"), expiry, self.expiry_edit.text()),
            ("client.last_name", self.tr("Surname"), reading.surname, self.client_fields.get("last_name", "")),
            ("client.first_name", self.tr("Given names"), reading.given_names, self.client_fields.get("first_name", "")),
            ("client.birth_date", self.tr("Birth date"), birth, self.client_fields.get("birth_date", "")),
            ("client.nationality", self.tr("Nationality"), reading.nationality, ""),
        ]  # fmt: skip

    def _chosen_type_label(self) -> str:
        """The type as entered, or "" while it is still the default (nothing to compare)."""
        return self.type_combo.currentData().label if self.type_combo.currentIndex() > 0 else ""

    def show_reading(self, reading: MrzReading | None) -> None:
        self.reading = reading
        self.mrz_table.setRowCount(0)
        if reading is None:
            self._set_status(self.tr("No MRZ was found on this page."), bad=True)
            self.mrz_shown.emit(None)
            self._refresh()
            return
        problems = []
        if not reading.valid:
            problems.append(self.tr("check digits fail: %s") % ", ".join(reading.failed_checks))
        if reading.expired:
            problems.append(self.tr("the document has expired"))
        if problems:
            self._set_status(self.tr("Read, but ") + "; ".join(problems) + ".", bad=True)
        else:
            self._set_status(self.tr("Read; every check digit holds."), bad=False)
        for key, label, from_mrz, entered in self._rows(reading):
            row = self.mrz_table.rowCount()
            self.mrz_table.insertRow(row)
            field = QTableWidgetItem(label)
            field.setData(Qt.ItemDataRole.UserRole, key)
            cells = [field, QTableWidgetItem(from_mrz), QTableWidgetItem(entered)]
            mismatch = bool(entered) and _normal(entered) != _normal(from_mrz)
            red = mismatch or (key == "doc.expiry" and reading.expired)
            for col, item in enumerate(cells):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if red:
                    item.setBackground(QBrush(RED))
                self.mrz_table.setItem(row, col, item)
            if key.startswith("doc.") or (self.reading_only and from_mrz):
                tick = QCheckBox()
                tick.setChecked(False)  # staff confirm each field; nothing is applied silently
                self.mrz_table.setCellWidget(row, 3, tick)
        self.mrz_table.resizeColumnsToContents()
        self.mrz_shown.emit(reading)
        self._refresh()

    def _set_status(self, text: str, *, bad: bool) -> None:
        self.mrz_status.setText(text)
        self.mrz_status.setStyleSheet("color: #b00020;" if bad else "")

    def row_of(self, key: str) -> int:
        for row in range(self.mrz_table.rowCount()):
            if self.mrz_table.item(row, 0).data(Qt.ItemDataRole.UserRole) == key:
                return row
        raise KeyError(key)

    def is_red(self, key: str) -> bool:
        return self.mrz_table.item(self.row_of(key), 1).background().color() == RED

    def tick(self, key: str, checked: bool = True) -> None:
        self.mrz_table.cellWidget(self.row_of(key), 3).setChecked(checked)

    def ticked(self) -> dict[str, str]:
        """key -> the MRZ's value, for the rows staff ticked."""
        out = {}
        for row in range(self.mrz_table.rowCount()):
            tick = self.mrz_table.cellWidget(row, 3)
            if isinstance(tick, QCheckBox) and tick.isChecked():
                key = self.mrz_table.item(row, 0).data(Qt.ItemDataRole.UserRole)
                out[key] = self.mrz_table.item(row, 1).text()
        return out

    def form_fields(self) -> dict[str, str]:
        """The ticked fields, named as the registration form names them."""
        reading, ticked, out = self.reading, self.ticked(), {}
        if reading is None:
            return out
        names = {
            "client.first_name": "first_name",
            "client.last_name": "last_name",
            "doc.number": "id_number",
        }
        for key, name in names.items():
            if key in ticked:
                out[name] = (
                    ticked[key].replace("<", " ").strip().title()
                    if key.startswith("client.")
                    else ticked[key]
                )
        if "client.birth_date" in ticked and reading.birth_date:
            out["birth_date"] = reading.birth_date.strftime("%d.%m.%Y")
        kind = FORM_ID_TYPES.get(mrz_document_type(reading.document_type))
        if "doc.type" in ticked and kind:
            out["id_type"] = kind
        return out

    def apply_ticked(self) -> None:
        reading = self.reading
        if reading is None:
            return
        if self.reading_only:
            chosen = self.form_fields()
            if chosen:
                self.fields_chosen.emit(chosen)
                self.accept()
            return
        for row in range(self.mrz_table.rowCount()):
            tick = self.mrz_table.cellWidget(row, 3)
            if not (isinstance(tick, QCheckBox) and tick.isChecked()):
                continue
            key = self.mrz_table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            value = self.mrz_table.item(row, 1).text()
            if key == "doc.type":
                self.type_combo.setCurrentIndex(
                    self.type_combo.findData(mrz_document_type(reading.document_type))
                )
            elif key == "doc.country":
                self.country_edit.setText(value)
            elif key == "doc.number":
                self.number_edit.setText(value)
            elif key == "doc.expiry":
                self.expiry_edit.setText(value)

    # -- saving ----------------------------------------------------------------------------
    def draft(self) -> DocumentDraft:
        text = self.expiry_edit.text().strip()
        try:
            expiry = date.fromisoformat(text) if text else None
        except ValueError:
            raise ValidationError(
                "Please correct the document's details.", {"expiry": "Write the date YYYY-MM-DD."}
            ) from None
        return DocumentDraft(
            self.type_combo.currentData(),
            self.country_edit.text().strip().upper(),
            self.number_edit.text().strip(),
            expiry,
        )

    def save(self) -> None:
        try:
            draft = self.draft()
        except ValidationError as exc:
            self.status.setText(" ".join(exc.field_errors.values()) or exc.message)
            return
        pages = [p.copy() for p in self.pages]
        documents, client_id = self.documents, self.client_id
        self.save_button.setEnabled(False)
        self.status.setText(self.tr("Encrypting and storing…"))

        def work():
            encoded = [_encode_page(p) for p in pages]
            return documents.add(client_id, draft, encoded)

        def done(info):
            self.saved.emit(info)
            self.accept()

        self.tasks.run(work, on_success=done, on_finished=self._refresh, parent=self)


def _today_of(documents) -> date:
    """The service's date in process (its clock, cheap); on a showroom desk this computer's
    date, rather than a round trip to the server on the GUI thread."""
    from alko_desk.remote.desk import is_remote

    return date.today() if is_remote(documents) else documents.today()


def _encode_page(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    return out.getvalue()


def _normal(text: str) -> str:
    """For comparing: the MRZ writes names without accents (Kovačević is KOVACEVIC)."""
    return fold(text.replace("<", " "))
