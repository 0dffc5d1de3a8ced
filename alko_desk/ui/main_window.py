"""The main window: navigation by role, one page per section, the status bar and the menus."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import PySide6
from PySide6.QtCore import QSize, Qt, Signal, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.users import Permission
from alko_desk.ui.changes import SETTINGS, ChangeWatcher, change_feed
from alko_desk.ui.pages import SECTIONS, Section, failed_page, sections_for
from alko_desk.ui.preferences import LAST_SECTION, MAIN_WINDOW_GEOMETRY, Preferences, for_user
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import heading

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices

log = logging.getLogger(__name__)


class AboutDialog(QDialog):
    def __init__(self, info: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About ALKO Desk"))
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        layout.addWidget(
            heading(self.tr("ALKO Desk {version}").format(version=info.get("app", "?")))
        )
        layout.addWidget(QLabel(self.tr("The showroom desk of ALKO Cars.")))
        rows = [
            (self.tr("Qt"), qVersion()),
            (self.tr("PySide6"), PySide6.__version__),
            (self.tr("pymongo"), info.get("pymongo", "?")),
            (self.tr("Database server"), info.get("database_server", "?")),
            (self.tr("Database"), info.get("database", "?")),
        ]
        self.versions = QLabel(
            "<table cellspacing='4'>"
            + "".join(
                f"<tr><td><b>{name}</b></td><td>{_escape(value)}</td></tr>" for name, value in rows
            )
            + "</table>"
        )
        self.versions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.versions)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def plain_text(self) -> str:
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.versions.text())
        return doc.toPlainText()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def first_start_size(available: QSize, minimum: QSize) -> QSize:
    """Nine tenths of the screen's free area, never below the window's minimum."""
    return QSize(
        max(minimum.width(), int(available.width() * 0.9)),
        max(minimum.height(), int(available.height() * 0.9)),
    )


def first_start_maximized(available: QSize) -> bool:
    """On a laptop-sized screen (1280 to 1599 px wide) the first start fills it: at nine
    tenths the deal and vehicle lists beside their detail panel cut their columns."""
    return 1280 <= available.width() < 1600


class MainWindow(QMainWindow):
    lock_requested = Signal()
    logout_requested = Signal()
    quit_requested = Signal()
    company_changed = Signal(object)  # CompanyProfile, read again after a settings change

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        *,
        preferences: Preferences | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.services = services
        self.tasks = tasks
        self._preferences = preferences
        self._pages: dict[str, QWidget] = {}
        self._closing_quietly = False
        self.about_dialog: AboutDialog | None = None
        self.password_dialog: QDialog | None = None
        self.printer_chooser = None  # None: the platform's print dialog (tests give a PDF file)
        user = services.session.user
        self.setWindowTitle(
            self.tr("ALKO Desk — {name}").format(name=user.full_name or user.username)
        )
        self.setMinimumSize(QSize(900, 560))
        # Per user: the next person at this desk gets their own window and first page.
        self._geometry_option = for_user(MAIN_WINDOW_GEOMETRY, user.username)
        self._section_option = for_user(LAST_SECTION, user.username)
        self._sections = sections_for(services.session.can)
        # One watcher of the change feed for the session; pages that show data subscribe to it.
        self.changes = ChangeWatcher(change_feed(services), tasks, parent=self)
        self.changes.subscribe(SETTINGS, self._settings_changed)
        self.changes.start()
        self._build_central()
        self._build_menus()
        self._build_status_bar()
        self._leave_confirmed = False
        self.uploads = self._start_document_uploads()
        self._restore()

    # -- building ---------------------------------------------------------------------------

    def _build_central(self) -> None:
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setAccessibleName(self.tr("Sections"))
        self.navigation.setFixedWidth(190)
        self.navigation.setSpacing(2)
        # outline: 0 drops the dotted focus frame drawn inside the selected section.
        self.navigation.setStyleSheet(
            "QListWidget#navigation { padding-top: 8px; font-size: 11pt; outline: 0; }"
            "QListWidget#navigation::item { padding: 6px 10px; }"
        )
        for section in self._sections:
            item = QListWidgetItem(section.title)
            item.setData(Qt.ItemDataRole.UserRole, section.key)
            self.navigation.addItem(item)
        self.stack = QStackedWidget()
        row.addWidget(self.navigation)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.navigation.currentRowChanged.connect(self._row_changed)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.lock_action = QAction(self.tr("&Lock desk"), self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock_requested)
        self.logout_action = QAction(self.tr("Log &out"), self)
        self.logout_action.triggered.connect(self.request_logout)
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.request_quit)
        file_menu.addAction(self.lock_action)
        file_menu.addAction(self.logout_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.about_action = QAction(self.tr("&About ALKO Desk"), self)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)
        self._build_desk_menus(file_menu, help_menu)

    def _build_desk_menus(self, file_menu: QMenu, help_menu: QMenu) -> None:
        """Every action in a menu with its shortcut: nothing only discoverable from a tooltip."""
        self.change_password_action = QAction(self.tr("&Change my password…"), self)
        self.change_password_action.triggered.connect(self.change_password)
        file_menu.insertAction(self.lock_action, self.change_password_action)
        file_menu.insertSeparator(self.lock_action)
        view_menu = QMenu(self.tr("&View"), self)
        self.refresh_action = QAction(self.tr("&Refresh"), self)
        self.refresh_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.refresh_action.triggered.connect(self.refresh_current)
        view_menu.addAction(self.refresh_action)
        self.menuBar().insertMenu(help_menu.menuAction(), view_menu)
        self.desk_actions = [self.change_password_action, self.refresh_action]
        if "clients" not in self.section_keys():
            return
        can = self.services.session.can
        clients_menu = QMenu(self.tr("&Client"), self)
        self.new_client_action = QAction(self.tr("&New client…"), self)
        self.new_client_action.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        self.new_client_action.setEnabled(can(Permission.CLIENT_WRITE))
        self.new_client_action.triggered.connect(self.new_client)
        self.print_card_action = QAction(self.tr("&Print client card…"), self)
        self.print_card_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Print))
        self.print_card_action.triggered.connect(self.print_client_card)
        clients_menu.addAction(self.new_client_action)
        clients_menu.addAction(self.print_card_action)
        self.menuBar().insertMenu(view_menu.menuAction(), clients_menu)
        self.desk_actions += [self.new_client_action, self.print_card_action]

    # -- desk actions -----------------------------------------------------------------------

    def change_password(self) -> QDialog:
        from alko_desk.ui.change_password import ChangePasswordDialog

        dialog = ChangePasswordDialog(
            self.context, self.services.session, self.tasks, forced=False, parent=self
        )
        dialog.changed.connect(
            lambda _session: self.statusBar().showMessage(
                self.tr("Your password was changed."), 8000
            )
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.password_dialog = dialog
        dialog.open()
        return dialog

    def new_client(self) -> None:
        page = self.show_section("clients")
        new = getattr(page, "new_client", None)
        if new is not None:
            new()

    def refresh_current(self) -> None:
        """F5 on any page: the clients list, the accounts, the audit search."""
        page = self.stack.currentWidget()
        presenter = getattr(page, "presenter", None)
        for target in (presenter, page):
            refresh = getattr(target, "refresh", None)
            if callable(refresh):
                refresh()
                return
        search = getattr(page, "search", None)
        if callable(search):
            search()

    def print_client_card(self) -> bool:
        from alko_desk.models.clients import Client
        from alko_desk.ui.clients.card import print_client_card

        page = self.page("clients") if "clients" in self.section_keys() else None
        detail = getattr(page, "detail", None)
        client = getattr(detail, "client", None)
        if self.current_section() != "clients" or not isinstance(client, Client):
            self.statusBar().showMessage(
                self.tr("Select a client in the list to print their card."), 8000
            )
            return False
        cards = self.services.client_cards
        return print_client_card(
            client,
            parent=self,
            tasks=self.tasks,
            record_print=cards.record_print,
            **({"printer_chooser": self.printer_chooser} if self.printer_chooser else {}),
            done=lambda: self.statusBar().showMessage(
                self.tr("The card of {name} was sent to the printer.").format(
                    name=client.display_name
                ),
                8000,
            ),
        )

    def _build_status_bar(self) -> None:
        user = self.services.session.user
        self.user_label = QLabel(user.full_name or user.username)
        self.role_label = QLabel(self.tr("Role: {role}").format(role=user.role.label))
        self.database_label = QLabel(
            self.tr("Database: {label}").format(label=self.context.database_label)
        )
        bar = self.statusBar()
        bar.setStyleSheet("QStatusBar QLabel { padding: 0 8px; }")
        bar.addWidget(self.user_label)
        bar.addWidget(self.role_label)
        bar.addPermanentWidget(self.database_label)

    def _restore(self) -> None:
        geometry = self._preferences.get(self._geometry_option) if self._preferences else None
        if geometry is None or geometry.isEmpty() or not self.restoreGeometry(geometry):
            self.fit_to_screen()
        keys = self.section_keys()
        last = self._preferences.get(self._section_option) if self._preferences else ""
        if keys:
            self.show_section(last if last in keys else keys[0])

    def fit_to_screen(self) -> None:
        """First start: most of the screen, centred (a 900×560 window truncates every table)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 800)
            return
        area = screen.availableGeometry()
        self.resize(first_start_size(area.size(), self.minimumSize()))
        self.move(
            area.x() + max(0, (area.width() - self.frameGeometry().width()) // 2),
            area.y() + max(0, (area.height() - self.frameGeometry().height()) // 2),
        )
        if first_start_maximized(area.size()):  # the size above stays for "restore"
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    # -- sections ---------------------------------------------------------------------------

    def section_keys(self) -> list[str]:
        return [s.key for s in self._sections]

    def section_titles(self) -> list[str]:
        return [self.navigation.item(i).text() for i in range(self.navigation.count())]

    def show_section(self, key: str) -> QWidget:
        row = self.section_keys().index(key)
        self.navigation.setCurrentRow(row)
        return self.page(key)

    def page(self, key: str) -> QWidget:
        """The section's page, made the first time it is needed."""
        if key not in self._pages:
            section = next(s for s in self._sections if s.key == key)
            self._pages[key] = self._make_page(section)
            self._leave_refresh_to_the_menu(self._pages[key])
            self._connect_between_pages(self._pages[key])
            self.stack.addWidget(self._pages[key])
        return self._pages[key]

    def _connect_between_pages(self, page: QWidget) -> None:
        deal_requested = getattr(page, "deal_requested", None)
        if deal_requested is not None:
            deal_requested.connect(self.new_deal_for_vehicle)

    def new_deal_for_vehicle(self, vehicle_id: str) -> QWidget | None:
        """The Deals page with the builder open on this car (from the Vehicles page)."""
        if "deals" not in self.section_keys():
            return None
        deals = self.show_section("deals")
        return deals.new_deal(vehicle_id)

    def _leave_refresh_to_the_menu(self, page: QWidget) -> None:
        """A page's own F5 would make the View menu's Refresh ambiguous (then neither fires)."""
        refresh = QKeySequence(QKeySequence.StandardKey.Refresh)
        for shortcut in page.findChildren(QShortcut):
            if shortcut.key() == refresh:
                shortcut.setEnabled(False)

    def current_section(self) -> str:
        item = self.navigation.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else ""

    def _make_page(self, section: Section) -> QWidget:
        try:
            page = section.make_page(self.context, self.services, self.tasks, self.changes)
        except Exception as exc:  # noqa: BLE001 - one broken section must not take the desk down
            self.tasks.reporter.report(exc, self)
            return failed_page(section.title)
        return page

    def _settings_changed(self, _changes) -> None:
        settings = self.services.settings
        self.tasks.run(
            settings.company,
            key=(id(self), "company"),
            on_success=self.company_changed.emit,
            on_failure=lambda _exc: True,  # the profile in force stays until the next change
            parent=self,
        )

    def _row_changed(self, row: int) -> None:
        if row < 0:
            return
        key = self._sections[row].key
        self.stack.setCurrentWidget(self.page(key))
        if self._preferences:
            self._preferences.set(self._section_option, key)

    # -- ID documents waiting to upload ----------------------------------------------------

    def _start_document_uploads(self):
        """Retries this desk's waiting uploads on a timer, in a worker; the count in the bar."""
        from alko_desk.ui.documents import documents_of
        from alko_desk.ui.documents.uploads import UploadRetrier

        documents = documents_of(self.services)
        self.uploads_label = QLabel()
        self.uploads_label.setObjectName("documentsWaiting")
        self.uploads_label.setStyleSheet("color: #8a5a00;")
        self.uploads_label.hide()
        self.statusBar().addPermanentWidget(self.uploads_label)
        if documents is None:
            return None
        session = self.services.session
        # The periodic reconciliation deletes at the store: for those the service lets do it.
        may_reconcile = session.can(Permission.CLIENT_WRITE) or session.can(
            Permission.SETTINGS_ADMIN
        )
        uploads = UploadRetrier(documents, self.tasks, reconcile=may_reconcile, parent=self)
        uploads.waiting_changed.connect(self._show_waiting_uploads)
        uploads.start()
        return uploads

    def _show_waiting_uploads(self, text: str) -> None:
        self.uploads_label.setText(text)
        self.uploads_label.setVisible(bool(text))

    def confirm_leaving(self) -> bool:
        """Before quitting or logging out: asks when ID documents still wait to upload."""
        if self._leave_confirmed:
            return True
        from alko_desk.ui.documents import documents_of
        from alko_desk.ui.documents.settings import confirm_quit_with_waiting

        documents = documents_of(self.services)
        if documents is None:
            return True
        try:  # the outbox is a folder on this desk: counting it is quick
            ok = confirm_quit_with_waiting(documents, self.tasks.dialogs, self)
        except Exception:  # noqa: BLE001 - never keep someone from quitting over a count
            log.exception("counting the documents waiting to upload failed")
            ok = True
        self._leave_confirmed = ok
        return ok

    def request_quit(self) -> None:
        if self.confirm_leaving():
            self.quit_requested.emit()

    def request_logout(self) -> None:
        if self.confirm_leaving():
            self.logout_requested.emit()

    def _stop_document_uploads(self) -> None:
        if self.uploads is not None:
            self.uploads.stop()

    # -- locking and closing ----------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """While locked, no shortcut or menu reaches the data behind the lock screen."""
        for action in (self.logout_action, self.quit_action, self.about_action, self.lock_action):
            action.setEnabled(not locked)
        for action in getattr(self, "desk_actions", []):
            if locked:
                action.setProperty("enabled_before_lock", action.isEnabled())
                action.setEnabled(False)
            else:
                action.setEnabled(bool(action.property("enabled_before_lock")))
        self.menuBar().setEnabled(not locked)
        self.centralWidget().setEnabled(not locked)
        self.statusBar().setEnabled(not locked)

    def show_about(self) -> None:
        self.about_dialog = AboutDialog(self.context.about_info(), self)
        self.about_dialog.open()

    def close_quietly(self) -> None:
        """Closed by the desk (logout, switch user), not by the user quitting."""
        self._closing_quietly = True
        self._stop_document_uploads()
        self.changes.stop()
        self._save()
        self.hide()

    def _save(self) -> None:
        if self._preferences:
            self._preferences.set(self._geometry_option, self.saveGeometry())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_quietly and not self.confirm_leaving():
            event.ignore()
            return
        self._stop_document_uploads()
        self.changes.stop()
        self._save()
        if not self._closing_quietly:
            self.quit_requested.emit()
        event.accept()


__all__ = ["SECTIONS", "AboutDialog", "MainWindow"]
