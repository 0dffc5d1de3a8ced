"""What the Clients screen does, apart from its widgets: list, search, select, open, refresh.

How a screen is built (copy this for the next entity)
-----------------------------------------------------
- The **screen** is a `QWidget` that lays out widgets and forwards what the user does to
  its presenter (`presenter.set_search_text(text)`, `presenter.select(row_id)`). It
  implements the small view protocol the presenter talks back through (`ClientsView`).
- The **presenter** is plain Python: `Presenter(services, tasks, view, ...)`. It receives
  the session's services and the task runner, owns the table model, and holds the
  screen's state (what is searched, which record is selected). It never touches a widget
  other than through the view protocol, and asks for prompts through an injected
  `DialogService` (`dialogs=`, the runner's by default), so a test can drive it with a
  stub view and scripted dialogs, without clicking.
- Every service call runs through the task runner with a `key`: the latest request
  wins, an older answer never arrives (`ui/tasks.py`). No counters.
- The **model** is a `PagedTableModel` over a row source (`ui/table_models.py`): rows in
  the service's order, pages read in workers.
- **Changes** come from a `ChangeWatcher` (`ui/changes.py`): the presenter subscribes to
  its entity, marks the list stale and refreshes the visible rows in one batch a moment
  later, keeping the selection and scroll position.
- The **detail** shows the selected record or nothing: the view reports every change of
  the highlighted row (`select`), including "none", and the presenter opens only that one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QWidget

from alko_desk.models.changes import Change
from alko_desk.models.clients import Client, UnreadableClient
from alko_desk.models.users import Permission
from alko_desk.ui.changes import ChangeWatcher, change_feed
from alko_desk.ui.clients.list_model import ClientListModel, client_rows
from alko_desk.ui.dialogs import DialogService
from alko_desk.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from alko_desk.bootstrap import SessionServices
    from alko_desk.services.clock import Clock

SEARCH_DELAY_MS = 200
OPEN_DELAY_MS = 120
REFRESH_DELAY_MS = 250  # changes arriving close together are applied in one refresh
DEFAULT_REGION = "HR"
ENTITY = "clients"
_tr = QCoreApplication.translate


class ClientsView(Protocol):
    """What the presenter asks of the screen."""

    def show_detail(self, client: Client | UnreadableClient) -> None: ...

    def show_detail_loading(self) -> None: ...

    def show_no_detail(self) -> None: ...

    def show_revealed(self, client_id: str, values: dict[str, str]) -> None: ...

    def set_revealing(self, busy: bool) -> None: ...

    def region_changed(self, region: str) -> None: ...

    def status_changed(self) -> None: ...

    def visible_rows(self) -> tuple[int, int]:
        """First and last row shown in the list (-1, -1 when none)."""
        ...

    def is_shown(self) -> bool:
        """On screen: a hidden screen stays stale and refreshes when it is shown again."""
        ...

    def select_row(self, client_id: str | None) -> bool:
        """Highlights the client's row without reporting it back; False when it is not in the rows."""
        ...

    def show_row(self, client_id: str) -> bool:
        """As `select_row`, and scrolls the row into view."""
        ...


class ClientsPresenter:
    """The Clients screen's presenter (see the module docstring for the pattern)."""

    def __init__(
        self,
        services: SessionServices,
        tasks: TaskRunner,
        view: ClientsView,
        *,
        clock: Clock,
        owner: QWidget | None = None,
        dialogs: DialogService | None = None,
        changes: ChangeWatcher | None = None,
    ) -> None:
        self._services = services
        self._clients = services.clients
        self._tasks = tasks
        self._view = view
        self._clock = clock
        self._owner = owner
        self.dialogs = dialogs or tasks.dialogs
        self.rows = client_rows(self._clients)
        self.model = ClientListModel(self.rows, tasks, owner)
        self.phone_region = DEFAULT_REGION
        self.can_write = services.session.can(Permission.CLIENT_WRITE)
        self.can_reveal = services.session.can(Permission.CLIENT_REVEAL)

        self.search_text = ""
        self.selected: str | None = None  # the client the detail shows (or is opening)
        self.stale = False  # a change arrived; the refresh timer applies it
        self.revealing: str | None = None  # a client saved here, being fetched into the rows
        self._locate_tries = 0
        self._search_timer = self._timer(SEARCH_DELAY_MS, self._run_search)
        self._open_timer = self._timer(OPEN_DELAY_MS, self._open_selected)
        self._refresh_timer = self._timer(REFRESH_DELAY_MS, self._refresh_stale)

        self.changes = changes or ChangeWatcher(change_feed(services), tasks, parent=owner)
        self._own_watcher = changes is None
        self.changes.subscribe(ENTITY, self.changes_arrived)
        self.model.loading_changed.connect(lambda _busy: view.status_changed())
        self.model.loaded.connect(view.status_changed)

    def _timer(self, ms: int, slot) -> QTimer:
        timer = QTimer(self._owner)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    @property
    def clients(self):
        """The session's ClientService (the form saves through it, in workers)."""
        return self._clients

    def _key(self, what: str) -> tuple:
        return (id(self), what)

    # -- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        """Once the view is built: after a reset the view's own handlers have run first."""
        self.model.modelReset.connect(self.rows_replaced)
        self.model.refreshed.connect(self.rows_replaced)
        self.model.reload()
        if self._own_watcher:
            self.changes.start()
        settings = self._services.settings
        self._tasks.run(
            lambda: settings.company().phone_region,
            key=self._key("region"),
            on_success=self._region_loaded,
            on_failure=lambda _exc: True,  # the default region serves until the next start
            parent=self._owner,
        )

    def stop(self) -> None:
        self.changes.unsubscribe(ENTITY, self.changes_arrived)
        if self._own_watcher:
            self.changes.stop()
        for timer in (self._search_timer, self._open_timer, self._refresh_timer):
            timer.stop()

    def _region_loaded(self, region: str) -> None:
        self.phone_region = region or DEFAULT_REGION
        self._view.region_changed(self.phone_region)

    def today(self) -> date:
        return self._clock.now().date()

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
        """A search (or the way back to the whole list) is being read."""
        return self.model.loading_query

    def _run_search(self) -> None:
        text = self.search_text.strip()
        if text == self.model.query and self.model.ever_loaded and not self.model.loading_query:
            return
        self.model.set_query(text)
        self._view.status_changed()

    # -- the selected client ---------------------------------------------------------------

    def select(self, client_id: str | None) -> None:
        """The highlighted row changed (None: no row). The detail follows it, and only it."""
        if client_id == self.selected:
            return
        self.selected = client_id
        self._tasks.supersede(self._key("open"))
        if client_id is None:
            self._open_timer.stop()
            self._view.show_no_detail()
            return
        self._view.show_detail_loading()
        self._open_timer.start()  # arrow keys move fast: open once the selection settles

    def open(self, client_id: str) -> None:
        """Shows this client now (a double-click, "open existing" from the form)."""
        self.selected = client_id
        self._open_selected(loading=True)

    def _open_selected(self, loading: bool = False) -> None:
        self._open_timer.stop()
        client_id = self.selected
        if client_id is None:
            return
        if loading:
            self._view.show_detail_loading()
        clients = self._clients
        self._tasks.run(
            lambda: clients.get(client_id),
            key=self._key("open"),
            on_success=lambda client: self._opened(client_id, client),
            on_failure=lambda _exc: self._open_failed(client_id),
            parent=self._owner,
            title=_tr("ClientsPage", "Open client"),
        )

    def _opened(self, client_id: str, client: Client | UnreadableClient) -> None:
        if client_id == self.selected:
            self._view.show_detail(client)

    def _open_failed(self, client_id: str) -> bool:
        if client_id == self.selected:
            self.selected = None
            self._view.show_no_detail()
        return False  # the runner shows why

    def reveal(self, client_id: str) -> None:
        clients = self._clients
        self._view.set_revealing(True)
        self._tasks.run(
            lambda: clients.reveal(client_id),
            key=self._key("reveal"),
            on_success=lambda values: self._view.show_revealed(client_id, values),
            on_finished=lambda: self._view.set_revealing(False),
            parent=self._owner,
            title=_tr("ClientsPage", "Reveal numbers"),
        )

    def rows_replaced(self) -> None:
        """After a search, sort or reload: the selected client stays selected when it is still
        in the rows; otherwise nothing is selected and the detail is empty (unless it is a
        client just saved here, whose page is being fetched: see `saved`)."""
        if self.selected is None or self._view.select_row(self.selected):
            return
        if self.revealing == self.selected and self._locate_tries < 3:
            self._locate_tries += 1
            self._locate(self.selected)  # the rows changed under the fetch: look again
            return
        self.revealing = None
        self.select(None)

    # -- after a write ---------------------------------------------------------------------

    def saved(self, client: Client) -> None:
        """A registration or edit from this desk: the detail shows it, the list refreshes."""
        self._tasks.supersede(self._key("open"))  # an older open must not replace it
        self.selected = client.id
        self.revealing = client.id
        self._locate_tries = 0
        self._view.show_detail(client)
        self.changes.poll_now()
        self.mark_stale()
        if self._view.is_shown():  # a hidden screen looks for it when shown again
            self._locate(client.id)

    def _locate(self, client_id: str) -> None:
        """Finds where a client saved here stands in the list shown (its sort and search),
        fetches the rows down to it and selects it: a new client often sorts far below the
        rows loaded so far."""
        clients, request = self._clients, self.model.request_for_position()
        self._tasks.run(
            lambda: clients.list_position(client_id, request),
            key=self._key("locate"),
            on_success=lambda position: self._located(client_id, position),
            on_failure=lambda _exc: self._reveal_failed(client_id),
            parent=self._owner,
        )

    def _located(self, client_id: str, position: int) -> None:
        if client_id != self.selected or self.revealing != client_id:
            return
        if position < 0:  # not in the list shown (a search it does not match)
            self._reveal_failed(client_id)
            return
        self.model.fetch_through(position, lambda ok: self._fetched(client_id, ok))

    def _fetched(self, client_id: str, ok: bool | None) -> None:
        if client_id != self.selected or self.revealing != client_id:
            return
        if ok is False and self._locate_tries < 3:
            self._locate_tries += 1
            self._locate(client_id)  # the rows were replaced meanwhile: once more
            return
        self.revealing = None
        if not self._view.show_row(client_id):
            self.select(None)

    def _reveal_failed(self, client_id: str) -> bool:
        """The detail follows the highlighted row: a client the list does not show is not
        kept in the detail once the rows are settled."""
        if self.revealing == client_id:
            self.revealing = None
            if client_id == self.selected and not self._view.select_row(client_id):
                self.select(None)
        return True

    def changes_arrived(self, changes: Sequence[Change]) -> None:
        """From the watcher: clients changed (here or on another desk)."""
        self.mark_stale()
        ids = {i for c in changes for i in c.ids}
        whole = any(not c.ids for c in changes)
        if self.selected is not None and (whole or self.selected in ids):
            self._reopen_quietly(self.selected)

    def _reopen_quietly(self, client_id: str) -> None:
        clients = self._clients
        self._tasks.run(
            lambda: clients.get(client_id),
            key=self._key("open"),
            on_success=lambda client: self._opened(client_id, client),
            on_failure=lambda _exc: True,  # the detail keeps what it shows; F5 tries again
            parent=self._owner,
        )

    def mark_stale(self) -> None:
        self.stale = True
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def shown(self) -> None:
        """The screen came back into view: apply what changed meanwhile."""
        if self.stale:
            self._refresh_timer.start()
        if self.revealing is not None and self.revealing == self.selected:
            self._locate(self.revealing)

    def _refresh_stale(self) -> None:
        if not self.stale or not self._view.is_shown():
            return
        self.stale = False
        _first, last = self._view.visible_rows()
        self.model.refresh(visible_end=max(last + 1, 0))

    def refresh(self) -> None:
        """F5: the list read again from the start, with its true total; the search kept."""
        self.stale = False
        self._refresh_timer.stop()
        if self.search_text.strip() != self.model.query:
            self.search_now()
        else:
            self.model.reload()
        self._view.status_changed()
