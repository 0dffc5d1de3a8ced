"""Settings (admins): the company profile, the idle lock, the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.changes import Change, ChangeKind
from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import ValidationError
from alko_desk.ui.changes import SETTINGS, ChangeWatcher
from alko_desk.ui.db_settings import DatabaseUriEditor
from alko_desk.ui.setup_wizard import CompanyForm
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import OK_STYLE, FieldForm, error_label, heading, set_error

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices


class SettingsPage(QWidget):
    company_changed = Signal(object)  # CompanyProfile

    def __init__(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        changes: ChangeWatcher | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = services.settings
        self._tasks = tasks
        self._changes = changes
        self.profile: CompanyProfile | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        body = QWidget()
        body.setMaximumWidth(960)  # on a wide screen the fields keep a readable length
        scroll.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(heading(self.tr("Settings")))

        company_box = QGroupBox(self.tr("Company"))
        company_layout = QVBoxLayout(company_box)
        self.company = CompanyForm()
        company_layout.addWidget(self.company)
        layout.addWidget(company_box)

        lock_box = QGroupBox(self.tr("Security"))
        lock_form = QFormLayout(lock_box)
        self.security_fields = FieldForm(lock_form, self)
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(1, 240)
        self.idle_minutes.setSuffix(self.tr(" min"))
        self.security_fields.add(
            "idle_lock_minutes",
            self.tr("Lock an idle desk after"),
            self.idle_minutes,
            self.tr("The desk locks itself when nobody touches it for this long."),
        )
        layout.addWidget(lock_box)

        row = QHBoxLayout()
        self.error = error_label()
        self.status = QLabel()
        self.status.setStyleSheet(OK_STYLE)
        row.addWidget(self.error, 1)
        row.addWidget(self.status, 1)
        self.save_button = QPushButton(self.tr("Save company settings"))
        self.save_button.setEnabled(False)
        row.addWidget(self.save_button)
        layout.addLayout(row)

        self.document_store = self._build_document_store(services, tasks, layout)

        self.database = DatabaseUriEditor(lambda: context.secrets, tasks)
        layout.addWidget(self.database)
        layout.addStretch(1)
        self.save_button.clicked.connect(self.save)
        self.database.load()
        self.load()

    def _build_document_store(
        self, services: SessionServices, tasks: TaskRunner, layout: QVBoxLayout
    ):
        """Where ID documents are stored: the Cloudinary account or an encrypted folder."""
        from alko_desk.models.users import Permission
        from alko_desk.ui.documents import documents_of
        from alko_desk.ui.documents.settings import DocumentStorageSettings

        documents = documents_of(services)
        if documents is None or not services.session.can(Permission.SETTINGS_ADMIN):
            return None
        box = QGroupBox(self.tr("ID documents"))
        layout.addWidget(box)
        widget = DocumentStorageSettings(documents, tasks, parent=box)
        QVBoxLayout(box).addWidget(widget)
        widget.refresh()
        return widget

    def load(self) -> None:
        self._tasks.run(
            self._settings.company, on_success=self._loaded, parent=self, title=self.tr("Settings")
        )

    def _loaded(self, profile: CompanyProfile) -> None:
        self.profile = profile
        self.company.set_profile(profile)
        self.idle_minutes.setValue(profile.idle_lock_minutes)
        self.save_button.setEnabled(True)

    def save(self) -> None:
        self.company.fields.clear_errors()
        self.security_fields.clear_errors()
        set_error(self.error, "")
        self.status.setText("")
        local = self.company.local_errors()
        if local:
            self.company.fields.show_errors(local)
            return
        profile = self.company.profile(self.idle_minutes.value())
        settings = self._settings
        self.save_button.setEnabled(False)
        self._tasks.run(
            lambda: settings.update_company(profile),
            on_success=lambda _: self._saved(profile),
            on_failure=self._failed,
            on_finished=lambda: self.save_button.setEnabled(True),
            parent=self,
            title=self.tr("Settings"),
        )

    def _saved(self, profile: CompanyProfile) -> None:
        self.profile = profile
        self.status.setText(self.tr("Saved."))
        self.company_changed.emit(profile)
        if self._changes is not None:  # the window (idle lock, phone region) reads it again
            self._changes.publish((Change(0, SETTINGS, ChangeKind.UPDATED),))

    def _failed(self, exc: BaseException) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        unplaced = self.company.fields.show_errors(
            {k: v for k, v in exc.field_errors.items() if k in self.company.fields.widgets}
        )
        self.security_fields.show_errors(
            {k: v for k, v in exc.field_errors.items() if k in self.security_fields.widgets}
        )
        leftover = [k for k in unplaced if k not in self.security_fields.widgets]
        if leftover or not exc.field_errors:
            set_error(self.error, exc.user_text())
        else:
            set_error(self.error, exc.message)
        return True
