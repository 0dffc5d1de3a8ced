"""Choosing the database: a MongoDB URI kept in the OS keyring, or the embedded default."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import OK_STYLE, error_label, note, set_error

if TYPE_CHECKING:
    from alko_desk.secrets import SecretStore

URI_ENV = "ALKO_MONGODB_URI"


def uri_problem(uri: str) -> str:
    if uri and not uri.startswith(("mongodb://", "mongodb+srv://")):
        return QCoreApplication.translate(
            "DatabaseUriEditor", "A MongoDB URI starts with mongodb:// or mongodb+srv://."
        )
    return ""


class DatabaseUriEditor(QGroupBox):
    """Reads and writes the URI through the keyring, off the GUI thread."""

    saved = Signal(str)  # the new URI, "" for the embedded database

    def __init__(
        self,
        secrets_provider: Callable[[], SecretStore | None],
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(self.tr("Database"), parent)
        self._secrets = secrets_provider
        self._tasks = tasks
        layout = QVBoxLayout(self)
        self.uri = QLineEdit()
        self.uri.setPlaceholderText(self.tr("Empty: the embedded database on this computer"))
        self.uri.setAccessibleName(self.tr("MongoDB URI"))
        self.uri.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        layout.addWidget(QLabel(self.tr("MongoDB URI")))
        layout.addWidget(self.uri)
        layout.addWidget(
            note(
                self.tr(
                    "For example mongodb://user:password@server.example:27017/?tls=true. Use TLS (tls=true) "
                    "whenever the server is not on this computer. The address and its password are kept in the "
                    "OS keyring, never in a settings file. A change applies the next time ALKO Desk starts."
                )
            )
        )
        self.environment = note("")
        layout.addWidget(self.environment)
        self.error = error_label()
        layout.addWidget(self.error)
        self.status = QLabel()
        self.status.setStyleSheet(OK_STYLE)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        row.addStretch(1)
        self.embedded_button = QPushButton(self.tr("Use the embedded database"))
        self.save_button = QPushButton(self.tr("Save address"))
        row.addWidget(self.embedded_button)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        self.save_button.clicked.connect(lambda: self.save(self.uri.text().strip()))
        self.embedded_button.clicked.connect(lambda: self.save(""))
        self.refresh_environment_note()

    def refresh_environment_note(self) -> None:
        secrets = self._secrets()
        if os.environ.get(URI_ENV, "").strip():
            self.environment.setText(
                self.tr(
                    "{var} is set in the environment; it takes precedence over the address saved here."
                ).format(var=URI_ENV)
            )
        elif secrets is None or not secrets.available:
            self.environment.setText(
                self.tr(
                    "No secure keyring is available, so an address cannot be saved here. Set {var} in the "
                    "environment instead."
                ).format(var=URI_ENV)
            )
        else:
            self.environment.setText("")
        self.environment.setVisible(bool(self.environment.text()))
        usable = secrets is not None and secrets.available
        self.save_button.setEnabled(usable)
        self.embedded_button.setEnabled(usable)

    def load(self) -> None:
        secrets = self._secrets()
        if secrets is None:
            return
        from alko_desk.secrets import MONGODB_URI_KEY

        self._tasks.run(
            lambda: secrets.get(MONGODB_URI_KEY) or "", on_success=self._loaded, parent=self
        )

    def _loaded(self, uri: str) -> None:
        if not self.uri.isModified():  # the user was quicker than the keyring
            self.uri.setText(uri)

    def save(self, uri: str) -> None:
        set_error(self.error, "")
        self.status.setText("")
        problem = uri_problem(uri)
        if problem:
            set_error(self.error, problem)
            return
        secrets = self._secrets()
        if secrets is None:
            return
        from alko_desk.secrets import MONGODB_URI_KEY

        self.save_button.setEnabled(False)
        self._tasks.run(
            lambda: secrets.set(MONGODB_URI_KEY, uri or None),
            on_success=lambda ok: self._saved(uri, ok),
            on_finished=self.refresh_environment_note,
            parent=self,
            title=self.tr("Database"),
        )

    def _saved(self, uri: str, ok: bool) -> None:
        if not ok:
            set_error(
                self.error, self.tr("The keyring did not accept the address; nothing was saved.")
            )
            return
        self.uri.setText(uri)
        self.status.setText(
            self.tr("Saved. The embedded database will be used.")
            if not uri
            else self.tr("Saved. It applies the next time ALKO Desk starts.")
        )
        self.saved.emit(uri)


class DatabaseSettingsDialog(QDialog):
    """Opened from the start-up problem panel; Retry after saving uses the new choice at once."""

    def __init__(
        self,
        secrets_provider: Callable[[], SecretStore | None],
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Database settings"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        self.editor = DatabaseUriEditor(secrets_provider, tasks)
        layout.addWidget(self.editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.editor.saved.connect(lambda _: self.accept())
        # Enter saves what was typed; it must never pick "Use the embedded database", the first
        # button, which a dialog would otherwise make its default.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
        self.editor.save_button.setDefault(True)
        self.editor.load()
