"""The audit log viewer (managers and admins): filters, pages loaded on demand, chain verification."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.audit import (
    AuditAction,
    AuditCategory,
    AuditEntry,
    AuditFilter,
    ChainReport,
)
from alko_desk.services.audit import FLAG_PREFIX
from alko_desk.ui.list_pages import Column, ListColumn
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import ERROR_STYLE, OK_STYLE, heading, note

if TYPE_CHECKING:
    from alko_desk.bootstrap import SessionServices

SEQ_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE_SIZE = 200
_tr = QCoreApplication.translate
ROOT = QModelIndex()  # the invisible root of a flat table


def action_choices() -> list[tuple[str, str]]:
    """What the action filter offers, from the one catalogue: each category's prefix, then each
    of its actions; (prefix, label) pairs, the empty prefix first (any action)."""
    choices = [("", "")]
    for category in AuditCategory:
        choices.append((category.value, category.label))
        choices.extend(
            (a.value, a.label)
            for a in AuditAction
            if a.category is category and a.value != category.value  # "login" is both
        )
    return choices


ACTION_PREFIXES = [prefix for prefix, _ in action_choices()]


class AuditColumn(ListColumn, context="AuditModel"):
    SEQ = Column("#")
    TIME = Column("Time")
    ACTOR = Column("Who")
    ACTION = Column("Action")
    TARGET = Column("Target")
    DETAILS = Column("Details")


def _details(details: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted(details.items()))


class AuditModel(ColumnsTableModel):
    """Entries newest first; the next page is asked for when the view scrolls to the end."""

    columns = AuditColumn

    def row_count(self) -> int:
        return len(self._entries)

    def __init__(self, request_more: Callable[[], None] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[AuditEntry] = []
        self._more = False
        self._loading = False
        self._request_more = request_more

    @property
    def entries(self) -> list[AuditEntry]:
        return list(self._entries)

    @property
    def has_more(self) -> bool:
        return self._more

    def reset(self, entries: list[AuditEntry], more: bool) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._more = more
        self._loading = False
        self.endResetModel()

    def append(self, entries: list[AuditEntry], more: bool) -> None:
        self._loading = False
        self._more = more
        if not entries:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()

    def loading_failed(self) -> None:
        self._loading = False
        self._more = False

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> bool:
        return (
            not parent.isValid()
            and self._more
            and not self._loading
            and self._request_more is not None
        )

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> None:
        if self.canFetchMore(parent):
            self._loading = True
            assert self._request_more is not None
            self._request_more()

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._entries)):
            return None
        entry = self._entries[index.row()]
        if role == SEQ_ROLE:
            return entry.seq
        column = AuditColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                AuditColumn.SEQ: str(entry.seq),
                AuditColumn.TIME: entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                AuditColumn.ACTOR: entry.actor,
                AuditColumn.ACTION: entry.action,
                AuditColumn.TARGET: entry.target,
                AuditColumn.DETAILS: _details(entry.details),
            }[column]
        if role == Qt.ItemDataRole.ToolTipRole and column in (
            AuditColumn.DETAILS,
            AuditColumn.TARGET,
            AuditColumn.ACTION,
        ):
            return self.data(index, Qt.ItemDataRole.DisplayRole) or None  # elided in the cell
        if role == Qt.ItemDataRole.ForegroundRole and entry.action.startswith(FLAG_PREFIX):
            return QBrush(QColor("#b3261e"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column is AuditColumn.SEQ:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def day_range(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole local days as aware datetimes: from the start of `since` to the end of `until`."""
    start = datetime.combine(since, time.min).astimezone() if since else None
    end = (
        datetime.combine(until + timedelta(days=1), time.min).astimezone()
        - timedelta(microseconds=1)
        if until
        else None
    )
    return start, end


class AuditPresenter:
    def __init__(self, services: SessionServices, tasks: TaskRunner, view: QWidget) -> None:
        self.audit = services.audit
        self.tasks = tasks
        self.view = view
        self.model = AuditModel(self.fetch_more, view)
        self.filter = AuditFilter(limit=PAGE_SIZE)
        self.searches = 0

    def search(self, flt: AuditFilter, then: Callable[[], None] | None = None) -> None:
        self.filter = replace(flt, limit=PAGE_SIZE + 1)
        audit, query = self.audit, self.filter
        self.searches += 1
        generation = self.searches

        def loaded(entries: list[AuditEntry]) -> None:
            if generation == self.searches:
                self.model.reset(entries[:PAGE_SIZE], len(entries) > PAGE_SIZE)
                if then is not None:
                    then()

        self.tasks.run(
            lambda: audit.entries(query),
            on_success=loaded,
            parent=self.view,
            title=_tr("AuditPage", "Audit log"),
        )

    def search_flags(self, then: Callable[[], None] | None = None) -> None:
        """Only the flagged entries nobody has reviewed yet (all of them: they are few)."""
        audit = self.audit
        self.searches += 1
        generation = self.searches

        def loaded(entries: list[AuditEntry]) -> None:
            if generation == self.searches:
                self.model.reset(entries, False)
                if then is not None:
                    then()

        self.tasks.run(
            audit.unreviewed_flags,
            on_success=loaded,
            parent=self.view,
            title=_tr("AuditPage", "Audit log"),
        )

    def count_flags(self, done: Callable[[int], None]) -> None:
        self.tasks.run(
            self.audit.count_unreviewed_flags,
            on_success=done,
            parent=self.view,
            title=_tr("AuditPage", "Audit log"),
        )

    def mark_reviewed(self, seq: int, done: Callable[[], None]) -> None:
        audit = self.audit
        self.tasks.run(
            lambda: audit.mark_reviewed(seq),
            on_success=lambda _entry: done(),
            parent=self.view,
            title=_tr("AuditPage", "Mark reviewed"),
        )

    def fetch_more(self) -> None:
        loaded_entries = self.model.entries
        if not loaded_entries:
            self.model.loading_failed()
            return
        oldest = loaded_entries[-1]
        same_time = sum(1 for e in loaded_entries if e.time == oldest.time)
        query = replace(self.filter, until=oldest.time, limit=PAGE_SIZE + 1 + same_time)
        audit, generation = self.audit, self.searches

        def loaded(entries: list[AuditEntry]) -> None:
            if generation != self.searches:
                return
            fresh = [e for e in entries if e.seq < oldest.seq]
            self.model.append(fresh[:PAGE_SIZE], len(fresh) > PAGE_SIZE)

        def failed(_: BaseException) -> bool:
            self.model.loading_failed()
            return False

        self.tasks.run(
            lambda: audit.entries(query),
            on_success=loaded,
            on_failure=failed,
            parent=self.view,
            title=_tr("AuditPage", "Audit log"),
        )

    def verify(self, done: Callable[[ChainReport], None], finished: Callable[[], None]) -> None:
        self.tasks.run(
            self.audit.verify,
            on_success=done,
            on_finished=finished,
            parent=self.view,
            title=_tr("AuditPage", "Verify the audit log"),
        )


FLAGS_STYLE = (
    "QFrame#flags { border: 1px solid #d9a441; border-radius: 6px; background: #fff8e6; }"
    "QFrame#flags QLabel { background: transparent; }"
)


class AuditEntryDialog(QDialog):
    """One entry in full: every detail on its own line; a flag can be marked reviewed here."""

    def __init__(
        self, entry: AuditEntry, *, can_review: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setWindowTitle(self.tr("Audit entry #{seq}").format(seq=entry.seq))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(entry.action, 13))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        rows = [
            (self.tr("Entry"), f"#{entry.seq}"),
            (self.tr("Time"), entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")),
            (self.tr("Who"), entry.actor),
            (self.tr("Action"), entry.action),
            (self.tr("Target"), entry.target or "—"),
        ] + [(str(key), str(value)) for key, value in sorted(entry.details.items())]
        self.values: dict[str, QLabel] = {}
        for label, value in rows:
            shown = QLabel(value)
            shown.setWordWrap(True)
            shown.setTextFormat(Qt.TextFormat.PlainText)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(note(label), shown)
            self.values[label] = shown
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.review_button: QPushButton | None = None
        if can_review and entry.action.startswith(FLAG_PREFIX):
            self.review_button = buttons.addButton(
                self.tr("Mark reviewed"), QDialogButtonBox.ButtonRole.AcceptRole
            )
            self.review_button.setToolTip(
                self.tr("Records in the audit log that you looked at this flag.")
            )
            buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


class AuditPage(QWidget):
    def __init__(
        self, services: SessionServices, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.presenter = AuditPresenter(services, tasks, self)
        self.entry_dialog: AuditEntryDialog | None = None
        self.unreviewed = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Audit log")))
        top.addStretch(1)
        self.verify_button = QPushButton(self.tr("Verify chain"))
        top.addWidget(self.verify_button)
        layout.addLayout(top)
        layout.addWidget(
            note(
                self.tr(
                    "Every login, change and view of personal data, newest first. Each entry is "
                    "chained to the one before it, so an edited or removed entry is detected. "
                    "Double-click an entry (or press Enter) to see it in full."
                )
            )
        )
        layout.addWidget(self._build_flags_banner())
        layout.addLayout(self._build_filters())
        self.report = QLabel()
        self.report.setWordWrap(True)
        self.report.setVisible(False)
        self.report_head = 0
        layout.addWidget(self.report)
        self.table = QTableView()
        self.table.setModel(self.presenter.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(60)
        for column, width in (
            (AuditColumn.SEQ, 60),
            (AuditColumn.TIME, 150),
            (AuditColumn.ACTOR, 100),
            (AuditColumn.ACTION, 170),
            (AuditColumn.TARGET, 170),
        ):
            self.table.setColumnWidth(column, width)
        layout.addWidget(self.table, 1)
        self.empty = note(self.tr("No entries match. Change the filters, or clear them."))
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setVisible(False)
        layout.addWidget(self.empty)
        self.verify_button.clicked.connect(self.verify)
        self.table.activated.connect(self.open_entry)
        self.search()
        self.refresh_flags()

    def _build_flags_banner(self) -> QFrame:
        self.flags_banner = QFrame()
        self.flags_banner.setObjectName("flags")
        self.flags_banner.setStyleSheet(FLAGS_STYLE)
        row = QHBoxLayout(self.flags_banner)
        self.flags_label = QLabel()
        self.flags_label.setWordWrap(True)
        font = self.flags_label.font()
        font.setBold(True)
        self.flags_label.setFont(font)
        row.addWidget(self.flags_label, 1)
        self.show_flags_button = QPushButton(self.tr("Show them"))
        self.show_flags_button.clicked.connect(lambda: self.only_flags.setChecked(True))
        row.addWidget(self.show_flags_button)
        self.flags_banner.setVisible(False)
        return self.flags_banner

    def _build_filters(self) -> QGridLayout:
        grid = QGridLayout()
        self.actor = QLineEdit()
        self.actor.setPlaceholderText(self.tr("username"))
        self.action = QComboBox()
        self.action.setEditable(True)
        for prefix, label in action_choices():
            self.action.addItem(prefix)
            self.action.setItemData(self.action.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        self.action.lineEdit().setPlaceholderText(self.tr("any action"))
        self.target = QLineEdit()
        self.target.setPlaceholderText(self.tr("e.g. user:sam"))
        self.use_since = QCheckBox(self.tr("From"))
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.use_until = QCheckBox(self.tr("To"))
        self.until = QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.since.setEnabled(False)
        self.until.setEnabled(False)
        self.use_since.toggled.connect(self.since.setEnabled)
        self.use_until.toggled.connect(self.until.setEnabled)
        self.only_flags = QCheckBox(self.tr("Only unreviewed flags"))
        self.only_flags.setToolTip(
            self.tr("Entries flagged for a manager (fraud.*) that nobody has marked reviewed.")
        )
        self.only_flags.toggled.connect(self._flags_toggled)
        self.search_button = QPushButton(self.tr("Search"))
        self.search_button.setDefault(True)
        grid.addWidget(QLabel(self.tr("Who")), 0, 0)
        grid.addWidget(self.actor, 0, 1)
        grid.addWidget(QLabel(self.tr("Action starts with")), 0, 2)
        grid.addWidget(self.action, 0, 3)
        grid.addWidget(QLabel(self.tr("Target")), 0, 4)
        grid.addWidget(self.target, 0, 5)
        grid.addWidget(self.use_since, 1, 0)
        grid.addWidget(self.since, 1, 1)
        grid.addWidget(self.use_until, 1, 2)
        grid.addWidget(self.until, 1, 3)
        flags_and_search = QHBoxLayout()
        flags_and_search.addWidget(self.only_flags)
        flags_and_search.addStretch(1)
        flags_and_search.addWidget(self.search_button)
        grid.addLayout(flags_and_search, 1, 4, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        grid.setColumnStretch(5, 1)
        self.search_button.clicked.connect(self.search)
        for edit in (self.actor, self.target, self.action.lineEdit()):
            edit.returnPressed.connect(self.search)
        return grid

    def current_filter(self) -> AuditFilter:
        since, until = day_range(
            self.since.date().toPython() if self.use_since.isChecked() else None,
            self.until.date().toPython() if self.use_until.isChecked() else None,
        )
        return AuditFilter(
            actor=self.actor.text().strip().casefold(),
            action_prefix=self.action.currentText().strip(),
            target=self.target.text().strip(),
            since=since,
            until=until,
        )

    def _flags_toggled(self, on: bool) -> None:
        for widget in (self.actor, self.action, self.target, self.use_since, self.use_until):
            widget.setEnabled(not on)
        self.since.setEnabled(not on and self.use_since.isChecked())
        self.until.setEnabled(not on and self.use_until.isChecked())
        self.search()

    def search(self) -> None:
        self.empty.setVisible(False)
        if self.only_flags.isChecked():
            self.presenter.search_flags(self._listed)
        else:
            self.presenter.search(self.current_filter(), self._listed)

    def refresh(self) -> None:
        """F5: the same search again, and the count of flags."""
        self.search()
        self.refresh_flags()

    def _listed(self) -> None:
        entries = self.presenter.model.entries
        self.empty.setVisible(not entries)
        self.empty.setText(
            self.tr("No unreviewed flags: every flagged entry has been looked at.")
            if self.only_flags.isChecked()
            else self.tr("No entries match. Change the filters, or clear them.")
        )
        newest = max((e.seq for e in entries), default=0)
        if self.report.isVisible() and newest > self.report_head:
            # The check no longer covers what is listed: say when it was, not "intact" now.
            self.report.setText(
                self.report.text()
                + " "
                + self.tr("Newer entries were written since; verify again to check them.")
            )
            self.report_head = newest

    def refresh_flags(self) -> None:
        self.presenter.count_flags(self._show_flag_count)

    def _show_flag_count(self, count: int) -> None:
        self.unreviewed = count
        self.flags_label.setText(
            self.tr(
                "1 flagged entry needs a manager's review (for example an ID number "
                "registered under two names)."
            )
            if count == 1
            else self.tr(
                "{n} flagged entries need a manager's review (for example an ID number "
                "registered under two names)."
            ).format(n=count)
        )
        self.flags_banner.setVisible(count > 0)

    def open_entry(self, index: QModelIndex) -> AuditEntryDialog | None:
        entries = self.presenter.model.entries
        if not index.isValid() or index.row() >= len(entries):
            return None
        entry = entries[index.row()]
        dialog = AuditEntryDialog(entry, can_review=True, parent=self)
        dialog.accepted.connect(lambda: self._review(entry.seq))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.entry_dialog = dialog
        dialog.open()
        return dialog

    def _review(self, seq: int) -> None:
        self.presenter.mark_reviewed(seq, self.refresh)

    def verify(self) -> None:
        self.verify_button.setEnabled(False)
        self.presenter.verify(self.show_report, lambda: self.verify_button.setEnabled(True))

    def show_report(self, report: ChainReport) -> None:
        checked_at = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
        if report.ok:
            text = self.tr(
                "Checked {when}: the audit log is intact: {n} entries checked, the newest is "
                "#{head}."
            ).format(when=checked_at, n=report.checked, head=report.head_seq)
            self.report.setStyleSheet(OK_STYLE)
        else:
            text = self.tr(
                "Checked {when}: the audit log has been tampered with: {problem}. The first bad "
                "entry is #{seq}; {n} entries before it are intact."
            ).format(
                when=checked_at,
                problem=report.problem,
                seq=report.first_bad_seq,
                n=report.checked,
            )
            self.report.setStyleSheet(ERROR_STYLE)
        self.report_head = report.head_seq
        self.report.setText(text)
        self.report.setVisible(True)
