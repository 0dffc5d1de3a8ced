"""The audit log viewer (managers and admins): filters, pages loaded on demand, chain verification."""

from __future__ import annotations

import enum
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
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
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

from alko_desk.models.audit import AuditEntry, AuditFilter, ChainReport
from alko_desk.ui.table_models import ColumnsTableModel
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import ERROR_STYLE, OK_STYLE, heading, note

if TYPE_CHECKING:
    from alko_desk.bootstrap import SessionServices

SEQ_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE_SIZE = 200
_tr = QCoreApplication.translate
ROOT = QModelIndex()  # the invisible root of a flat table

ACTION_PREFIXES = [
    "",
    "login",
    "logout",
    "password",
    "permission.denied",
    "reauth",
    "user.",
    "settings.",
    "setup.",
]


class AuditColumn(enum.IntEnum):
    SEQ = 0
    TIME = 1
    ACTOR = 2
    ACTION = 3
    TARGET = 4
    DETAILS = 5

    @property
    def header(self) -> str:
        return {
            AuditColumn.SEQ: _tr("AuditModel", "#"),
            AuditColumn.TIME: _tr("AuditModel", "Time"),
            AuditColumn.ACTOR: _tr("AuditModel", "Who"),
            AuditColumn.ACTION: _tr("AuditModel", "Action"),
            AuditColumn.TARGET: _tr("AuditModel", "Target"),
            AuditColumn.DETAILS: _tr("AuditModel", "Details"),
        }[self]


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
        if role == Qt.ItemDataRole.ToolTipRole and column is AuditColumn.DETAILS:
            return _details(entry.details) or None
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

    def search(self, flt: AuditFilter) -> None:
        self.filter = replace(flt, limit=PAGE_SIZE + 1)
        audit, query = self.audit, self.filter
        self.searches += 1
        generation = self.searches

        def loaded(entries: list[AuditEntry]) -> None:
            if generation == self.searches:
                self.model.reset(entries[:PAGE_SIZE], len(entries) > PAGE_SIZE)

        self.tasks.run(
            lambda: audit.entries(query),
            on_success=loaded,
            parent=self.view,
            title=_tr("AuditPage", "Audit log"),
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


class AuditPage(QWidget):
    def __init__(
        self, services: SessionServices, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.presenter = AuditPresenter(services, tasks, self)
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
                    "chained to the one before it, so an edited or removed entry is detected."
                )
            )
        )
        layout.addLayout(self._build_filters())
        self.report = QLabel()
        self.report.setWordWrap(True)
        self.report.setVisible(False)
        layout.addWidget(self.report)
        self.table = QTableView()
        self.table.setModel(self.presenter.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in (
            (AuditColumn.SEQ, 60),
            (AuditColumn.TIME, 150),
            (AuditColumn.ACTOR, 110),
            (AuditColumn.ACTION, 170),
            (AuditColumn.TARGET, 150),
        ):
            self.table.setColumnWidth(column, width)
        layout.addWidget(self.table, 1)
        self.verify_button.clicked.connect(self.verify)
        self.search()

    def _build_filters(self) -> QGridLayout:
        grid = QGridLayout()
        self.actor = QLineEdit()
        self.actor.setPlaceholderText(self.tr("username"))
        self.action = QComboBox()
        self.action.setEditable(True)
        self.action.addItems(ACTION_PREFIXES)
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
        grid.addWidget(self.search_button, 1, 5, alignment=Qt.AlignmentFlag.AlignRight)
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

    def search(self) -> None:
        self.presenter.search(self.current_filter())

    def verify(self) -> None:
        self.verify_button.setEnabled(False)
        self.presenter.verify(self.show_report, lambda: self.verify_button.setEnabled(True))

    def show_report(self, report: ChainReport) -> None:
        if report.ok:
            text = self.tr(
                "The audit log is intact: {n} entries checked, the newest is #{head}."
            ).format(n=report.checked, head=report.head_seq)
            self.report.setStyleSheet(OK_STYLE)
        else:
            text = self.tr(
                "The audit log has been tampered with: {problem}. The first bad entry is #{seq}; "
                "{n} entries before it are intact."
            ).format(problem=report.problem, seq=report.first_bad_seq, n=report.checked)
            self.report.setStyleSheet(ERROR_STYLE)
        self.report.setText(text)
        self.report.setVisible(True)
