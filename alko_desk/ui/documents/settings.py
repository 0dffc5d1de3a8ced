"""Where documents are stored (admins): the Cloudinary account, or the encrypted folder.

The secret is typed once and sent to the service, which seals it under the organisation
key; the form never shows it again (the status names the cloud and a masked API key).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.ui.tasks import TaskRunner


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
        self.errors = QLabel()
        self.errors.setStyleSheet("color: #b00020;")
        self.save_button = QPushButton(self.tr("Use this Cloudinary account"))
        self.local_button = QPushButton(self.tr("Store in the encrypted folder instead"))
        form = QFormLayout()
        form.addRow(self.tr("Cloud name"), self.cloud_name)
        form.addRow(self.tr("API key"), self.api_key)
        form.addRow(self.tr("API secret"), self.api_secret)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.local_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addWidget(self.errors)
        layout.addLayout(buttons)
        self.save_button.clicked.connect(self.save)
        self.local_button.clicked.connect(self.use_local)

    def refresh(self) -> None:
        self.tasks.run(
            self.documents.storage_status,
            on_success=lambda s: self.status.setText(
                self.tr("Documents are stored in: ") + s.describe()
            ),
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

        self.tasks.run(
            lambda: documents.configure_cloudinary(*values),
            on_success=done,
            on_failure=failed,
            parent=self,
        )

    def use_local(self) -> None:
        documents = self.documents
        self.tasks.run(documents.use_local_store, on_success=lambda _r: self.refresh(), parent=self)


def confirm_quit_with_waiting(documents, dialogs, parent: QWidget | None) -> bool:
    """Before the app quits: True to quit. Asks when documents still wait to upload."""
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
