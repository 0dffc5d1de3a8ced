"""Where documents are stored (admins): the Cloudinary account, or the encrypted folder.

The secret is typed once and sent to the service, which seals it under the organisation
key; the form never shows it again (the status names the cloud and a masked API key).
Also how far the capture editor downscales a page (the long side, 2,000 px by default).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.services.images import DEFAULT_MAX_SIDE, PAGE_SIDE_RANGE
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import note


class DocumentStorageSettings(QWidget):
    saved = Signal()

    def __init__(self, documents, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.documents = documents
        self.tasks = tasks
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cloud_name = QLineEdit()
        self.api_key = QLineEdit()
        self.api_secret = QLineEdit()
        self.api_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.local_folder = QLineEdit()
        self.local_folder.setPlaceholderText(self.tr("The data folder of this desk"))
        self.browse_button = QPushButton(self.tr("Browse…"))
        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet("color: #b00020;")
        self.save_button = QPushButton(self.tr("Use this Cloudinary account"))
        self.local_button = QPushButton(self.tr("Use the encrypted folder"))
        self.migrate_button = QPushButton(self.tr("Move existing documents to the store in use"))
        self.migrate_status = QLabel()
        self.migrate_status.setWordWrap(True)
        self.page_side = QSpinBox()
        self.page_side.setRange(*PAGE_SIDE_RANGE)
        self.page_side.setSingleStep(100)
        self.page_side.setSuffix(" px")
        self.page_side.setValue(DEFAULT_MAX_SIDE)
        self.page_side_button = QPushButton(self.tr("Use this size"))
        form = QFormLayout()
        form.addRow(self.tr("Cloud name"), self.cloud_name)
        form.addRow(self.tr("API key"), self.api_key)
        form.addRow(self.tr("API secret"), self.api_secret)
        form.addRow("", _left(self.save_button))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.local_folder, 1)
        folder_row.addWidget(self.browse_button)
        form.addRow(self.tr("Or a folder"), folder_row)
        form.addRow("", _left(self.local_button))
        size_row = QHBoxLayout()
        size_row.addWidget(self.page_side)
        size_row.addWidget(self.page_side_button)
        size_row.addStretch(1)
        form.addRow(self.tr("Downscale pages to"), size_row)
        migrate = QHBoxLayout()
        migrate.addWidget(self.migrate_button)
        migrate.addWidget(self.migrate_status, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(
            note(
                self.tr(
                    "Pages are encrypted with each client's key before they are stored, in "
                    "either place. The API secret is kept sealed and never shown again; "
                    "changing the store asks for your password."
                )
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.errors)
        layout.addLayout(migrate)
        self.save_button.clicked.connect(self.save)
        self.local_button.clicked.connect(self.use_local)
        self.browse_button.clicked.connect(self._browse)
        self.migrate_button.clicked.connect(self.migrate)
        self.page_side_button.clicked.connect(self.save_page_side)

    def refresh(self) -> None:
        documents = self.documents

        def show(result) -> None:
            status, side = result
            self.status.setText(self.tr("Documents are stored in: ") + status.describe())
            self.page_side.setValue(side)

        self.tasks.run(
            lambda: (documents.storage_status(), documents.page_side_limit()),
            on_success=show,
            parent=self,
        )

    def save_page_side(self) -> None:
        """The long side, in pixels, that new pages are downscaled to (the capture editor)."""
        documents, pixels = self.documents, self.page_side.value()

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, ValidationError):
                self.errors.setText("\n".join(exc.field_errors.values()) or exc.message)
                return True
            return False

        def done(_result) -> None:
            self.errors.clear()
            self.saved.emit()

        self.tasks.run(
            lambda: documents.set_page_side_limit(pixels),
            on_success=done,
            on_failure=failed,
            parent=self,
        )

    def save(self) -> None:
        values = (self.cloud_name.text(), self.api_key.text(), self.api_secret.text())
        documents = self.documents

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, ValidationError):
                self.errors.setText("\n".join(exc.field_errors.values()) or exc.message)
                return True
            return False

        def done(_result) -> None:
            self.api_secret.clear()  # never kept in the form
            self.errors.clear()
            self.refresh()
            self.saved.emit()
            self.offer_migration()

        self.tasks.run(
            lambda: documents.configure_cloudinary(*values),
            on_success=done,
            on_failure=failed,
            parent=self,
        )

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Folder for encrypted documents"), self.local_folder.text()
        )
        if folder:
            self.local_folder.setText(folder)

    def use_local(self) -> None:
        documents = self.documents
        text = self.local_folder.text().strip()
        folder = Path(text) if text else None
        if folder is not None and not folder.is_absolute():
            self.errors.setText(self.tr("Choose a full folder path (Browse…)."))
            return
        self.errors.clear()

        def done(_result) -> None:
            self.refresh()
            self.saved.emit()
            self.offer_migration()

        self.tasks.run(lambda: documents.use_local_store(folder), on_success=done, parent=self)

    def offer_migration(self) -> None:
        """After a switch: the documents stored before stay readable where they are, and
        move now if the admin says so (or later with the button)."""
        if self.tasks.dialogs.confirm(
            self,
            self.tr("Move existing documents?"),
            self.tr(
                "Documents stored before this change stay readable where they are. Move them "
                "to the store now in use? (You can also do it later with “Move existing "
                "documents to the store in use”.)"
            ),
            self.tr("Move them now"),
        ):
            self.migrate()

    def migrate(self) -> None:
        documents = self.documents
        self.migrate_button.setEnabled(False)
        self.migrate_status.setText(self.tr("Moving documents…"))

        def failed(_exc: BaseException) -> bool:
            self.migrate_status.clear()
            return False  # the runner shows the message (or asks for the password again)

        self.tasks.run(
            documents.migrate_to_current_store,
            on_success=lambda moved: self.migrate_status.setText(
                self.tr("%n page(s) moved.", "", moved)
            ),
            on_failure=failed,
            on_finished=lambda: self.migrate_button.setEnabled(True),
            parent=self,
        )


def _left(button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(button)
    row.addStretch(1)
    return row


def confirm_quit_with_waiting(documents, dialogs, parent: QWidget | None) -> bool:
    """Before the app quits: True to quit. Asks when documents still wait to upload."""
    from alko_desk.remote.desk import is_remote

    if is_remote(documents):
        return True  # they wait on the showroom server, which uploads them: nothing is lost
    message = documents.waiting_message()
    if not message:
        return True
    return dialogs.confirm(
        parent,
        "ALKO Desk",
        f"{message} on this desk. They are kept encrypted here and uploaded the next time "
        "ALKO Desk runs with a network. Quit anyway?",
        "Quit",
    )
