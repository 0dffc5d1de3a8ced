"""Someone saved the client while this desk was editing it: what they changed, and a way on."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import ConcurrentModification
from alko_desk.ui.clients.form import FIELDS, draft_values, field_labels, readable_value
from alko_desk.ui.widgets import heading, note

_tr = QCoreApplication.translate


def changed_field_names(labels: list[str]) -> list[str]:
    """The form's field names for the service's labels ("Email" → "email"), in the form's order."""
    from alko_desk.services.clients import FIELD_LABELS

    by_label = {label: name for name, label in FIELD_LABELS.items()}
    wanted = {by_label[label] for label in labels if label in by_label}
    return [name for name in FIELDS if name in wanted]


class ConflictDialog(QDialog):
    """Lists each field the other desk changed: its value now saved, and the value in this form.

    "Reload their version" puts the saved version into the form, keeping this
    desk's edits of the fields nobody else touched; "Keep editing" leaves the
    form as it is (saving again is refused again until the user reloads).
    """

    reload_requested = Signal()

    def __init__(
        self, exc: ConcurrentModification, mine: dict[str, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("ClientConflict", "Saved by someone else"))
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)
        layout.addWidget(
            heading(_tr("ClientConflict", "This client was changed while you were editing"), 13)
        )
        self.message = QLabel(exc.user_text())
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        theirs = draft_values(exc.current.draft)
        labels = field_labels()
        self.fields = changed_field_names(exc.changed_fields)
        self.table = QTableWidget(len(self.fields), 3)
        self.table.setHorizontalHeaderLabels(
            [
                _tr("ClientConflict", "Field"),
                _tr("ClientConflict", "Saved now"),
                _tr("ClientConflict", "In your form"),
            ]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        for row, name in enumerate(self.fields):
            for col, text in enumerate(
                (labels[name], readable_value(name, theirs[name]), readable_value(name, mine[name]))
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        rows_height = sum(self.table.rowHeight(r) for r in range(len(self.fields)))
        self.table.setFixedHeight(min(320, header.sizeHint().height() + rows_height + 6))
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.table)
        layout.addWidget(
            note(
                _tr(
                    "ClientConflict",
                    "Reload their version to continue from what is saved "
                    "now; your changes to other fields stay in the form.",
                )
            )
        )
        buttons = QDialogButtonBox()
        self.reload_button = buttons.addButton(
            _tr("ClientConflict", "Reload their version"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.keep_button = buttons.addButton(
            _tr("ClientConflict", "Keep editing"), QDialogButtonBox.ButtonRole.RejectRole
        )
        self.reload_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.accepted.connect(self.reload_requested)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            tuple(self.table.item(r, c).text() for c in range(3))
            for r in range(self.table.rowCount())
        ]
