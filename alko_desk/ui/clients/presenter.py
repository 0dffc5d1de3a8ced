"""What the Clients screen does, apart from its widgets: list, search, open, reveal, refresh.

Every service call runs through the task runner. Search and opening a client
are debounced and numbered: only the answer to the latest request is shown, so
fast typing or arrowing down the list never shows an older answer last.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from alko_desk.models.clients import Client, ClientRow, UnreadableClient
from alko_desk.models.users import Permission
from alko_desk.ui.clients.list_model import ClientListModel
from alko_desk.ui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices

SEARCH_DELAY_MS = 200
OPEN_DELAY_MS = 120
WATCH_INTERVAL_MS = 30_000
DEFAULT_REGION = "HR"
_tr = QCoreApplication.translate


class ClientsPresenter(QObject):
    search_running = Signal(bool)
    search_done = Signal(str, int)  # the text searched, matches
    detail_loading = Signal()
    detail_loaded = Signal(object)  # Client | UnreadableClient
    detail_failed = Signal()
    revealed = Signal(str, dict)  # client id, field -> value
    reveal_running = Signal(bool)
    region_changed = Signal(str)
    client_saved = Signal(object)  # Client, after a registration or an edit from this desk
    changed_elsewhere = Signal(
        bool
    )  # clients were added or removed on another desk since the list loaded

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        owner: QWidget | None = None,
    ) -> None:
        super().__init__(owner)
        self._context = context
        self._services = services
        self._clients = services.clients
        self._tasks = tasks
        self._owner = owner
        self.model = ClientListModel(self._clients, tasks, owner, parent=self)
        self.phone_region = DEFAULT_REGION
        self.can_write = services.session.can(Permission.CLIENT_WRITE)
        self.can_reveal = services.session.can(Permission.CLIENT_REVEAL)

        self.search_text = ""
        self._search_seq = 0
        self._search_task: Task | None = None
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._run_search)

        self._open_seq = 0
        self._open_id: str | None = None
        self._open_timer = QTimer(self)
        self._open_timer.setSingleShot(True)
        self._open_timer.setInterval(OPEN_DELAY_MS)
        self._open_timer.timeout.connect(
            lambda: self.open(self._open_id) if self._open_id else None
        )

        # Other desks register clients too: every so often compare the count with the list's,
        # and offer a refresh rather than moving the rows under the user's hands.
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(WATCH_INTERVAL_MS)
        self._watch_timer.timeout.connect(self.check_for_changes)
        self._watching = False
        self.model.modelReset.connect(lambda: self.changed_elsewhere.emit(False))

    @property
    def clients(self):
        """The session's ClientService (the form saves through it, in workers)."""
        return self._clients

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        self.model.reload()
        self._watch_timer.start()
        settings = self._services.settings
        self._tasks.run(
            lambda: settings.company().phone_region,
            on_success=self._region_loaded,
            on_failure=lambda _exc: True,  # the default region serves until the next start
            parent=self._owner,
        )

    def _region_loaded(self, region: str) -> None:
        self.phone_region = region or DEFAULT_REGION
        self.region_changed.emit(self.phone_region)

    def today(self) -> date:
        return self._context.clock.now().date()

    # -- search ----------------------------------------------------------------------------

    def set_search_text(self, text: str) -> None:
        """Called on every keystroke; the search runs once typing pauses."""
        self.search_text = text
        self._search_timer.start()

    def search_now(self) -> None:
        self._search_timer.stop()
        self._run_search()

    @property
    def searching(self) -> bool:
        return self._search_task is not None

    def _run_search(self) -> None:
        self._search_seq += 1
        seq, text = self._search_seq, self.search_text.strip()
        if self._search_task is not None:
            self._search_task.cancel()
            self._search_task = None
        if not text:
            self.search_running.emit(False)
            if self.model.searching or not self.model.ever_loaded:
                self.model.reload()
            return
        clients = self._clients
        self._search_task = self._tasks.run(
            lambda: clients.search(text),
            on_success=lambda rows: self._search_arrived(seq, text, rows),
            on_failure=lambda _exc: seq != self._search_seq,  # an outdated search fails quietly
            on_finished=lambda: self._search_over(seq),
            parent=self._owner,
            title=_tr("ClientsPage", "Search clients"),
        )
        self.search_running.emit(True)

    def _search_arrived(self, seq: int, text: str, rows: list[ClientRow]) -> None:
        if seq != self._search_seq:
            return
        self.model.show_results(text, rows)
        self.search_done.emit(text, len(rows))

    def _search_over(self, seq: int) -> None:
        if seq == self._search_seq:
            self._search_task = None
            self.search_running.emit(False)

    # -- one client ------------------------------------------------------------------------

    def open_soon(self, client_id: str) -> None:
        """A row was selected: open it once the selection settles (arrow keys move fast)."""
        self._open_id = client_id
        self._open_timer.start()

    def open(self, client_id: str) -> None:
        self._open_timer.stop()
        self._open_seq += 1
        seq = self._open_seq
        clients = self._clients
        self.detail_loading.emit()
        self._tasks.run(
            lambda: clients.get(client_id),
            on_success=lambda client: self._opened(seq, client),
            on_failure=lambda _exc: self._open_failed(seq),
            parent=self._owner,
            title=_tr("ClientsPage", "Open client"),
        )

    def _opened(self, seq: int, client: Client | UnreadableClient) -> None:
        if seq == self._open_seq:
            self.detail_loaded.emit(client)

    def _open_failed(self, seq: int) -> bool:
        if seq != self._open_seq:
            return True
        self.detail_failed.emit()
        return False  # the runner shows why

    def reveal(self, client_id: str) -> None:
        clients = self._clients
        self.reveal_running.emit(True)
        self._tasks.run(
            lambda: clients.reveal(client_id),
            on_success=lambda values: self.revealed.emit(client_id, values),
            on_finished=lambda: self.reveal_running.emit(False),
            parent=self._owner,
            title=_tr("ClientsPage", "Reveal numbers"),
        )

    # -- after a write ---------------------------------------------------------------------

    def saved(self, client: Client) -> None:
        """A registration or edit from this desk: the list and the detail show it."""
        self._open_seq += 1  # an older open in flight must not replace the saved client
        self.client_saved.emit(client)
        self.refresh()

    def check_for_changes(self) -> None:
        model = self.model
        if self._watching or model.searching or model.loading or not model.ever_loaded:
            return
        clients, shown_total = self._clients, model.total
        self._watching = True

        def over() -> None:
            self._watching = False

        self._tasks.run(
            clients.count,
            parent=self._owner,
            on_success=lambda total: self.changed_elsewhere.emit(total != shown_total),
            on_failure=lambda _exc: True,  # a missed check is not worth a message
            on_finished=over,
        )

    def refresh(self) -> None:
        if self.model.searching or self.search_text.strip():
            self.search_now()
        else:
            self.model.reload()
