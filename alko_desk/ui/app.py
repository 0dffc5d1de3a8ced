"""Starting the GUI: the login window at once, the database in the background, then the desk.

`DeskController` owns the flow between windows: login (with the database
opening behind it), the first-run wizard, the forced password change, the main
window, the idle lock, logout and switching users. Its context opener is
injected, so tests hand it an `AppContext` of their own or one that fails.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QLibraryInfo, QLocale, QObject, QTimer, QTranslator, Signal
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from alko_desk import APP_NAME, ORG_NAME, __version__
from alko_desk.models.errors import AlkoError, AuthenticationError
from alko_desk.models.users import Session
from alko_desk.ui.dialogs import DialogService
from alko_desk.ui.errors import ErrorReporter, install_excepthook
from alko_desk.ui.gc import GuiThreadGarbageCollector
from alko_desk.ui.idle import DEFAULT_IDLE_MINUTES, DeskLock, IdleWatcher
from alko_desk.ui.login import LoginWindow
from alko_desk.ui.preferences import Preferences
from alko_desk.ui.qt_setup import prepare_qt
from alko_desk.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext
    from alko_desk.models.company import CompanyProfile
    from alko_desk.secrets import SecretStore
    from alko_desk.ui.change_password import ChangePasswordDialog
    from alko_desk.ui.db_settings import DatabaseSettingsDialog
    from alko_desk.ui.main_window import MainWindow
    from alko_desk.ui.setup_wizard import SetupWizard

log = logging.getLogger(__name__)

ContextOpener = Callable[["SecretStore | None"], "AppContext"]
SecretsFactory = Callable[[], "SecretStore"]

REMEMBERED_USERNAME_KEY = (
    "remembered-username"  # the same key as alko_desk.secrets, without importing keyring now
)


def _default_secrets() -> SecretStore:
    from alko_desk.secrets import SecretStore

    return SecretStore()


class DeskController(QObject):
    quit_requested = Signal()
    main_window_shown = Signal(object)
    logged_out = Signal()

    def __init__(
        self,
        open_context: ContextOpener,
        *,
        make_secrets: SecretsFactory = _default_secrets,
        dialogs: DialogService | None = None,
        preferences: Preferences | None = None,
        idle_timeout_ms: int | None = None,
        close_context_on_exit: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_context = open_context
        self._make_secrets = make_secrets
        self._preferences = preferences
        self._idle_override = idle_timeout_ms
        self._close_context_on_exit = close_context_on_exit
        self.dialogs = dialogs or DialogService()
        self.reporter = ErrorReporter(self.dialogs)
        self.tasks = TaskRunner(self.dialogs, reporter=self.reporter, parent=self)
        self.secrets: SecretStore | None = None
        self.context: AppContext | None = None
        self.session: Session | None = None
        self.company: CompanyProfile | None = None
        self.main_window: MainWindow | None = None
        self.wizard: SetupWizard | None = None
        self.password_dialog: ChangePasswordDialog | None = None
        self.db_settings_dialog: DatabaseSettingsDialog | None = None
        self.desk_lock: DeskLock | None = None
        self._opened: list[AppContext] = []
        self._retired: list[QWidget] = []  # kept until deleteLater has run (see _retire)
        self._shutting_down = False
        self.idle = IdleWatcher(idle_timeout_ms or DEFAULT_IDLE_MINUTES * 60_000, self)
        self.idle.idle.connect(self.lock)
        self.login_window = LoginWindow()
        self.login_window.login_requested.connect(self.log_in)
        self.login_window.retry_requested.connect(self.retry)
        self.login_window.settings_requested.connect(self.open_database_settings)
        self.login_window.server_requested.connect(self.connect_to_server)

    # -- start: keyring, then the database ----------------------------------------------------

    def start(self) -> None:
        self.login_window.show()
        self.login_window.set_connecting()
        make = self._make_secrets

        def work() -> tuple[Any, str]:
            try:
                secrets = make()
            except Exception:
                log.exception("the keyring could not be opened")
                return None, ""
            return secrets, secrets.get(REMEMBERED_USERNAME_KEY) or ""

        self.tasks.run(work, on_success=self._secrets_ready, parent=self.login_window)

    def _secrets_ready(self, result: tuple[Any, str]) -> None:
        self.secrets, remembered = result
        self.login_window.set_username(remembered, bool(remembered))
        self.login_window.set_remember_available(
            self.secrets is not None and bool(getattr(self.secrets, "available", True))
        )
        if self.secrets is not None and self.secrets.warning:
            self.login_window.set_notice(self.secrets.warning)
        self._open_database()

    def _open_database(self) -> None:
        self.login_window.set_connecting()
        opener, secrets, opened = self._open_context, self.secrets, self._opened

        def work() -> AppContext:
            context = opener(secrets)
            opened.append(context)  # so that a quit during the start still closes it
            return context

        self.tasks.run(
            work,
            on_success=self._database_ready,
            on_failure=self._database_failed,
            parent=self.login_window,
        )

    def _database_ready(self, context: AppContext) -> None:
        self.context = context
        desk = getattr(context, "desk", None)  # a RemoteContext: working through a server
        self.login_window.set_database(getattr(context, "database_address", ""))
        self.login_window.set_server(getattr(desk, "address", ""))
        self._check_setup()

    # -- the showroom server ----------------------------------------------------------------

    def connect_to_server(self, address: str) -> None:
        """From the login window: work through the server at `address` (its certificate
        confirmed by staff the first time, then pinned), or "" for this computer's database."""
        from alko_desk.remote.trust import PinStore
        from alko_desk.ui.server_connect import ServerConnector

        secrets = self.secrets
        if secrets is None or not getattr(secrets, "available", True):
            self.login_window.show_server_problem(
                self.tr(
                    "This computer has no secure keyring, so it cannot remember which server "
                    "to trust."
                )
            )
            self.login_window.server_settled()
            return
        pins = PinStore(secrets)
        if not address:
            self.tasks.run(lambda: pins.choose_server(""), on_success=lambda _: self._reopen())
            return
        connector = ServerConnector(self.tasks, pins, self.login_window)
        self._connector = connector  # kept alive while it works

        def connected(desk) -> None:
            from alko_desk.remote.desk import RemoteContext

            self.login_window.server_settled()
            self.tasks.run(lambda: pins.choose_server(desk.address))
            self._replace_context(RemoteContext(desk, secrets=secrets))

        def refused(text: str) -> None:
            self.login_window.server_settled()
            self.login_window.show_server_problem(text)

        connector.connected.connect(connected)
        connector.refused.connect(refused)
        connector.connect_to(address)

    def _replace_context(self, context) -> None:
        self._close_previous()
        self._opened.append(context)
        self._database_ready(context)

    def _reopen(self) -> None:
        """Back to what the opener chooses (this computer's database, no server chosen)."""
        self.login_window.server_settled()
        self._close_previous()
        self._open_database()

    def _close_previous(self) -> None:
        previous, self.context = self.context, None
        if previous is not None and self._close_context_on_exit:
            if previous in self._opened:
                self._opened.remove(previous)
            self.tasks.run(previous.close)  # the embedded database stops off the GUI thread

    def _check_setup(self) -> None:
        context = self.context
        assert context is not None
        self.login_window.set_connecting()
        self.tasks.run(
            context.setup.is_set_up,
            on_success=self._setup_checked,
            on_failure=self._database_failed,
            parent=self.login_window,
        )

    def _setup_checked(self, is_set_up: bool) -> None:
        if is_set_up:
            self.login_window.set_ready()
        else:
            self._show_wizard()

    def _database_failed(self, exc: BaseException) -> bool:
        if isinstance(exc, AlkoError):
            text = exc.user_text()
        else:
            log.error(
                "the database could not be opened", exc_info=(type(exc), exc, exc.__traceback__)
            )
            text = str(exc).strip() or self.tr("The database could not be opened ({kind}).").format(
                kind=type(exc).__name__
            )
        self.login_window.show_database_problem(text)
        return True

    def retry(self) -> None:
        if self.context is None:
            self._open_database()
        else:
            self._check_setup()

    def open_database_settings(self) -> DatabaseSettingsDialog:
        from alko_desk.ui.db_settings import DatabaseSettingsDialog

        dialog = DatabaseSettingsDialog(lambda: self.secrets, self.tasks, self.login_window)
        dialog.accepted.connect(self.retry)
        self.db_settings_dialog = dialog
        dialog.open()
        return dialog

    # -- first start ------------------------------------------------------------------------

    def _show_wizard(self) -> None:
        from alko_desk.ui.setup_wizard import SetupWizard

        assert self.context is not None
        self.wizard = SetupWizard(self.context, self.tasks)
        self.wizard.completed.connect(self._setup_done)
        self.wizard.rejected.connect(self.quit_requested)
        self.wizard.show()
        self.login_window.hide()

    def _setup_done(self, username: str) -> None:
        self.login_window.username.setText(username)
        self.login_window.show()
        self.login_window.set_ready()
        if self.wizard is not None:
            self._retire(self.wizard)
            self.wizard = None

    # -- login ------------------------------------------------------------------------------

    def log_in(self, username: str, password: str, remember: bool) -> None:
        context, secrets = self.context, self.secrets
        if context is None:
            return

        def work() -> tuple[Session, CompanyProfile]:
            session = context.auth.login(username, password)
            context.finish_interrupted_work(session)
            profile = context.services_for(session).settings.company()
            if secrets is not None:
                secrets.set(REMEMBERED_USERNAME_KEY, session.user.username if remember else None)
            return session, profile

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, AuthenticationError):
                self.login_window.show_error(exc.user_text())
                return True
            return False

        self.login_window.set_busy(True)
        self.tasks.run(
            work,
            on_success=lambda result: self._logged_in(result, password),
            on_failure=refused,
            on_finished=lambda: self.login_window.set_busy(False),
            parent=self.login_window,
            title=self.tr("Log in"),
        )

    def _logged_in(self, result: tuple[Session, CompanyProfile], password: str = "") -> None:
        session, self.company = result
        self.login_window.password.clear()
        if session.user.must_change_password:
            self._force_password_change(session, password)
        else:
            self._open_main(session)

    def _force_password_change(self, session: Session, current_password: str = "") -> None:
        from alko_desk.ui.change_password import ChangePasswordDialog

        assert self.context is not None
        dialog = ChangePasswordDialog(
            self.context,
            session,
            self.tasks,
            forced=True,
            company_name=self.company.name if self.company else "",
            current_password=current_password,
            parent=self.login_window,
        )
        dialog.changed.connect(self._open_main)
        dialog.rejected.connect(lambda: self._end_quietly(session))
        self.password_dialog = dialog
        dialog.open()

    def _end_quietly(self, session: Session) -> None:
        context = self.context
        if context is not None:
            self.tasks.run(lambda: context.auth.logout(session, "logout"))
        self.login_window.reset()

    # -- the desk ---------------------------------------------------------------------------

    def _open_main(self, session: Session) -> None:
        from alko_desk.ui.main_window import MainWindow

        context = self.context
        assert context is not None
        self.password_dialog = None
        self.session = session

        def confirm(password: str) -> None:
            context.auth.confirm_password(session, password)

        services = context.services_for(session)
        session_tasks = self.tasks.for_session(confirm)
        window = MainWindow(context, services, session_tasks, preferences=self._preferences)
        window.lock_requested.connect(self.lock)
        window.logout_requested.connect(self.log_out)
        window.quit_requested.connect(self.quit_requested)
        window.company_changed.connect(self._company_changed)
        who = session.user.full_name or session.user.username
        self.desk_lock = DeskLock(window, session_tasks, confirm, who, self)
        self.desk_lock.switch_user.connect(self.switch_user)
        self.desk_lock.unlocked.connect(self.idle.start)
        self.main_window = window
        window.show()
        self.login_window.hide()
        self.login_window.reset()
        self._apply_idle_timeout()
        self.idle.start()
        self.main_window_shown.emit(window)

    def _apply_idle_timeout(self) -> None:
        if self._idle_override is None:
            minutes = self.company.idle_lock_minutes if self.company else DEFAULT_IDLE_MINUTES
            self.idle.set_timeout_ms(minutes * 60_000)

    def _company_changed(self, profile: CompanyProfile) -> None:
        self.company = profile
        self._apply_idle_timeout()

    def lock(self) -> None:
        if self.desk_lock is None or self.desk_lock.locked:
            return
        self.idle.stop()
        popup = QApplication.activePopupWidget()
        while popup is not None:
            popup.close()
            next_popup = QApplication.activePopupWidget()
            popup = None if next_popup is popup else next_popup
        self.desk_lock.lock()

    @property
    def locked(self) -> bool:
        return self.desk_lock is not None and self.desk_lock.locked

    def switch_user(self) -> None:
        """From the lock screen: ends the first session (its forms are closed) and shows the login."""
        self._close_modal_dialogs()
        QTimer.singleShot(0, self.log_out)

    def log_out(self) -> None:
        session, context = self.session, self.context
        if session is None or context is None:
            return
        self._end_session()
        self.tasks.run(lambda: context.auth.logout(session, "logout"))
        self.login_window.reset()
        self.login_window.show()
        self.login_window.set_ready()
        self.logged_out.emit()

    def _end_session(self) -> None:
        self.idle.stop()
        if self.desk_lock is not None:
            self.desk_lock.unlock()
            self.desk_lock.deleteLater()
            self.desk_lock = None
        if self.main_window is not None and shiboken6.isValid(self.main_window):
            self.main_window.close_quietly()
            self._retire(self.main_window)
        self.main_window = None
        self.session = None

    def _retire(self, window: QWidget) -> None:
        """Hides a window and deletes it on the next turn of the event loop.

        A top-level window without a parent is owned by its Python wrapper; dropping
        the last reference while one of its own signals is still being delivered
        (a menu action, a button) would delete it under Qt's feet.
        """
        self._retired = [w for w in self._retired if shiboken6.isValid(w)]
        window.hide()
        window.deleteLater()
        self._retired.append(window)

    @staticmethod
    def _close_modal_dialogs() -> None:
        for _ in range(20):
            modal = QApplication.activeModalWidget()
            if modal is None:
                return
            if isinstance(modal, QDialog):
                QDialog.reject(modal)  # the session ends: no "Discard changes?" on the way out
            else:
                modal.close()

    # -- exit -------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """At exit: the session ends, work in flight finishes, the embedded server stops."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self.idle.stop()
        session, context = self.session, self.context
        if session is not None and context is not None:
            self.session = None
            self.tasks.run(lambda: context.auth.logout(session, "logout"))
        self.tasks.wait_for_done(10_000)
        if self._close_context_on_exit:
            for opened in self._opened:
                try:
                    opened.close()
                except Exception:
                    log.exception("closing the database failed")
        self._opened.clear()

    def bring_to_front(self) -> None:
        """Another start on this data folder: show the window the user works in."""
        window = QApplication.activeModalWidget()
        if window is None:
            shown = [w for w in self.windows() if shiboken6.isValid(w) and w.isVisible()]
            window = shown[-1] if shown else self.login_window
        if window.isMinimized():
            window.showNormal()
        window.show()
        window.raise_()
        window.activateWindow()

    def windows(self) -> list[QWidget]:
        return [w for w in (self.login_window, self.wizard, self.main_window) if w is not None]


def _install_translations(app: QApplication) -> None:
    locale = QLocale.system()
    qt_translator = QTranslator(app)
    if qt_translator.load(
        locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    ):
        app.installTranslator(qt_translator)
    from alko_desk.resources import resource_path

    ours = QTranslator(app)
    if ours.load(locale, "alko_desk", "_", str(resource_path("translations"))):
        app.installTranslator(ours)


def _quit_on_interrupt(app: QApplication) -> None:
    """Ctrl-C in the terminal that started the app quits it cleanly (logged out, server stopped).

    Python only runs signal handlers between bytecodes, so a timer wakes the interpreter.
    """
    import signal

    signal.signal(signal.SIGINT, lambda *_: app.quit())
    app._interrupt_timer = QTimer(app)
    app._interrupt_timer.timeout.connect(lambda: None)
    app._interrupt_timer.start(250)


def run_gui(argv: list[str]) -> int:
    """Opens ALKO Desk; returns the exit code."""
    logging.basicConfig(
        level=os.environ.get("ALKO_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    prepare_qt()
    app = QApplication.instance() or QApplication(list(argv) or [sys.argv[0]])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    _install_translations(app)
    from alko_desk.paths import data_dir
    from alko_desk.ui.single_instance import SingleInstance

    folder = data_dir()
    from alko_desk.logsafe import install_desk_logging

    install_desk_logging(folder)
    instance = SingleInstance(Path(folder), app)
    if not instance.claim():
        log.info("ALKO Desk already runs on %s: brought it to the front", folder)
        return 0

    def open_context(secrets: SecretStore | None) -> AppContext:
        from alko_desk.bootstrap import open_context as bootstrap_open

        server = os.environ.get("ALKO_SERVER", "").strip()
        if not server and secrets is not None and getattr(secrets, "available", False):
            from alko_desk.remote.trust import PinStore

            server = PinStore(secrets).chosen_server()  # chosen in the login window
        if server:  # a desk of a showroom server (issue 8)
            from alko_desk.remote.desk import open_remote_context

            return open_remote_context(server, secrets)  # type: ignore[return-value]
        return bootstrap_open(Path(folder), secrets)

    collector = GuiThreadGarbageCollector(app)
    dialogs = DialogService()
    controller = DeskController(open_context, dialogs=dialogs, preferences=Preferences())
    install_excepthook(controller.reporter)
    instance.activated.connect(controller.bring_to_front)
    controller.quit_requested.connect(app.quit)
    app.aboutToQuit.connect(controller.shutdown)
    app.setQuitOnLastWindowClosed(True)
    _quit_on_interrupt(app)
    controller.start()
    try:
        return app.exec()
    finally:
        controller.shutdown()
        collector.stop()
        instance.release()


__all__ = ["DeskController", "run_gui"]
