"""The login window: shown at once, usable when the database is ready."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from alko_desk.ui.widgets import error_label, heading, note, set_error


class LoginWindow(QWidget):
    login_requested = Signal(str, str, bool)  # username, password, remember the username
    retry_requested = Signal()
    settings_requested = Signal()
    # A showroom server's address ("host:port"), or "" for the database on this computer.
    server_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("ALKO Desk — Log in"))
        self.setMinimumSize(460, 400)
        self._ready = False
        self._busy = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 28, 32, 28)
        outer.addWidget(heading(self.tr("ALKO Desk"), 20), alignment=Qt.AlignmentFlag.AlignHCenter)
        self.company = note("")
        self.company.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        outer.addWidget(self.company)
        outer.addSpacing(12)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_form())
        self.stack.addWidget(self._build_problem_panel())
        outer.addWidget(self.stack, 1)
        self.notice = note("")
        self.notice.setVisible(False)
        outer.addWidget(self.notice)
        self.set_server("")
        self.set_connecting()

    # -- layout -----------------------------------------------------------------------------

    def _build_form(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        self.username = QLineEdit()
        self.username.setAccessibleName(self.tr("Username"))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Password"))
        form.addRow(self.tr("&Username"), self.username)
        form.addRow(self.tr("&Password"), self.password)
        layout.addLayout(form)
        layout.addWidget(self._build_server_row())
        self.remember = QCheckBox(self.tr("Remember my username on this computer"))
        layout.addWidget(self.remember)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.login_button = QPushButton(self.tr("Log in"))
        self.login_button.setDefault(True)
        self.login_button.setAutoDefault(True)
        buttons.addWidget(self.login_button)
        layout.addLayout(buttons)
        self.status = note("")
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.login_button.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)
        self.username.returnPressed.connect(self.password.setFocus)
        return page

    def _build_server_row(self) -> QWidget:
        """Where the desk works: this computer's database, or a showroom server. Connecting
        to a server the desk does not know yet shows its certificate fingerprint to compare
        (ui/server_connect.py); it is then pinned in the keyring."""
        box = QFrame()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.server_choice = note("")
        row.addWidget(self.server_choice, 1)
        self.server_toggle = QPushButton(self.tr("Connect to a showroom server…"))
        self.server_toggle.setAutoDefault(False)
        row.addWidget(self.server_toggle)
        layout.addLayout(row)
        self.server_panel = QWidget()
        panel = QHBoxLayout(self.server_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        self.server_address = QLineEdit()
        self.server_address.setAccessibleName(self.tr("Server address"))
        self.server_address.setPlaceholderText(self.tr("showroom-server:7443"))
        panel.addWidget(self.server_address, 1)
        self.server_connect = QPushButton(self.tr("Connect"))
        self.server_connect.setAutoDefault(False)
        panel.addWidget(self.server_connect)
        self.use_local = QPushButton(self.tr("Use this computer"))
        self.use_local.setAutoDefault(False)
        panel.addWidget(self.use_local)
        layout.addWidget(self.server_panel)
        self.server_error = error_label()
        layout.addWidget(self.server_error)
        self.server_panel.setVisible(False)
        self.server_toggle.clicked.connect(self._show_server_panel)
        self.server_connect.clicked.connect(self._request_server)
        self.server_address.returnPressed.connect(self._request_server)
        self.use_local.clicked.connect(lambda: self._emit_server(""))
        self._server = ""
        self._database = ""  # host:port of a configured MongoDB server, "" = the embedded one
        return box

    def _build_problem_panel(self) -> QWidget:
        page = QFrame()
        page.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(page)
        layout.addWidget(heading(self.tr("The database cannot be opened"), 12))
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.problem)
        layout.addWidget(
            note(
                self.tr(
                    "Retry once the database is running again, or open Settings to choose another "
                    "MongoDB server (or the embedded database on this computer)."
                )
            )
        )
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.problem_use_local = QPushButton(self.tr("Use this computer's database"))
        self.problem_use_local.clicked.connect(lambda: self._emit_server(""))
        row.addWidget(self.problem_use_local)
        self.settings_button = QPushButton(self.tr("Settings…"))
        self.retry_button = QPushButton(self.tr("Retry"))
        self.retry_button.setDefault(True)
        row.addWidget(self.settings_button)
        row.addWidget(self.retry_button)
        layout.addLayout(row)
        self.retry_button.clicked.connect(self.retry_requested)
        self.settings_button.clicked.connect(self.settings_requested)
        return page

    # -- the server -------------------------------------------------------------------------

    def set_server(self, address: str) -> None:
        """Shows where the desk works now ("" = the database on this computer)."""
        self._server = address
        if address:
            self.server_choice.setText(
                self.tr("Showroom server: {address}").format(address=address)
            )
            self.server_address.setText(address)
        elif self._database:
            self.server_choice.setText(
                self.tr("Database: {address}").format(address=self._database)
            )
        else:
            self.server_choice.setText(self.tr("Database: this computer"))
        self.use_local.setEnabled(bool(address))
        self.server_toggle.setText(
            self.tr("Change server…") if address else self.tr("Connect to a showroom server…")
        )
        set_error(self.server_error, "")

    def set_database(self, address: str) -> None:
        """Names the database the desk opened without a showroom server: host:port of the
        configured URI (ALKO_MONGODB_URI or Settings, no password), or "" for the embedded one."""
        self._database = address
        self.set_server(self._server)

    @property
    def server(self) -> str:
        return self._server

    def show_server_problem(self, text: str) -> None:
        self.server_panel.setVisible(True)
        set_error(self.server_error, text)
        self.server_address.setEnabled(True)
        self.server_connect.setEnabled(True)
        self.server_address.setFocus()

    def _show_server_panel(self) -> None:
        self.server_panel.setVisible(True)
        self.server_address.setFocus()
        self.server_address.selectAll()

    def _request_server(self) -> None:
        from alko_desk.models.errors import AlkoError
        from alko_desk.remote.trust import parse_address

        text = self.server_address.text().strip()
        try:
            parse_address(text)
        except AlkoError as exc:
            set_error(self.server_error, exc.user_text())
            self.server_address.setFocus()
            return
        self._emit_server(text)

    def _emit_server(self, address: str) -> None:
        set_error(self.server_error, "")
        self.server_connect.setEnabled(False)
        self.server_requested.emit(address)

    def server_settled(self) -> None:
        """The connection attempt is over (connected or refused): the row takes input again."""
        self.server_connect.setEnabled(True)

    # -- states -----------------------------------------------------------------------------

    def set_connecting(self) -> None:
        self.stack.setCurrentIndex(0)
        self._ready = False
        self.status.setText(self.tr("Connecting to the database…"))
        self._update_button()

    def set_ready(self, company_name: str = "") -> None:
        self.stack.setCurrentIndex(0)
        self._ready = True
        self.status.setText("")
        self.company.setText(company_name)
        self._update_button()
        (self.password if self.username.text() else self.username).setFocus()

    def show_database_problem(self, text: str) -> None:
        self._ready = False
        self.problem.setText(text)
        self.stack.setCurrentIndex(1)
        self.retry_button.setFocus()
        self._update_button()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.status.setText(self.tr("Checking your password…") if busy else "")
        self.username.setEnabled(not busy)
        self.password.setEnabled(not busy)
        self._update_button()
        if not busy and self.stack.currentIndex() == 0:
            # Disabling the fields took the keyboard focus away; without this, what staff type
            # after "not right" goes nowhere (seen on a real X server).
            self.password.selectAll()
            (self.password if self.username.text() else self.username).setFocus()

    def show_error(self, text: str) -> None:
        set_error(self.error, text)
        self.password.selectAll()
        self.password.setFocus()

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def set_remember_available(self, available: bool) -> None:
        """Without a keyring nothing can be remembered: the box says so instead of pretending."""
        self.remember.setEnabled(available)
        if not available:
            self.remember.setChecked(False)
            self.remember.setToolTip(
                self.tr("No secure keyring on this computer: the username cannot be remembered.")
            )
        else:
            self.remember.setToolTip("")

    def set_username(self, username: str, remembered: bool) -> None:
        if username and not self.username.text():
            self.username.setText(username)
        if remembered:
            self.remember.setChecked(True)
        if self._ready and self.username.text():
            self.password.setFocus()

    def reset(self) -> None:
        """Back to an empty password after a logout; the username stays if remembered."""
        self.password.clear()
        if not self.remember.isChecked():
            self.username.clear()
        set_error(self.error, "")
        self.set_busy(False)

    @property
    def ready(self) -> bool:
        return self._ready

    def _update_button(self) -> None:
        self.login_button.setEnabled(self._ready and not self._busy)

    def _submit(self) -> None:
        if not self.login_button.isEnabled():
            return
        set_error(self.error, "")
        self.login_requested.emit(
            self.username.text(), self.password.text(), self.remember.isChecked()
        )
