"""Change announcements pushed by the server (Server-Sent Events) into the desk's change feed."""

import time

import pytest

from alko_desk.models.changes import ChangeKind
from alko_desk.models.remote import SessionEnded
from alko_desk.remote import server as server_module
from alko_desk.services.clients import new_client_id
from tests.clients_data import IVAN, draft
from tests.conftest import ADMIN_PASSWORD, SAM_PASSWORD


def _wait(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_watchers_feed_is_fed_by_the_stream_without_asking_the_server(
    connect_remote, remote, sam
):
    other = connect_remote().login("sam", SAM_PASSWORD)
    feed = other.changes
    head = feed.head()  # the first look asks the server and opens the stream there
    _wait(lambda: feed.live)

    class Refuse:
        def head(self):
            raise AssertionError("asked the server although the stream is live")

        since = head

    feed._fallback = Refuse()
    started = time.monotonic()
    first = sam.clients.register(new_client_id(), draft())
    second = sam.clients.register(new_client_id(), draft(**IVAN))
    _wait(lambda: feed.head() >= head + 2, 2.0)
    assert time.monotonic() - started < 2
    batch = feed.since(head)
    assert batch.complete
    assert [(c.entity, c.kind, c.ids) for c in batch.changes] == [
        ("clients", ChangeKind.ADDED, (first.id,)),
        ("clients", ChangeKind.ADDED, (second.id,)),
    ]
    assert feed.since(batch.head).changes == ()


def test_a_reader_behind_what_the_stream_holds_is_told_to_refresh_everything(
    connect_remote, remote, sam
):
    other = connect_remote().login("sam", SAM_PASSWORD)
    head = other.changes.head()
    _wait(lambda: other.changes.live)
    assert other.changes.since(head - 1).complete is False  # older than the stream's start
    assert other.changes.since(head).complete is True


def test_a_disabled_account_stops_hearing_changes(monkeypatch, connect_remote, remote, admin, sam):
    monkeypatch.setattr(server_module, "EVENT_IDLE_SECONDS", 0.3)
    other = connect_remote().login("sam", SAM_PASSWORD)
    other.changes.head()
    _wait(lambda: other.changes.live)
    admin.confirm_password(ADMIN_PASSWORD)
    admin.users.set_active("sam", False)
    _wait(lambda: not other.changes.live, 3.0)
    with pytest.raises(SessionEnded):  # and the fallback asks the server, which refuses
        other.changes.head()


def test_the_stream_ends_with_logout(monkeypatch, connect_remote, remote, sam):
    monkeypatch.setattr(server_module, "EVENT_IDLE_SECONDS", 0.3)
    other = connect_remote().login("sam", SAM_PASSWORD)
    other.changes.head()
    _wait(lambda: other.changes.live)
    thread = other.changes._thread
    other.logout()
    assert not other.changes.live
    thread.join(timeout=3)
    assert not thread.is_alive()
