"""Choosing one's own password: forced after a new account or a reset, before anything else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import AuthenticationError, ValidationError
from alko_desk.models.users import Session
from alko_desk.security.passwords import password_problem
from alko_desk.ui.dialogs import may_discard
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import HeightFitter, PasswordFields, error_label, note, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext


class ChangePasswordDialog(QDialog):
    """Runs `context.auth.change_password`; emits the renewed session when it worked."""

    changed = Signal(object)  # Session

    def __init__(
        self,
        context: AppContext,
        session: Session,
        tasks: TaskRunner,
        *,
        forced: bool,
        company_name: str = "",
        current_password: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._known_current = current_password  # typed at the login seconds ago: not asked again
        self._context = context
        self._session = session
        self._tasks = tasks
        self._company_name = company_name
        self.setWindowTitle(self.tr("Choose your password"))
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        if forced:
            layout.addWidget(
                note(
                    self.tr(
                        "Welcome, {name}. Your account has a temporary password: choose your own before you "
                        "continue. Use at least 15 characters; a short sentence works well."
                    ).format(name=session.user.full_name or session.user.username)
                )
            )
        form = QFormLayout()
        self.current = QLineEdit()
        self.current.setEchoMode(QLineEdit.EchoMode.Password)
        self.current.setAccessibleName(self.tr("Current password"))
        if current_password:
            self.current.setText(current_password)
        else:
            form.addRow(self.tr("Current password"), self.current)
        self.current.setVisible(not current_password)
        self.passwords = PasswordFields(self._check, form, parent=self)
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Change password"))
        if forced:
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Log out"))
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.passwords.changed.connect(self._update)
        self.passwords.changed.connect(lambda: set_error(self.error, ""))
        self.current.textChanged.connect(self._update)
        self.current.textChanged.connect(lambda: set_error(self.error, ""))
        for button in self.buttons.buttons():
            button.setAutoDefault(False)  # a focused "Log out" never takes Enter
        self.ok_button.setDefault(True)
        self._busy = False
        self._update()
        self.fitter = HeightFitter(self)
        (self.passwords.first if current_password else self.current).setFocus()

    def reject(self) -> None:
        """Escape or Cancel (Log out at first login): asks first when a new password was typed."""
        typed = bool(
            self.passwords.first.text() or (self.current.isVisible() and self.current.text())
        )
        if may_discard(getattr(self._tasks, "dialogs", None), self, typed):
            super().reject()

    def _check(self, password: str) -> str | None:
        if self.current.text() and password == self.current.text():
            return self.tr("Choose a password different from the current one.")
        return password_problem(
            password, username=self._session.user.username, company_name=self._company_name
        )

    def _update(self) -> None:
        self.ok_button.setEnabled(
            not self._busy and bool(self.current.text()) and self.passwords.problem() is None
        )

    def _submit(self) -> None:
        if not self.ok_button.isEnabled():
            return
        current, new = self.current.text(), self.passwords.password()
        session = self._session
        set_error(self.error, "")
        self._busy = True
        self._update()
        self._tasks.run(
            lambda: self._context.auth.change_password(session, current, new),
            on_success=self._changed,
            on_failure=self._failed,
            on_finished=self._idle,
            parent=self,
            title=self.windowTitle(),
        )

    def _idle(self) -> None:
        self._busy = False
        self._update()

    def _changed(self, session: Session) -> None:
        self.accept()
        self.changed.emit(session)

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, (AuthenticationError, ValidationError)):
            field = next((k for k in ("new", "password") if k in exc.field_errors), None)
            if isinstance(exc, ValidationError) and field:
                self.passwords.show_error(exc.user_text())
                self.passwords.first.selectAll()
                self.passwords.first.setFocus()  # not on "Log out", where Enter would log out
            else:
                set_error(self.error, exc.user_text())
                (self.passwords.first if self._known_current else self.current).setFocus()
            return True
        return False
