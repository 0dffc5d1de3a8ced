"""What every flat table model of the app shares: columns as an IntEnum, rows as a list."""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

ROOT = QModelIndex()  # the invisible root of a flat table


class ColumnsTableModel(QAbstractTableModel):
    """A flat table whose `columns` enum gives each column a `header` (and maybe a `tooltip`).

    Subclasses say how many rows they hold in `row_count` and serve `data`.
    """

    columns: ClassVar[type[enum.IntEnum]]

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return getattr(column, "tooltip", None)
        return None
