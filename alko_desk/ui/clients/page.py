"""The Clients section: search and list on the left, the selected client's details on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.clients import Client, UnreadableClient
from alko_desk.models.users import Permission
from alko_desk.ui.changes import ChangeWatcher
from alko_desk.ui.clients.detail import ClientDetailPanel
from alko_desk.ui.clients.form import ClientFormDialog
from alko_desk.ui.clients.list_model import CLIENT_ID_ROLE, ClientColumn
from alko_desk.ui.clients.presenter import ClientsPresenter
from alko_desk.ui.table_models import ViewAnchor, bind_header
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import heading, note

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices

COLUMN_WIDTHS = {  # in average character widths; Name takes what is left
    ClientColumn.CITY: 17,
    ClientColumn.PHONE: 18,
    ClientColumn.LAST_ACTIVITY: 19,
    ClientColumn.STATUS: 11,
}


class ClientsPage(QWidget):
    """Built by the main window as `ClientsPage(context, services, tasks)`.

    The view of `ClientsPresenter` (it implements `ClientsView`); `changes` is the session's
    change watcher when the window shares one, else the presenter watches on its own.
    """

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Clients"))
        self.tasks = tasks
        self.form_dialog: ClientFormDialog | None = None
        self.presenter = ClientsPresenter(
            services, tasks, self, clock=context.clock, owner=self, changes=changes
        )
        self.model = self.presenter.model

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(self._build_top_bar())
        layout.addLayout(self._build_status_row())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_list())
        self.detail = ClientDetailPanel(
            can_edit=self.presenter.can_write, can_reveal=self.presenter.can_reveal
        )
        splitter.addWidget(self.detail)
        self.documents_panel = self._build_documents(services, tasks)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        self._split_once = False
        layout.addWidget(splitter, 1)
        self._connect()
        self.presenter.start()
        bind_header(self.view, self.model)  # after start: the first load is already the name sort
        self.anchor = ViewAnchor(self.view, self.model)
        self._update_status()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.presenter.shown()
        if not self._split_once:  # the list gets most of the width; the user may move the handle
            self._split_once = True
            total = max(self.splitter.width(), 900)
            list_width = max(int(total * 0.6), total - 460)
            self.splitter.setSizes([list_width, total - list_width])

    # -- building --------------------------------------------------------------------------

    def _build_top_bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(heading(self.tr("Clients")))
        row.addSpacing(12)
        self.search = QLineEdit()
        self.search.setPlaceholderText(
            self.tr("Search by name, or a full email, phone or ID number")
        )
        self.search.setAccessibleName(self.tr("Search clients"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(280)
        self.search.setMaximumWidth(560)
        row.addWidget(self.search, 1)
        row.addStretch(0)
        self.new_button = QPushButton(self.tr("New client…"))
        self.new_button.setVisible(self.presenter.can_write)
        row.addWidget(self.new_button)
        return row

    def _build_status_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status = note("")
        self.status.setObjectName("clientsStatus")
        row.addWidget(self.status, 1)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        row.addWidget(self.progress)
        self.retry_button = QPushButton(self.tr("Try again"))
        self.retry_button.setVisible(False)
        row.addWidget(self.retry_button)
        return row

    def _build_list(self) -> QWidget:
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setAccessibleName(self.tr("Client list"))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(ClientColumn.NAME, QHeaderView.ResizeMode.Stretch)
        char = self.fontMetrics().averageCharWidth()
        for column, chars in COLUMN_WIDTHS.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, chars * char + 16)
        header.setMinimumSectionSize(60)
        self.empty = QLabel()
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(mid); font-size: 11pt; padding: 24px;")
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty)
        self.list_stack.setMinimumWidth(360)
        return self.list_stack

    def _build_documents(self, services: SessionServices, tasks: TaskRunner):
        """The highlighted client's ID documents, for roles that may see them (sales, managers)."""
        from alko_desk.ui.documents import documents_of

        documents = documents_of(services)
        if documents is None or not services.session.can(Permission.CLIENT_REVEAL):
            return None
        from alko_desk.services.scanning import ScanService
        from alko_desk.ui.documents.panel import ClientDocumentsPanel

        panel = ClientDocumentsPanel(
            documents,
            tasks,
            scanner=ScanService(),  # SANE is opened only when Scan is pressed
            find_clients=services.clients.search,
        )
        panel.set_can_write(self.presenter.can_write)
        self._documents_tab = self.detail.add_tab(panel, self.tr("Documents"))
        panel.refreshed.connect(self._documents_counted)
        return panel

    def _document_reader(self):
        """For the client form: a capture dialog that only reads the MRZ (None without documents)."""
        panel = self.documents_panel
        if panel is None or not self.presenter.can_write:
            return None
        from alko_desk.ui.documents.capture import DocumentCaptureDialog

        def open_reader(form_dialog: QWidget):
            values = form_dialog.form.values()
            return DocumentCaptureDialog(
                panel.documents,
                self.tasks,
                "",
                scanner=panel.scanner,
                client_fields={k: values.get(k, "") for k in ("first_name", "last_name")},
                find_clients=panel.find_clients,
                today=panel.today,
                max_side=panel.max_side,
                reading_only=True,
                parent=form_dialog,
            )

        return open_reader

    def _documents_counted(self, count: int) -> None:
        title = (
            self.tr("Documents ({count})").format(count=count) if count else self.tr("Documents")
        )
        self.detail.tabs.setTabText(self._documents_tab, title)

    def _connect(self) -> None:
        p = self.presenter
        self.search.textChanged.connect(p.set_search_text)
        self.search.returnPressed.connect(p.search_now)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, self.search.setFocus)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, p.refresh)
        self.new_button.clicked.connect(self.new_client)
        self.retry_button.clicked.connect(p.refresh)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.activated.connect(self._row_activated)
        self.model.modelReset.connect(self._update_status)
        self.model.progress.connect(self._progress)
        self.detail.reveal_requested.connect(
            lambda: p.reveal(self.detail.client_id) if self.detail.client_id else None
        )
        self.detail.edit_requested.connect(self.edit_client)

    # -- what the presenter asks (ClientsView) ---------------------------------------------

    def show_detail(self, client: Client | UnreadableClient) -> None:
        self.detail.show_client(client)
        panel = self.documents_panel
        if panel is None:
            return
        if isinstance(client, Client):
            if client.id != panel.client_id:
                self.detail.tabs.setTabText(self._documents_tab, self.tr("Documents"))
            panel.set_client(client.id, client_fields(client))
        else:
            panel.clear()

    def show_detail_loading(self) -> None:
        self.detail.show_loading()

    def show_no_detail(self) -> None:
        self.detail.show_nothing()
        if self.documents_panel is not None:
            self.documents_panel.clear()
            self.detail.tabs.setTabText(self._documents_tab, self.tr("Documents"))

    def show_revealed(self, client_id: str, values: dict[str, str]) -> None:
        self.detail.show_revealed(client_id, values)

    def set_revealing(self, busy: bool) -> None:
        self.detail.set_revealing(busy)

    def region_changed(self, region: str) -> None:
        if self.form_dialog is not None and shiboken6.isValid(self.form_dialog):
            self.form_dialog.form.update_region_hint()  # it reads the region it was given

    def status_changed(self) -> None:
        self._update_status()

    def is_shown(self) -> bool:
        return self.isVisible()

    def visible_rows(self) -> tuple[int, int]:
        viewport = self.view.viewport()
        first = self.view.rowAt(0)
        if first < 0:
            return -1, -1
        last = self.view.rowAt(viewport.height() - 1)
        return first, last if last >= 0 else self.model.rowCount() - 1

    def select_row(self, client_id: str | None) -> bool:
        row = self.model.row_of(client_id) if client_id else -1
        selection = self.view.selectionModel()
        blocked = selection.blockSignals(True)
        try:
            if row < 0:
                selection.clearSelection()
                return False
            self.view.selectRow(row)
        finally:
            selection.blockSignals(blocked)
        self.view.viewport().update()
        return True

    def show_row(self, client_id: str) -> bool:
        """Highlights the client's row and scrolls it into view (a client saved here)."""
        if not self.select_row(client_id):
            return False
        index = self.model.index(self.model.row_of(client_id), 0)
        self.view.updateGeometries()  # rows just fetched: the scroll range would cut it short
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    # -- list ------------------------------------------------------------------------------

    def selected_client_id(self) -> str | None:
        """The client of the highlighted row, if a row is highlighted."""
        rows = self.view.selectionModel().selectedRows()
        return rows[0].data(CLIENT_ID_ROLE) if rows else None

    def _selection_changed(self, *_args) -> None:
        self.presenter.select(self.selected_client_id())

    def _row_activated(self, index) -> None:
        client_id = index.data(CLIENT_ID_ROLE)
        if client_id and client_id != self.detail.client_id:
            self.presenter.open(client_id)

    def _progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _update_status(self) -> None:
        model, p = self.model, self.presenter
        busy = model.loading
        self.progress.setVisible(busy)
        self.retry_button.setVisible(model.failed and not busy)
        self.progress.setRange(0, 0)
        if p.searching:
            self.status.setText(self.tr("Searching…"))
        elif model.loading and not model.ever_loaded:
            self.status.setText(self.tr("Loading clients…"))
        elif model.failed:
            self.status.setText(self.tr("The client list could not be read. Nothing was changed."))
        elif model.searching:
            text = (
                self.tr("1 match for “{query}”")
                if model.total == 1
                else self.tr("{count} matches for “{query}”")
            )
            self.status.setText(text.format(count=model.total, query=model.query))
        elif model.rowCount() < model.total:
            self.status.setText(
                self.tr("{shown} of {total} clients shown; scroll for more").format(
                    shown=model.rowCount(), total=model.total
                )
            )
        else:
            text = self.tr("1 client") if model.total == 1 else self.tr("{count} clients")
            self.status.setText(text.format(count=model.total))
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        model = self.model
        empty = (
            model.rowCount() == 0
            and model.ever_loaded
            and not model.loading
            and not self.presenter.searching
        )
        if empty and model.searching:
            self.empty.setText(
                self.tr(
                    "No client matches “{query}”.\n\nNames match from the start of each word, so “zelj” finds "
                    "Željko. An email, phone or ID number must be typed in full."
                ).format(query=model.query)
            )
        elif empty:
            self.empty.setText(
                self.tr("No clients registered yet.")
                + (
                    "\n\n" + self.tr("Use “New client…” to register the first one.")
                    if self.presenter.can_write
                    else ""
                )
            )
        self.list_stack.setCurrentWidget(self.empty if empty else self.view)

    # -- one client ------------------------------------------------------------------------

    def open_client(self, client_id: str) -> None:
        """Shows a client (from the form's duplicates): highlighted when it is in the rows."""
        self.select_row(client_id)
        self.presenter.open(client_id)

    def new_client(self) -> None:
        if not self.presenter.can_write:
            return
        self._open_form(None)

    def edit_client(self) -> None:
        """Edits the client shown, and only when it is the one the presenter has selected."""
        client = self.detail.client
        if (
            self.presenter.can_write
            and isinstance(client, Client)
            and client.id == self.presenter.selected
        ):
            self._open_form(client)

    def _open_form(self, base: Client | None) -> None:
        p = self.presenter
        dialog = ClientFormDialog(
            p.clients,
            self.tasks,
            region=lambda: p.phone_region,
            today=p.today,
            base=base,
            revealed=self.detail.revealed if base else None,
            read_document=self._document_reader(),
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._client_saved)
        dialog.open_existing.connect(self.open_client)
        self.form_dialog = dialog
        dialog.open()

    def _client_saved(self, client: Client) -> None:
        self.presenter.saved(client)
        self.detail.hide_revealed()
        self.select_row(client.id)


def client_fields(client: Client) -> dict[str, str]:
    """What the MRZ is compared with: the names and birth date on the client's record."""
    d = client.draft
    return {
        "first_name": d.first_name,
        "last_name": d.last_name,
        "birth_date": d.birth_date.isoformat() if d.birth_date else "",
    }
