"""The client list: columns, cells and the row source, on the paged list of `ui/table_models.py`.

The rows come in the order the client service returns them, for the list and for a
search alike; the model never sorts. The rows come from `ClientService.list_page`, which
pages every declared sort at the cost of a page (the app-kept list index).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor

from alko_desk.models.clients import ClientRow, ClientSort, ClientStatus
from alko_desk.ui.clients.formatting import format_datetime
from alko_desk.ui.list_pages import Column, ListColumn, ListModel
from alko_desk.ui.table_models import (
    ROW_ID_ROLE,
    ROW_ROLE,
    RowSource,
    rows_from,
    unsortable_tooltip,
)

if TYPE_CHECKING:
    from alko_desk.services.clients import ClientService

CLIENT_ID_ROLE = ROW_ID_ROLE
CLIENT_ROW_ROLE = ROW_ROLE
_tr = QCoreApplication.translate
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClientColumn(ListColumn, context="ClientList"):
    NAME = Column("Name", ClientSort.NAME)
    CITY = Column("City")
    PHONE = Column("Phone")
    LAST_ACTIVITY = Column("Last activity", ClientSort.LAST_ACTIVITY)
    STATUS = Column("Status", ClientSort.STATUS)

    @property
    def sort_key(self) -> ClientSort | None:
        return ClientSort(self.sort) if self.sort else None

    @property
    def tooltip(self) -> str:
        if self.sort is None:
            return (
                unsortable_tooltip(self.header) + " " + _tr("ClientList", "It is stored encrypted.")
            )
        return _tr("ClientList", "Click to sort by {column}; click again to reverse.").format(
            column=self.header.lower()
        )

    @classmethod
    def for_sort(cls, sort: ClientSort) -> ClientColumn:
        return next(c for c in cls if c.sort_key is sort)


STATUS_COLOURS = {
    ClientStatus.RESTRICTED: QColor("#b3261e"),
    ClientStatus.CUSTOMER: QColor("#1e6b34"),
}


class ClientListModel(ListModel[ClientRow]):
    """Rows of the client list, in the service's order (see `PagedTableModel`)."""

    columns = ClientColumn
    title = "Clients"
    first_sort = ClientColumn.NAME
    extra_roles: ClassVar[frozenset[int]] = frozenset({Qt.ItemDataRole.ForegroundRole})

    def client_id(self, row: int) -> str | None:
        return self.row_id(row)  # type: ignore[return-value]

    def display(self, row: ClientRow, column: Any) -> str:
        if column is ClientColumn.NAME:
            return row.display_name
        if column is ClientColumn.CITY:
            return row.city
        if column is ClientColumn.PHONE:
            return row.phone_masked
        if column is ClientColumn.LAST_ACTIVITY:
            return _activity_text(row.last_activity)
        return _tr("ClientStatus", row.status.label)

    def cell(self, row: ClientRow, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column is ClientColumn.PHONE:
            masked = row.phone_masked
            return (
                _tr("ClientList", "Masked. Open the client to see the number.") if masked else None
            )
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = STATUS_COLOURS.get(row.status) if column is ClientColumn.STATUS else None
            return QBrush(colour) if colour else None
        return super().cell(row, column, role)


@lru_cache(maxsize=8192)
def _activity_text(moment):
    return format_datetime(moment)


# -- where the rows come from ---------------------------------------------------------------


def client_rows(clients: ClientService) -> RowSource[ClientRow]:
    """The row source of the client list: the service decides the order, once."""
    return rows_from(clients.list_page)
