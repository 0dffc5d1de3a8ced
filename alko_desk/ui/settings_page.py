"""Settings (admins): the company profile, the idle lock, the database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.changes import Change, ChangeKind
from alko_desk.models.company import CompanyProfile
from alko_desk.models.deals import DealSettings
from alko_desk.models.errors import ValidationError
from alko_desk.models.invoices import InvoiceSettings
from alko_desk.ui.changes import SETTINGS, ChangeWatcher
from alko_desk.ui.db_settings import DatabaseUriEditor
from alko_desk.ui.forms import run_from_button, save_row
from alko_desk.ui.setup_wizard import CompanyForm
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import FieldForm, heading, note, set_error

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

        row, self.error, self.status, self.save_button = save_row(self.tr("Save company settings"))
        layout.addLayout(row)

        self.deal_settings = (
            DealSettingsBox(services, tasks, changes) if services.deals is not None else None
        )
        if self.deal_settings is not None:
            layout.addWidget(self.deal_settings)
        self.invoice_settings = (
            InvoiceSettingsBox(services, tasks)
            if getattr(services, "invoices", None) is not None
            else None
        )
        if self.invoice_settings is not None:
            layout.addWidget(self.invoice_settings)

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
        run_from_button(
            self._tasks,
            self.save_button,
            lambda: settings.update_company(profile),
            lambda _: self._saved(profile),
            self._failed,
            self.tr("Settings"),
            self,
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


class _SettingsBox(QGroupBox):
    """A group of settings saved by its own button: its `fields`, `error`, `status` and
    `save_button`, what the service refuses shown beside the fields."""

    def _clear_messages(self) -> None:
        self.fields.clear_errors()
        set_error(self.error, "")
        self.status.setText("")

    def _save_with(self, write, settings, title: str) -> None:
        run_from_button(
            self._tasks,
            self.save_button,
            lambda: write(settings),
            lambda _: self._saved(settings),
            self._failed,
            title,
            self,
        )

    def _failed(self, exc: BaseException) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        unplaced = self.fields.show_errors(exc.field_errors)
        set_error(self.error, exc.user_text() if unplaced or not exc.field_errors else "")
        return True


class DealSettingsBox(_SettingsBox):
    """The rules deals follow: how long a reservation holds the car, and above which discount
    a manager must approve. The VAT rate deals use is the company's (above)."""

    def __init__(
        self, services: SessionServices, tasks: TaskRunner, changes: ChangeWatcher | None = None
    ) -> None:
        super().__init__()
        self.setTitle(self.tr("Deals"))
        self._deals = services.deals
        self._tasks = tasks
        self._changes = changes
        self.loaded: DealSettings | None = None
        column = QVBoxLayout(self)
        form = QFormLayout()
        self.fields = FieldForm(form, self)
        self.reservation_days = QSpinBox()
        self.reservation_days.setRange(1, 90)
        self.reservation_days.setSuffix(self.tr(" days"))
        self.fields.add(
            "reservation_days",
            self.tr("A reservation lapses after"),
            self.reservation_days,
            self.tr("Saving a deal reserves the car; after this long the car is free again."),
        )
        self.approval_percent = QLineEdit()
        self.approval_percent.setMaximumWidth(140)
        self.reservation_days.setMaximumWidth(140)
        self.fields.add(
            "approval_discount_percent",
            self.tr("A manager approves discounts above (%)"),
            self.approval_percent,
            self.tr("A deal with a larger discount cannot be invoiced until a manager approves."),
        )
        column.addLayout(form)
        column.addWidget(note(self.tr("Deals use the VAT rate of the company profile above.")))
        row, self.error, self.status, self.save_button = save_row(self.tr("Save deal settings"))
        column.addLayout(row)
        self.save_button.clicked.connect(self.save)
        self.reservation_days.valueChanged.connect(lambda _: self.status.setText(""))
        self.approval_percent.textEdited.connect(lambda _: self.status.setText(""))
        self.load()

    def load(self) -> None:
        self._tasks.run(
            self._deals.settings, on_success=self._loaded, parent=self, title=self.tr("Deals")
        )

    def _loaded(self, settings: DealSettings) -> None:
        self.loaded = settings
        self.reservation_days.setValue(settings.reservation_days)
        self.approval_percent.setText(_percent_text(settings.approval_discount_percent))
        self.save_button.setEnabled(True)

    def settings(self) -> DealSettings:
        """As typed; ValueError when the percentage is not a number."""
        text = self.approval_percent.text().strip().replace(" ", "").replace(",", ".")
        try:
            percent = Decimal(text.removesuffix("%"))
        except InvalidOperation:
            raise ValueError(text) from None
        if not percent.is_finite():
            raise ValueError(text)
        return DealSettings(
            reservation_days=self.reservation_days.value(), approval_discount_percent=percent
        )

    def save(self) -> None:
        self._clear_messages()
        try:
            settings = self.settings()
        except ValueError:
            self.fields.show_errors(
                {"approval_discount_percent": self.tr("Enter a percentage, such as 5 or 7,5.")}
            )
            return
        self._save_with(self._deals.update_settings, settings, self.tr("Deals"))

    def _saved(self, settings: DealSettings) -> None:
        self.loaded = settings
        self.status.setText(self.tr("Saved."))
        if self._changes is not None:  # open Deals pages read the rules again
            self._changes.publish((Change(0, SETTINGS, ChangeKind.UPDATED),))


def _percent_text(value: Decimal) -> str:
    """5 rather than 5.00; 7,5 as a Croatian desk types it."""
    return format(value.normalize(), "f").replace(".", ",")


class InvoiceSettingsBox(_SettingsBox):
    """How invoices are numbered and what they print besides the company profile: the series
    of invoices and of credit notes, the payment terms, the bank's BIC and name, the logo."""

    TEXT_FIELDS = ("invoice_series", "credit_note_series", "bic", "bank_name", "logo_path")

    def __init__(self, services: SessionServices, tasks: TaskRunner) -> None:
        super().__init__()
        self.setTitle(self.tr("Invoices"))
        self._invoices = services.invoices
        self._tasks = tasks
        self.loaded: InvoiceSettings | None = None
        column = QVBoxLayout(self)
        form = QFormLayout()
        self.fields = FieldForm(form, self)
        self.invoice_series = QLineEdit()
        self.fields.add(
            "invoice_series",
            self.tr("Invoice series"),
            self.invoice_series,
            self.tr("{year} becomes the year of issue: ALKO-{year} numbers ALKO-2026-000001."),
        )
        self.credit_note_series = QLineEdit()
        self.fields.add(
            "credit_note_series", self.tr("Credit note series"), self.credit_note_series
        )
        self.payment_terms_days = QSpinBox()
        self.payment_terms_days.setRange(0, 365)
        self.payment_terms_days.setSuffix(self.tr(" days"))
        self.payment_terms_days.setMaximumWidth(140)
        self.fields.add(
            "payment_terms_days",
            self.tr("Payment due after"),
            self.payment_terms_days,
            self.tr("Printed on invoices; an invoice not paid by then shows as overdue."),
        )
        self.bic = QLineEdit()
        self.bic.setMaximumWidth(200)
        self.fields.add("bic", self.tr("Bank BIC"), self.bic)
        self.bank_name = QLineEdit()
        self.fields.add(
            "bank_name",
            self.tr("Bank name"),
            self.bank_name,
            self.tr("Printed beside the IBAN of the company profile."),
        )
        self.logo_path = QLineEdit()
        self.logo_path.setPlaceholderText(self.tr("No logo"))
        self.fields.add(
            "logo_path",
            self.tr("Logo (PNG or JPEG)"),
            self.logo_path,
            self.tr(
                "A PNG or JPEG printed at the top of invoices and receipts: a file on the "
                "computer that makes them (the showroom server, if the desks use one)."
            ),
        )
        column.addLayout(form)
        column.addWidget(
            note(self.tr("New numbers follow the new series; issued invoices never change."))
        )
        row, self.error, self.status, self.save_button = save_row(self.tr("Save invoice settings"))
        column.addLayout(row)
        self.save_button.clicked.connect(self.save)
        for name in self.TEXT_FIELDS:
            getattr(self, name).textEdited.connect(lambda _: self.status.setText(""))
        self.payment_terms_days.valueChanged.connect(lambda _: self.status.setText(""))
        self.load()

    def load(self) -> None:
        self._tasks.run(
            self._invoices.settings, on_success=self._loaded, parent=self, title=self.tr("Invoices")
        )

    def _loaded(self, settings: InvoiceSettings) -> None:
        self.loaded = settings
        for name in self.TEXT_FIELDS:
            getattr(self, name).setText(getattr(settings, name))
        self.payment_terms_days.setValue(settings.payment_terms_days)
        self.save_button.setEnabled(True)

    def settings(self) -> InvoiceSettings:
        typed = {name: getattr(self, name).text() for name in self.TEXT_FIELDS}
        return replace(
            self.loaded or InvoiceSettings(),
            payment_terms_days=self.payment_terms_days.value(),
            **typed,
        )

    def save(self) -> None:
        self._clear_messages()
        self._save_with(self._invoices.update_settings, self.settings(), self.tr("Invoices"))

    def _saved(self, settings: InvoiceSettings) -> None:
        self.loaded = settings
        self.status.setText(self.tr("Saved."))
        self.load()  # as stored (trimmed, the BIC in capitals)
