"""The one shape of a form dialog: fields with their messages, a line for other messages,
and OK/Cancel, where OK (renamed for what it does) is the only default button.

    class AddThing(FormDialog):
        def __init__(self, tasks, parent=None):
            super().__init__(self.tr("Add a thing"), self.tr("Add"), tasks, parent)
            self.name = self.fields.add("name", self.tr("Name"), QLineEdit())

        def submit(self):
            self.clear_messages()
            self.run(lambda: service.add(self.name.text()), self._added)

The dialog stays open until the service accepts, so nothing typed is lost to a refusal;
a `ValidationError`'s messages go beside their fields, the rest in the message line.
Cancel or Escape with something typed asks "Discard changes?" first (`typed`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.ui.dialogs import may_discard
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import OK_STYLE, FieldForm, HeightFitter, error_label, set_error


class FormDialog(QDialog):
    def __init__(
        self,
        title: str,
        ok_text: str,
        tasks: TaskRunner | None,
        parent: QWidget | None = None,
        *,
        min_width: int = 480,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self.setWindowTitle(title)
        self.setMinimumWidth(min_width)
        self.outer = QVBoxLayout(self)
        self.form = QFormLayout()
        self.fields = FieldForm(self.form, self)
        self.outer.addLayout(self.form)
        self.body = QVBoxLayout()  # notes and widgets below the fields
        self.outer.addLayout(self.body)
        self.error = error_label()
        self.outer.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.outer.addWidget(self.buttons)
        self.fitter = HeightFitter(self)

    def showEvent(self, event) -> None:
        only_ok_is_default(self, self.ok_button)  # buttons added by subclasses included
        super().showEvent(event)

    # -- for subclasses --------------------------------------------------------------------

    def submit(self) -> None:
        """OK: by default the dialog just closes accepted (a form read by its caller)."""
        self.accept()

    def typed(self) -> bool:
        """Whether closing would lose input: any text typed in a line or text field."""
        return any(e.text() for e in self.findChildren(QLineEdit) if not e.isReadOnly()) or any(
            e.toPlainText() for e in self.findChildren(QPlainTextEdit)
        )

    def clear_messages(self) -> None:
        self.fields.clear_errors()
        set_error(self.error, "")

    def run(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Runs the service call off the GUI thread; OK is disabled until it answers."""
        assert self._tasks is not None
        run_from_button(
            self._tasks, self.ok_button, work, done, self.show_failure, self.windowTitle()
        )

    def show_failure(self, exc: BaseException) -> bool:
        """A refusal with a message for the user: shown in the form (True: handled here)."""
        if isinstance(exc, ValidationError):
            unplaced = self.fields.show_errors(exc.field_errors)
            if unplaced or not exc.field_errors:
                set_error(self.error, exc.user_text())
            return True
        return False  # the task runner says why (and offers Retry when the database went away)

    def reject(self) -> None:
        if may_discard(getattr(self._tasks, "dialogs", None), self, self.typed()):
            super().reject()


def save_row(text: str) -> tuple[QHBoxLayout, QLabel, QLabel, QPushButton]:
    """A form's last row: its message (error or "Saved."), then its Save button, disabled
    until the form has loaded. Returns (row, error, status, button)."""
    row = QHBoxLayout()
    error = error_label()
    status = QLabel()
    status.setStyleSheet(OK_STYLE)
    row.addWidget(error, 1)
    row.addWidget(status, 1)
    button = QPushButton(text)
    button.setEnabled(False)
    row.addWidget(button)
    return row, error, status, button


def run_from_button(
    tasks: TaskRunner,
    button: QPushButton,
    work: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[BaseException], bool],
    title: str,
    parent: QWidget | None = None,
) -> None:
    """A save of a form: `button` disabled until the service answers (no double saves);
    the answer goes to `parent` (default: the button's window) only while it exists."""
    button.setEnabled(False)
    tasks.run(
        work,
        on_success=done,
        on_failure=failed,
        on_finished=lambda: button.setEnabled(True),
        parent=parent or button.window(),
        title=title,
    )


def only_ok_is_default(dialog: QDialog, ok: QPushButton) -> None:
    """Enter submits; a focused Cancel or another button never takes Enter instead."""
    for button in dialog.findChildren(QPushButton):
        button.setAutoDefault(False)
    ok.setDefault(True)
