"""A client's ID documents: the list, "N documents waiting to upload", add, view and delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.documents import DocumentInfo, UploadState
from alko_desk.models.errors import AlkoError
from alko_desk.services.images import DEFAULT_MAX_SIDE
from alko_desk.ui.documents.capture import RED, DocumentCaptureDialog
from alko_desk.ui.tasks import TaskRunner


class ClientDocumentsPanel(QWidget):
    refreshed = Signal(int)

    HEADERS = ("Type", "Country", "Number", "Expiry", "Pages", "State")

    def __init__(
        self,
        documents,
        tasks: TaskRunner,
        client_id: str = "",
        *,
        scanner=None,
        client_fields: dict[str, str] | None = None,
        find_clients=None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.find_clients = find_clients
        self.documents = documents
        self.tasks = tasks
        self.client_id = client_id
        self.scanner = scanner
        self.client_fields = client_fields or {}
        self.infos: list[DocumentInfo] = []
        self.today = None  # the service's date, from the last refresh
        self.max_side = DEFAULT_MAX_SIDE  # Settings' page size, from the last refresh
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        # Fits the narrow detail column beside the client list: the number takes what is left.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(30)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.empty = QLabel(self.tr("No ID documents stored for this client yet."))
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid);")
        self.waiting = QLabel()
        self.waiting.setStyleSheet("color: #8a5a00;")
        self.add_button = QPushButton(self.tr("Add document…"))
        self.view_button = QPushButton(self.tr("View"))
        self.delete_button = QPushButton(self.tr("Delete"))
        buttons = QHBoxLayout()
        for w in (self.add_button, self.view_button, self.delete_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.waiting)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self.open_capture)
        self.view_button.clicked.connect(self.view_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.capture: DocumentCaptureDialog | None = None
        self.viewer: QDialog | None = None
        self.waiting.hide()
        self.empty.hide()
        self._update_buttons()

    def set_can_write(self, can_write: bool) -> None:
        """Managers see and view documents; adding and deleting is for sales (client.write)."""
        self.add_button.setVisible(can_write)
        self.delete_button.setVisible(can_write)

    def set_client(self, client_id: str, client_fields: dict[str, str] | None = None) -> None:
        """Follows the highlighted client: another client's rows never stay on screen."""
        changed = client_id != self.client_id
        self.client_id = client_id
        self.client_fields = dict(client_fields or {})
        if changed:
            self._clear_rows()
        if client_id and self.isVisible():
            self.refresh()

    def clear(self) -> None:
        """No client highlighted: nothing shown, and any answer still on its way is dropped."""
        self.tasks.supersede(self._key)
        self.client_id = ""
        self.client_fields = {}
        self._clear_rows()

    def _clear_rows(self) -> None:
        self.infos = []
        self.table.setRowCount(0)
        self.empty.hide()
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_client = bool(self.client_id)
        self.add_button.setEnabled(has_client)
        self.view_button.setEnabled(has_client and bool(self.infos))
        self.delete_button.setEnabled(has_client and bool(self.infos))

    @property
    def _key(self) -> tuple:
        return (id(self), "documents")

    def refresh(self) -> None:
        documents, client_id = self.documents, self.client_id
        if not client_id:
            return
        self.tasks.run(
            lambda: (
                documents.list(client_id),
                documents.waiting_message(),
                documents.today(),
                documents.page_side_limit(),
            ),
            on_success=self._show,
            on_failure=self._failed,
            key=self._key,
            parent=self,
        )

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, AlkoError):  # shown in place: the client's details stay usable
            self._clear_rows()
            self.empty.setText(exc.user_text())
            self.empty.show()
            return True
        return False

    def sync(self) -> None:
        """Retries the uploads that are due, then refreshes when any went up."""
        documents = self.documents
        self.tasks.run(
            documents.flush_outbox,
            on_success=lambda result: self.refresh() if result.uploaded else None,
            on_failure=lambda _exc: True,  # still waiting: the list says so already
            parent=self,
        )

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.client_id:
            self.refresh()
            self.sync()

    def _show(self, result) -> None:
        infos, waiting, today, max_side = result
        self.infos, self.today, self.max_side = infos, today, max_side
        self.table.setRowCount(0)
        for info in infos:
            row = self.table.rowCount()
            self.table.insertRow(row)
            expiry = info.expiry.isoformat() if info.expiry else ""
            cells = [
                info.type.label,
                info.issuing_country,
                info.number,
                expiry + (self.tr(" (expired)") if info.expired(today) else ""),
                str(len(info.pages)),
                self.tr("waiting to upload")
                if info.state is UploadState.WAITING
                else self.tr("stored"),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if col == 3 and info.expired(today):
                    item.setBackground(QBrush(RED))
                self.table.setItem(row, col, item)
        self.waiting.setText(waiting)
        self.waiting.setVisible(bool(waiting))
        self.empty.setText(self.tr("No ID documents stored for this client yet."))
        self.empty.setVisible(not infos)
        if infos and self.table.currentRow() < 0:
            self.table.selectRow(0)
        self._update_buttons()
        self.refreshed.emit(len(infos))

    def _selected(self) -> DocumentInfo | None:
        row = self.table.currentRow()
        return self.infos[row] if 0 <= row < len(self.infos) else None

    def open_capture(self) -> DocumentCaptureDialog | None:
        if not self.client_id:
            return None
        self.capture = DocumentCaptureDialog(
            self.documents,
            self.tasks,
            self.client_id,
            scanner=self.scanner,
            client_fields=self.client_fields,
            find_clients=self.find_clients,
            today=self.today,
            max_side=self.max_side,
            parent=self,
        )
        self.capture.saved.connect(lambda _info: self.refresh())
        self.capture.open()
        return self.capture

    def view_selected(self) -> None:
        info = self._selected()
        if info is None:
            return
        documents, client_id = self.documents, self.client_id
        self.tasks.run(
            lambda: [documents.view(client_id, info.id, n) for n in range(len(info.pages))],
            on_success=self._show_pages,
            parent=self,
        )

    def _show_pages(self, contents) -> None:
        # Decrypted bytes live only in this dialog's pixmaps; nothing is written anywhere.
        self.viewer = QDialog(self)
        self.viewer.setWindowTitle(self.tr("ID document"))
        box = QVBoxLayout()
        for content in contents:
            label = QLabel()
            image = QImage.fromData(content.data)
            label.setPixmap(
                QPixmap.fromImage(image).scaledToWidth(
                    min(900, image.width()), Qt.TransformationMode.SmoothTransformation
                )
            )
            box.addWidget(label)
        inner = QWidget()
        inner.setLayout(box)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        QVBoxLayout(self.viewer).addWidget(scroll)
        self.viewer.resize(960, 700)
        self.viewer.open()

    def delete_selected(self) -> None:
        info = self._selected()
        if info is None:
            return
        if not self.tasks.dialogs.confirm(
            self,
            self.tr("Delete document"),
            self.tr("Delete this %s for good? Its pages are removed from the document store.")
            % info.type.label.lower(),
            self.tr("Delete"),
        ):
            return
        documents, client_id = self.documents, self.client_id
        self.tasks.run(
            lambda: documents.delete(client_id, info.id), on_success=lambda _: self.refresh()
        )
