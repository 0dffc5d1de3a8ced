"""Staff accounts (admins): create, disable and enable, reset passwords, change roles, unlock."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QWidget,
)

from alko_desk.models.errors import ValidationError
from alko_desk.models.users import Role, User
from alko_desk.security.passwords import password_problem
from alko_desk.services.account_validation import account_problems
from alko_desk.ui.changes import USERS, ChangeWatcher
from alko_desk.ui.forms import FormDialog, only_ok_is_default
from alko_desk.ui.list_pages import Column, ListColumn, button_row, list_view, page_layout
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import (
    PasswordFields,
    note,
    set_error,
)

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices

USERNAME_ROLE = Qt.ItemDataRole.UserRole + 1
_tr = QCoreApplication.translate
ROOT = QModelIndex()  # the invisible root of a flat table


class UserColumn(ListColumn, context="UsersModel"):
    USERNAME = Column("Username")
    FULL_NAME = Column("Full name")
    ROLE = Column("Role")
    STATUS = Column("Account")
    MUST_CHANGE = Column("Must change password")
    LOCKED = Column("Locked")
    LAST_LOGIN = Column("Last login")


def _local(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else ""


class UsersModel(ColumnsTableModel):
    """A small list: every account, sorted by username."""

    columns = UserColumn

    def row_count(self) -> int:
        return len(self._users)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._users: list[User] = []

    def set_users(self, users: list[User]) -> None:
        self.beginResetModel()
        self._users = sorted(users, key=lambda u: u.username)
        self.endResetModel()

    def user(self, row: int) -> User | None:
        return self._users[row] if 0 <= row < len(self._users) else None

    def row_of(self, username: str) -> int:
        for row, user in enumerate(self._users):
            if user.username == username:
                return row
        return -1

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._users)):
            return None
        user = self._users[index.row()]
        column = UserColumn(index.column())
        if role == USERNAME_ROLE:
            return user.username
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(user, column)
        if role == Qt.ItemDataRole.ForegroundRole and not user.active:
            return QBrush(QColor("#8a8a8a"))
        return None

    @staticmethod
    def _display(user: User, column: UserColumn) -> str:
        if column is UserColumn.USERNAME:
            return user.username
        if column is UserColumn.FULL_NAME:
            return user.full_name
        if column is UserColumn.ROLE:
            return _tr("Role", user.role.label)
        if column is UserColumn.STATUS:
            return _tr("UsersModel", "Active") if user.active else _tr("UsersModel", "Disabled")
        if column is UserColumn.MUST_CHANGE:
            return _tr("UsersModel", "Yes") if user.must_change_password else ""
        if column is UserColumn.LOCKED:
            return (
                _tr("UsersModel", "until {time}").format(time=_local(user.locked_until))
                if user.locked_until
                else ""
            )
        return _local(user.last_login_at)


def suggest_temporary_password() -> str:
    """Four groups of four random characters: easy to read out, nowhere near any list."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(pysecrets.choice(alphabet) for _ in range(4)) for _ in range(4))


@dataclass
class NewAccount:
    username: str
    full_name: str
    role: Role
    password: str


class _TemporaryPassword(PasswordFields):
    """A temporary password, shown as typed (it is read out to the person), with a suggestion button."""

    def __init__(
        self, check: Callable[[str], str | None], form: QFormLayout, parent: QWidget
    ) -> None:
        super().__init__(
            check, form, label=_tr("UsersPage", "Temporary password"), visible=True, parent=parent
        )
        self.suggest = QPushButton(_tr("UsersPage", "Suggest one"))
        self.first_row.addWidget(self.suggest)
        self.suggest.clicked.connect(lambda: self.set_password(suggest_temporary_password()))


class CreateUserDialog(FormDialog):
    """Stays open until the account exists, so nothing typed is lost to an error."""

    def __init__(
        self,
        submit: Callable[[NewAccount], Callable[[], Any]],
        tasks: TaskRunner,
        company_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            _tr("CreateUserDialog", "New staff account"),
            _tr("CreateUserDialog", "Create account"),
            tasks,
            parent,
        )
        self._submit_fn = submit
        self._company_name = company_name
        self.created: User | None = None
        self.username = self.fields.add("username", self.tr("Username"), QLineEdit())
        self.full_name = self.fields.add("full_name", self.tr("Full name"), QLineEdit())
        self.role = QComboBox()
        for role in Role:
            self.role.addItem(_tr("Role", role.label), role)
        self.fields.add("role", self.tr("Role"), self.role)
        self.password = _TemporaryPassword(self._check, self.form, self)
        self.body.addWidget(note(self.tr("The person chooses their own password at first login.")))
        self.username.textChanged.connect(self.password.update)
        only_ok_is_default(self, self.ok_button)

    def _check(self, password: str) -> str | None:
        return password_problem(
            password,
            username=self.username.text().strip().casefold(),
            company_name=self._company_name,
        )

    def values(self) -> NewAccount:
        return NewAccount(
            self.username.text(),
            self.full_name.text(),
            self.role.currentData(),
            self.password.password(),
        )

    def submit(self) -> None:
        """Every field checked at once, each message in its own row."""
        set_error(self.error, "")
        values = self.values()
        errors = account_problems(values.username, values.full_name)
        self.fields.show_errors(errors)
        problem = self.password.problem()
        if problem:
            self.password.show_error(problem)
            if not errors:
                self.password.first.setFocus()
        if errors or problem:
            return
        self.run(self._submit_fn(values), self._created)

    def _created(self, user: User) -> None:
        self.created = user
        self.accept()

    def show_failure(self, exc: BaseException) -> bool:
        if isinstance(exc, ValidationError) and "password" in exc.field_errors:
            errors = dict(exc.field_errors)
            self.password.show_error(errors.pop("password"))
            exc = ValidationError(exc.message, errors)
            if not errors:
                return True
        return super().show_failure(exc)


class ResetPasswordDialog(FormDialog):
    def __init__(
        self,
        username: str,
        submit: Callable[[str], Callable[[], Any]],
        tasks: TaskRunner,
        company_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            _tr("ResetPasswordDialog", "Reset password of {user}").format(user=username),
            _tr("ResetPasswordDialog", "Reset password"),
            tasks,
            parent,
            min_width=460,
        )
        self._submit_fn = submit
        self.outer.insertWidget(
            0,
            note(
                self.tr(
                    "Give {user} a temporary password; they choose their own at the next "
                    "login. A lockout is lifted too."
                ).format(user=username)
            ),
        )
        self.password = _TemporaryPassword(
            lambda pw: password_problem(pw, username=username, company_name=company_name),
            self.form,
            self,
        )
        only_ok_is_default(self, self.ok_button)

    def submit(self) -> None:
        problem = self.password.problem()
        set_error(self.error, "")
        if problem:
            self.password.show_error(problem)
            return
        self.run(self._submit_fn(self.password.password()), lambda _: self.accept())


class UsersPresenter:
    """Owns the model and talks to `services.users`, always through the task runner."""

    def __init__(self, services: SessionServices, tasks: TaskRunner, view: QWidget) -> None:
        self.users = services.users
        self.actor = services.session.user.username
        self.tasks = tasks
        self.view = view
        self.model = UsersModel(view)
        self.loading = False

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        users = self.users
        self.loading = True

        def loaded(result: list[User]) -> None:
            self.model.set_users(result)
            if then:
                then()

        def over() -> None:
            self.loading = False

        self.tasks.run(
            users.list_users,
            on_success=loaded,
            on_finished=over,
            parent=self.view,
            title=_tr("UsersPage", "Staff accounts"),
        )

    def create_work(self, account: NewAccount) -> Callable[[], User]:
        users = self.users
        return lambda: users.create_user(
            account.username, account.full_name, account.role, account.password
        )

    def reset_work(self, username: str) -> Callable[[str], Callable[[], None]]:
        users = self.users
        return lambda password: lambda: users.reset_password(username, password)

    def run_change(self, work: Callable[[], Any], done: Callable[[], None] | None = None) -> None:
        def changed(_: object) -> None:
            self.refresh(done)

        self.tasks.run(
            work, on_success=changed, parent=self.view, title=_tr("UsersPage", "Staff accounts")
        )

    def set_active(self, username: str, active: bool) -> None:
        users = self.users
        self.run_change(lambda: users.set_active(username, active))

    def change_role(self, username: str, role: Role) -> None:
        users = self.users
        self.run_change(lambda: users.change_role(username, role))

    def unlock(self, username: str) -> None:
        users = self.users
        self.run_change(lambda: users.unlock(username))


class UsersPage(QWidget):
    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._tasks = tasks
        self._company_name = ""
        self.presenter = UsersPresenter(services, tasks, self)
        self.dialog: QDialog | None = None
        layout = page_layout(self, self.tr("Staff accounts"))
        self.new_button = QPushButton(self.tr("New account…"))
        self.active_button = QPushButton(self.tr("Disable"))
        self.reset_button = QPushButton(self.tr("Reset password…"))
        self.role_button = QPushButton(self.tr("Change role…"))
        self.unlock_button = QPushButton(self.tr("Unlock"))
        self.refresh_button = QPushButton(self.tr("Refresh"))
        layout.addLayout(
            button_row(
                self.new_button,
                self.active_button,
                self.reset_button,
                self.role_button,
                self.unlock_button,
                end=(self.refresh_button,),
            )
        )
        self.table = list_view(self.presenter.model, stretch=UserColumn.FULL_NAME)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(UserColumn.FULL_NAME, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.new_button.clicked.connect(self.open_create_dialog)
        self.active_button.clicked.connect(self.toggle_active)
        self.reset_button.clicked.connect(self.open_reset_dialog)
        self.role_button.clicked.connect(self.change_role)
        self.unlock_button.clicked.connect(self.unlock)
        self.refresh_button.clicked.connect(lambda: self.presenter.refresh())
        self.presenter.model.modelReset.connect(self._update_buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._update_buttons()
        self.presenter.refresh()
        if changes is not None:  # accounts added or changed here, on another desk or the CLI
            changes.subscribe(USERS, self.changes_arrived)
            self.destroyed.connect(lambda *_: changes.unsubscribe(USERS, self.changes_arrived))
        settings = services.settings
        tasks.run(
            lambda: settings.company().name,
            on_success=self._set_company,
            on_failure=lambda _: True,
            parent=self,
        )

    def _set_company(self, name: str) -> None:
        self._company_name = name

    def changes_arrived(self, _changes) -> None:
        """Reloads the (small) list and keeps the highlighted account highlighted."""
        user = self.selected_user()
        self.presenter.refresh(self._reselect(user.username) if user else None)

    # -- selection --------------------------------------------------------------------------

    def selected_user(self) -> User | None:
        rows = self.table.selectionModel().selectedRows()
        return self.presenter.model.user(rows[0].row()) if rows else None

    def select_user(self, username: str) -> None:
        row = self.presenter.model.row_of(username)
        if row >= 0:
            self.table.selectRow(row)

    def _update_buttons(self) -> None:
        user = self.selected_user()
        for button in (self.active_button, self.reset_button, self.role_button, self.unlock_button):
            button.setEnabled(user is not None)
        self.active_button.setText(
            self.tr("Enable") if user and not user.active else self.tr("Disable")
        )
        if user is not None:
            self.unlock_button.setEnabled(user.locked_until is not None)

    def _reselect(self, username: str) -> Callable[[], None]:
        return lambda: self.select_user(username)

    # -- actions ----------------------------------------------------------------------------

    def open_create_dialog(self) -> CreateUserDialog:
        dialog = CreateUserDialog(self.presenter.create_work, self._tasks, self._company_name, self)
        dialog.accepted.connect(
            lambda: self.presenter.refresh(
                self._reselect(dialog.created.username) if dialog.created else None
            )
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_reset_dialog(self) -> ResetPasswordDialog | None:
        user = self.selected_user()
        if user is None:
            return None
        dialog = ResetPasswordDialog(
            user.username,
            self.presenter.reset_work(user.username),
            self._tasks,
            self._company_name,
            self,
        )
        dialog.accepted.connect(lambda: self.presenter.refresh(self._reselect(user.username)))
        self.dialog = dialog
        dialog.open()
        return dialog

    def toggle_active(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        if user.active and not self._tasks.dialogs.confirm(
            self,
            self.tr("Disable account"),
            self.tr(
                "Disable the account of {name} ({user})? They can no longer log in until an admin "
                "enables it again."
            ).format(name=user.full_name, user=user.username),
            self.tr("Disable"),
        ):
            return
        self.presenter.run_change(
            lambda users=self.presenter.users, u=user: users.set_active(u.username, not u.active),
            self._reselect(user.username),
        )

    def change_role(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        roles = list(Role)
        labels = [_tr("Role", r.label) for r in roles]
        choice = self._tasks.dialogs.choose(
            self,
            self.tr("Change role"),
            self.tr("New role of {user}:").format(user=user.username),
            labels,
            roles.index(user.role),
        )
        if choice is None or labels.index(choice) == roles.index(user.role):
            return
        role = roles[labels.index(choice)]
        self.presenter.run_change(
            lambda users=self.presenter.users, u=user.username: users.change_role(u, role),
            self._reselect(user.username),
        )

    def unlock(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        self.presenter.run_change(
            lambda users=self.presenter.users, u=user.username: users.unlock(u),
            self._reselect(user.username),
        )
