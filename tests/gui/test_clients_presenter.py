"""The Clients presenter on its own: a stub view, real services, no widgets clicked."""

from __future__ import annotations

import pytest

from alko_desk.models.clients import Client
from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from alko_desk.ui.clients.presenter import ClientsPresenter
from alko_desk.ui.tasks import TaskRunner
from tests.clients_data import IVAN, draft

pytestmark = pytest.mark.gui
WAIT = 10_000


class StubView:
    """What a screen shows, as plain attributes."""

    def __init__(self) -> None:
        self.detail: object = None
        self.highlighted: str | None = None
        self.on_screen = True
        self.presenter: ClientsPresenter | None = None

    def show_detail(self, client) -> None:
        self.detail = client

    def show_detail_loading(self) -> None:
        self.detail = "loading"

    def show_no_detail(self) -> None:
        self.detail = None

    def show_revealed(self, client_id, values) -> None:
        pass

    def set_revealing(self, busy) -> None:
        pass

    def region_changed(self, region) -> None:
        pass

    def status_changed(self) -> None:
        pass

    def visible_rows(self) -> tuple[int, int]:
        return 0, 20

    def is_shown(self) -> bool:
        return self.on_screen

    def select_row(self, client_id) -> bool:
        found = self.presenter.model.row_of(client_id) >= 0
        self.highlighted = client_id if found else None
        return found

    def show_row(self, client_id) -> bool:
        return self.select_row(client_id)


@pytest.fixture
def presenter(qapp, context, dialogs, make_user):
    runner = TaskRunner(dialogs)
    services = context.services_for(make_user("sam", Role.SALES))
    view = StubView()
    presenter = ClientsPresenter(services, runner, view, clock=context.clock)
    view.presenter = presenter
    yield presenter, view, services
    presenter.stop()
    runner.wait_for_done(10_000)


def test_the_detail_is_the_selected_client_or_nothing_through_searches(qtbot, presenter):
    p, view, services = presenter
    z = services.clients.register(new_client_id(), draft())
    ivan = services.clients.register(new_client_id(), draft(**IVAN))
    p.start()
    qtbot.waitUntil(lambda: p.model.rowCount() == 2 and not p.model.loading, timeout=WAIT)
    p.select(z.id)
    assert view.detail == "loading"
    qtbot.waitUntil(lambda: isinstance(view.detail, Client), timeout=WAIT)
    assert view.detail.id == z.id

    p.set_search_text(IVAN["email"])
    p.search_now()
    qtbot.waitUntil(lambda: p.model.query == IVAN["email"] and not p.searching, timeout=WAIT)
    assert view.detail is None and p.selected is None  # Željko is not in the rows any more

    p.select(ivan.id)
    qtbot.waitUntil(lambda: isinstance(view.detail, Client), timeout=WAIT)
    p.set_search_text("")
    p.search_now()
    qtbot.waitUntil(lambda: not p.model.searching and not p.model.loading, timeout=WAIT)
    assert view.highlighted == ivan.id and view.detail.id == ivan.id


def test_saving_marks_the_list_stale_and_one_refresh_shows_the_new_client(qtbot, presenter):
    p, view, services = presenter
    services.clients.register(new_client_id(), draft())
    p.start()
    qtbot.waitUntil(lambda: p.model.rowCount() == 1 and not p.model.loading, timeout=WAIT)
    ivan = services.clients.register(new_client_id(), draft(**IVAN))
    view.on_screen = False  # another section is showing: the list waits
    p.saved(ivan)
    assert p.stale and view.detail is ivan
    qtbot.wait(400)
    assert p.stale and p.model.rowCount() == 1
    view.on_screen = True
    p.shown()
    qtbot.waitUntil(lambda: p.model.rowCount() == 2 and not p.stale, timeout=WAIT)
    qtbot.waitUntil(lambda: view.highlighted == ivan.id, timeout=WAIT)
    assert view.detail.id == ivan.id  # (read again when the feed announces the registration)
