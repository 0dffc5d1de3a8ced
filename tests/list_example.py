# A new entity's list, whole: service appointments (tests/test_list_example.py runs it)
import enum
from dataclasses import dataclass
from datetime import datetime

from alko_desk.models.listing import Page, PageRequest
from alko_desk.models.text import sort_key, words
from alko_desk.storage.app_index import IndexEntry, ListRepository, ListSpec, Where
from alko_desk.storage.doc_lists import part, stamp
from alko_desk.storage.mongo import Store
from alko_desk.ui.table_models import PagedTableModel


@dataclass(frozen=True)
class Appointment:  # models/: the row type, what one line of the list shows
    id: str
    customer: str
    make: str
    plate: str
    status: str  # "booked", "done", "cancelled"
    at: datetime


APPOINTMENTS = ListSpec(  # storage/: what the list index keeps
    name="appointments",  # the index lives in ix_appointments
    sorts=("at", "customer", "status"),  # the first is the default order
    searchable=True,  # prefix search over IndexEntry.words
    exact=("plate",),  # exact lookup
    equal=("status", "make"),  # filters by value: a sub-tree per value and sort
    ranges=("at",),  # filters by a range of this sort's keys (from..to)
)


def _entry(a: Appointment) -> IndexEntry:  # keys compare as plain strings
    return IndexEntry(
        id=a.id,
        keys={
            "at": stamp(a.at),  # fixed-width UTC digits
            "customer": sort_key(a.customer),  # ICU collation: Č after C, Є before Ж
            "status": part(a.status) + stamp(a.at),  # by status, then by time
        },
        payload=[a.customer, a.make, a.plate, a.status, a.at.isoformat()],  # JSON
        words=tuple(words(a.customer)),  # folded: "zelj" finds Željko
        exact={"plate": [a.plate.upper()]},
        equal={"status": a.status, "make": a.make},
    )


def _row(record_id: str, p: list) -> Appointment:
    return Appointment(record_id, p[0], p[1], p[2], p[3], datetime.fromisoformat(p[4]))


class AppointmentList(ListRepository[Appointment, Appointment]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, APPOINTMENTS, entry=_entry, row=_row)


def list_page(appointments: AppointmentList, request: PageRequest) -> Page[Appointment]:
    """services/: the service's list_page (which also checks permissions and audits)."""
    if request.query:  # a search: name prefixes, in the default order
        found = appointments.search(words(request.query))
        shown = found[request.start : request.start + request.count]
        return Page(tuple(shown), len(found), request.start)
    f = request.filters
    where = Where(
        equal={k: f[k] for k in ("status", "make") if f.get(k)},
        ranges={"at": (stamp(f["since"]), "")} if f.get("since") else {},
    )
    total = appointments.count(request.sort, where=where)
    rows = appointments.page(
        request.sort, request.start, request.count, request.descending, where=where
    )
    return Page(tuple(rows), total, request.start)


class Column(enum.IntEnum):  # ui/: each column has a header and a sort (None: unsortable)
    WHEN = 0
    CUSTOMER = 1
    MAKE = 2

    @property
    def header(self) -> str:
        return self.name.title()

    @property
    def sort(self) -> str | None:
        return {Column.WHEN: "at", Column.CUSTOMER: "customer"}.get(self)


class AppointmentModel(PagedTableModel[Appointment]):  # pages read in workers
    columns = Column

    def display(self, row: Appointment, column: Column) -> str:
        if column is Column.WHEN:
            return row.at.strftime("%d.%m.%Y %H:%M")
        return row.customer if column is Column.CUSTOMER else row.make


# the window: AppointmentModel(rows_from(service.list_page), tasks, owner=page)
