"""Prompts and messages, behind one injectable service.

Screens and the task runner never call `QMessageBox` directly: they ask a
`DialogService`, so that a presenter or a flow can be tested with a scripted one
(Picard's `user_dialog_service.py`). Forms that the user fills in are real
widgets opened with `open()`, not prompts.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from alko_desk.ui.widgets import error_label


class PasswordPromptDialog(QDialog):
    """Asks for the current user's password again (sensitive actions)."""

    def __init__(
        self, title: str, text: str, error: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        message = QLabel(text)
        message.setWordWrap(True)
        layout.addWidget(message)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("Your password"))
        self.password.setAccessibleName(self.tr("Password"))
        layout.addWidget(self.password)
        self.error = error_label(error)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Confirm"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.password.setFocus()


class TextPromptDialog(QDialog):
    """One line of text (a reason); when `required`, OK (and Enter) stay off until text is typed.

    Not a `QInputDialog`: that one builds its buttons only when first shown, so OK could not
    be disabled before, and an empty required reason went through to the service."""

    def __init__(
        self,
        title: str,
        label: str,
        required: bool = False,
        parent: QWidget | None = None,
        ok_text: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        message = QLabel(label)
        message.setWordWrap(True)
        layout.addWidget(message)
        self.edit = QLineEdit()
        self.edit.setAccessibleName(label)
        message.setBuddy(self.edit)
        layout.addWidget(self.edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok_text:  # "Cancel deal" beside a plain "Cancel" reads both ways: name the action
            self.ok_button.setText(ok_text)
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Back"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._required = required
        if required:
            self.ok_button.setEnabled(False)
            self.edit.textChanged.connect(
                lambda text: self.ok_button.setEnabled(bool(text.strip()))
            )
        self.edit.setFocus()

    def accept(self) -> None:
        if self._required and not self.edit.text().strip():
            return  # Enter in an empty required field: nothing to send yet
        super().accept()

    def value(self) -> str:
        return self.edit.text().strip()


def may_discard(dialogs: DialogService | None, parent: QWidget | None, unsaved: bool) -> bool:
    """Whether a form with `unsaved` input may close: asks "Discard changes?" first, Cancel default."""
    if not unsaved or dialogs is None:
        return True
    return dialogs.confirm(
        parent,
        QCoreApplication.translate("Dialogs", "Discard changes?"),
        QCoreApplication.translate(
            "Dialogs",
            "What you typed in this form has not been saved. Discard it and close the form?",
        ),
        QCoreApplication.translate("Dialogs", "Discard changes"),
    )


class DialogService(QObject):
    """Blocking prompts with the platform's look. Replace it in tests with a scripted one."""

    def error(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.warning(parent, title, text)

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def confirm(self, parent: QWidget | None, title: str, text: str, ok_text: str = "") -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent
        )
        ok = box.addButton(ok_text or self.tr("OK"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is ok

    def retry(self, parent: QWidget | None, title: str, text: str) -> bool:
        """The database went away: Retry runs the same operation again."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            title,
            text,
            QMessageBox.StandardButton.Retry | QMessageBox.StandardButton.Cancel,
            parent,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Retry)
        return box.exec() == QMessageBox.StandardButton.Retry

    def password(
        self, parent: QWidget | None, title: str, text: str, error: str = ""
    ) -> str | None:
        dialog = PasswordPromptDialog(title, text, error, parent)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                return dialog.password.text()
            return None
        finally:
            dialog.deleteLater()

    def choose(
        self, parent: QWidget | None, title: str, label: str, items: list[str], current: int = 0
    ) -> str | None:
        value, ok = QInputDialog.getItem(parent, title, label, items, current, False)
        return value if ok else None

    def text(
        self,
        parent: QWidget | None,
        title: str,
        label: str,
        required: bool = False,
        ok_text: str = "",
    ) -> str | None:
        """One line of text (a reason, a note); None when cancelled. A required text keeps
        OK disabled until something is typed."""
        dialog = TextPromptDialog(title, label, required, parent, ok_text)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                return dialog.value()
            return None
        finally:
            dialog.deleteLater()

    def generic_error(self, parent: QWidget | None) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            self.tr("Something went wrong"),
            self.tr(
                "ALKO Desk ran into an unexpected problem. What you were doing may not "
                "have been completed. The details were written to the log; if this "
                "keeps happening, tell your admin."
            ),
            QMessageBox.StandardButton.Ok,
            parent,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()
