"""The first start on an empty database: the company's details, then the first admin."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import phonenumbers
from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from alko_desk.models.company import CompanyProfile
from alko_desk.models.errors import ValidationError
from alko_desk.security.passwords import password_problem
from alko_desk.services.account_validation import account_problems
from alko_desk.services.company_validation import phone_regions, validate_profile
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import (
    FieldForm,
    PasswordFields,
    error_label,
    note,
    set_error,
)

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext

COMPANY_FIELDS = (
    "name",
    "address",
    "vat_id",
    "bank_account",
    "currency",
    "vat_rate",
    "phone_region",
)
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "BAM", "RSD", "HUF", "CZK", "PLN"]


def parse_decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ".").rstrip("%").strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def country_name(code: str) -> str:
    territory = QLocale.codeToTerritory(code)
    name = QLocale.territoryToString(territory) if territory != QLocale.Country.AnyCountry else ""
    return name or code


class CountryPicker(QComboBox):
    """Every country whose phone numbers can be read, by name: "Croatia (+385)", never a guess."""

    def __init__(self, code: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        entries = sorted(
            (
                (
                    country_name(region),
                    region,
                    phonenumbers.country_code_for_region(region),
                )
                for region in phone_regions()
            ),
            key=lambda e: e[0].casefold(),
        )
        for name, region, calling in entries:
            self.addItem(f"{name} (+{calling})", region)
        self.setMaxVisibleItems(15)
        self.set_code(code)

    def code(self) -> str:
        return self.currentData() or ""

    def set_code(self, code: str) -> None:
        index = self.findData(code.upper())
        if index >= 0:
            self.setCurrentIndex(index)


class CompanyForm(QWidget):
    """The company profile fields, reused by the wizard and the Settings page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.fields = FieldForm(form, self)
        self.name = self.fields.add("name", self.tr("Company name"), QLineEdit())
        self.address = self.fields.add("address", self.tr("Address"), QPlainTextEdit())
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(64)
        self.vat_id = self.fields.add("vat_id", self.tr("VAT ID"), QLineEdit())
        self.bank_account = self.fields.add(
            "bank_account", self.tr("Bank account (IBAN)"), QLineEdit()
        )
        self.currency = QComboBox()
        self.currency.setEditable(True)
        self.currency.addItems(CURRENCIES)
        self.fields.add("currency", self.tr("Currency"), self.currency)
        self.vat_rate = self.fields.add("vat_rate", self.tr("VAT rate (%)"), QLineEdit("25"))
        self.phone_region = self.fields.add(
            "phone_region",
            self.tr("Phone numbers from"),
            CountryPicker("HR"),
            self.tr("The country of numbers written without +"),
        )

    def set_profile(self, profile: CompanyProfile) -> None:
        self.name.setText(profile.name)
        self.address.setPlainText(profile.address)
        self.vat_id.setText(profile.vat_id)
        self.bank_account.setText(profile.bank_account)
        self.currency.setCurrentText(profile.currency)
        self.vat_rate.setText(str(profile.vat_rate))
        self.phone_region.set_code(profile.phone_region)

    def local_errors(self) -> dict[str, str]:
        """Everything the service would say, said before leaving the page (same rules)."""
        errors = {k: v for k, v in validate_profile(self.profile()).items() if k in COMPANY_FIELDS}
        if parse_decimal(self.vat_rate.text()) is None:
            errors["vat_rate"] = self.tr("Enter the VAT rate as a number, such as 25 or 13.5.")
        return errors

    def profile(self, idle_lock_minutes: int = 5) -> CompanyProfile:
        return CompanyProfile(
            name=self.name.text().strip(),
            address=self.address.toPlainText().strip(),
            vat_id=self.vat_id.text().strip(),
            bank_account=self.bank_account.text().replace(" ", "").strip(),
            currency=self.currency.currentText().strip().upper(),
            vat_rate=parse_decimal(self.vat_rate.text()) or Decimal(0),
            phone_region=self.phone_region.code(),
            idle_lock_minutes=idle_lock_minutes,
        )


class CompanyPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Your dealership"))
        self.setSubTitle(
            self.tr("These details are printed on invoices. You can change them later in Settings.")
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.form = CompanyForm()
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 6, 0)
        column.addWidget(self.form)
        column.addStretch(1)
        # Messages under every field need more room than the page has: it scrolls, never squashes.
        self.scroll = QScrollArea()
        self.scroll.setWidget(holder)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.scroll, 1)

    def validatePage(self) -> bool:
        errors = self.form.local_errors()
        self.form.fields.show_errors(errors)
        return not errors


class AdminPage(QWizardPage):
    def __init__(self, company: CompanyForm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("The first admin account"))
        self.setSubTitle(
            self.tr(
                "The admin creates the accounts of the other staff. Choose a password of at "
                "least 15 characters; a short sentence works well."
            )
        )
        self._company = company
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.fields = FieldForm(form, self)
        self.username = self.fields.add("username", self.tr("Username"), QLineEdit())
        self.full_name = self.fields.add("full_name", self.tr("Full name"), QLineEdit())
        self.passwords = PasswordFields(self._check, form, label=self.tr("Password"), parent=self)
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.passwords.changed.connect(self.completeChanged)
        self.username.textChanged.connect(self.passwords.update)

    def _check(self, password: str) -> str | None:
        return password_problem(
            password,
            username=self.username.text().strip().casefold(),
            company_name=self._company.name.text(),
        )

    def isComplete(self) -> bool:
        return self.passwords.problem() is None

    def validatePage(self) -> bool:
        errors = account_problems(self.username.text(), self.full_name.text())
        self.fields.show_errors(errors)
        return not errors


class SetupWizard(QWizard):
    """Creates the organisation and the first admin through `context.setup.initialize`."""

    completed = Signal(str)  # the admin's username

    def __init__(
        self, context: AppContext, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._tasks = tasks
        self._saving = False
        self.setWindowTitle(self.tr("Set up ALKO Desk"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(620, 560)
        self.company_page = CompanyPage()
        self.admin_page = AdminPage(self.company_page.form)
        self.addPage(self.company_page)
        self.addPage(self.admin_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, self.tr("Create"))
        intro = note(self.tr("Welcome. This database is empty: two short steps set up ALKO Desk."))
        self.company_page.layout().insertWidget(0, intro)

    def accept(self) -> None:
        if self._saving:
            return
        profile = self.company_page.form.profile()
        page = self.admin_page
        username, full_name, password = (
            page.username.text(),
            page.full_name.text(),
            page.passwords.password(),
        )
        set_error(page.error, "")
        self._set_saving(True)
        self._tasks.run(
            lambda: self._context.setup.initialize(profile, username, full_name, password),
            on_success=lambda admin: self._done(admin.username),
            on_failure=self._failed,
            on_finished=lambda: self._set_saving(False),
            parent=self,
            title=self.tr("Set up ALKO Desk"),
        )

    def _set_saving(self, saving: bool) -> None:
        self._saving = saving
        for which in (
            QWizard.WizardButton.FinishButton,
            QWizard.WizardButton.BackButton,
            QWizard.WizardButton.CancelButton,
        ):
            self.button(which).setEnabled(not saving)
        if not saving:
            self.admin_page.completeChanged.emit()

    def _done(self, username: str) -> None:
        super().accept()
        self.completed.emit(username)

    def _failed(self, exc: BaseException) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        company_errors = {k: v for k, v in exc.field_errors.items() if k in COMPANY_FIELDS}
        admin_errors = {k: v for k, v in exc.field_errors.items() if k not in COMPANY_FIELDS}
        self.company_page.form.fields.show_errors(company_errors)
        self.admin_page.fields.show_errors(
            {k: v for k, v in admin_errors.items() if k != "password"}
        )
        if admin_errors.get("password"):
            self.admin_page.passwords.show_error(admin_errors["password"])
        if company_errors:
            self.back()
            set_error(self.admin_page.error, "")
        elif not exc.field_errors or set(admin_errors) - {"username", "full_name", "password"}:
            set_error(self.admin_page.error, exc.user_text())
        return True
