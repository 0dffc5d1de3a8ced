"""The README's worked example of a new entity's list (tests/list_example.py), run against
the real FerretDB: sorts both ways, collation, search, exact lookup, declared filters and
the table model. `test_the_readme_shows_the_example_as_it_runs` fails when the README's
copy differs from the file, so the README's code cannot rot."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.listing import PageRequest
from alko_desk.models.text import sort_key
from alko_desk.ui.tasks import TaskRunner
from tests import list_example as ex

pytestmark = pytest.mark.gui
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NAMES = ["Željko Kovačević", "Ana Babić", "Iva Čolak", "Зоя Євтушенко", "Marko Horvat"]
MAKES = ["škoda", "vw", "toyota"]
STATUSES = ["booked", "done", "cancelled"]


def _appointments(n: int) -> list[ex.Appointment]:
    return [
        ex.Appointment(
            id=f"a{i:04d}",
            customer=f"{NAMES[i % len(NAMES)]} {i}",
            make=MAKES[i % len(MAKES)],
            plate=f"ZG{i:04d}AB",
            status=STATUSES[(i // 3) % len(STATUSES)],
            at=START + timedelta(hours=7 * i),
        )
        for i in range(n)
    ]


@pytest.fixture
def appointments(store):
    repo = ex.AppointmentList(store)
    repo.ensure()
    items = _appointments(300)
    repo.bulk_load(items[:200])
    repo.put_many(items[200:])  # later writes go into the buckets the bulk load built
    return repo, items


def test_every_declared_sort_pages_both_ways(appointments):
    repo, items = appointments
    by_time = [a.id for a in sorted(items, key=lambda a: a.at)]
    assert [a.id for a in repo.page("at", 0, 300)] == by_time
    assert [a.id for a in repo.page("at", 0, 10, descending=True)] == by_time[::-1][:10]
    assert [a.id for a in repo.page("at", 150, 5)] == by_time[150:155]
    by_status = [(a.status, a.at) for a in repo.page("status", 0, 300)]
    assert by_status == sorted(by_status)
    assert repo.count() == 300


def test_names_sort_by_collation_and_search_by_folded_prefixes(appointments):
    repo, _ = appointments
    first_names = [a.customer.split()[0] for a in repo.page("customer", 0, 300)]
    assert list(dict.fromkeys(first_names)) == ["Ana", "Iva", "Marko", "Željko", "Зоя"]
    found = ex.list_page(repo, PageRequest(query="zelj kova"))
    assert found.total == 60
    assert all(a.customer.startswith("Željko Kovačević") for a in found.rows)
    assert [a.id for a in repo.lookup("plate", "ZG0042AB")] == ["a0042"]


def test_declared_filters_page_and_count_at_the_cost_of_a_page(appointments):
    repo, items = appointments
    since = START + timedelta(days=20)
    request = PageRequest(
        count=10, sort="customer", filters={"status": "done", "make": "vw", "since": since}
    )
    page = ex.list_page(repo, request)
    expected = [a for a in items if a.status == "done" and a.make == "vw" and a.at >= since]
    assert page.total == len(expected) > 10
    in_order = sorted(expected, key=lambda a: (sort_key(a.customer), a.id))
    assert [a.id for a in page.rows] == [a.id for a in in_order[:10]]
    later = ex.list_page(
        repo, PageRequest(start=10, count=10, sort="customer", filters=request.filters)
    )
    assert [a.id for a in later.rows] == [a.id for a in in_order[10:20]]


@pytest.fixture
def tasks(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(10_000)


def test_the_model_shows_rows_in_the_services_order(appointments, tasks, qtbot, qtmodeltester):
    repo, items = appointments
    model = ex.AppointmentModel(lambda request, _: ex.list_page(repo, request), tasks, page_size=50)
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        model.reload()
    assert (model.rowCount(), model.total) == (50, 300)
    assert model.index(0, ex.Column.CUSTOMER).data() == min(items, key=lambda a: a.at).customer
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        model.sort(ex.Column.CUSTOMER, Qt.SortOrder.DescendingOrder)
    assert model.index(0, ex.Column.CUSTOMER).data().startswith("Зоя")
    model.sort(ex.Column.MAKE)  # a column without a declared sort: nothing changes
    assert model.sort_column is ex.Column.CUSTOMER
    qtmodeltester.check(model)  # it fetches more: wait for that page before the model goes
    qtbot.waitUntil(lambda: not model.loading, timeout=10_000)


def test_the_readme_shows_the_example_as_it_runs():
    example = Path(ex.__file__).read_text(encoding="utf-8")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "class Appointment" in b
    ]
    if not shown:
        pytest.skip("README.md does not show the list example yet")
    assert shown[0] == example, "README.md's list example differs from tests/list_example.py"
