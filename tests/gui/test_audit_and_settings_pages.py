"""The audit log viewer and the Settings page, against the real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt

from alko_desk.models.audit import AuditEntry, AuditFilter
from alko_desk.models.deals import ApprovalStatus, DealSettings
from alko_desk.models.users import Role
from alko_desk.ui.audit_page import PAGE_SIZE, AuditColumn, AuditModel
from tests.conftest import ADMIN_PASSWORD
from tests.test_deals import deal_draft
from tests.vehicles_data import draft as vehicle_draft
from tests.vehicles_data import register_client

pytestmark = pytest.mark.gui


def actions(page) -> list[str]:
    return [e.action for e in page.presenter.model.entries]


@pytest.fixture
def audit_page(qtbot, open_main, admin_session):
    window = open_main(admin_session)
    page = window.show_section("audit")
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() > 0, timeout=10_000)
    return page


def test_audit_model_passes_the_qt_model_tester(qtmodeltester):
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    model = AuditModel()
    model.reset(
        [
            AuditEntry(2, now, "ana", "login", "user:ana", {"session": "x"}),
            AuditEntry(1, now, "ana", "setup.completed", "organisation"),
        ],
        more=False,
    )
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    assert model.data(model.index(0, AuditColumn.ACTION)) == "login"


def test_audit_page_lists_entries_newest_first_and_filters_them(
    qtbot, audit_page, make_user, context
):
    page = audit_page
    assert actions(page)[0] == "login" and actions(page)[-1] == "setup.completed"
    make_user("sam", Role.SALES)
    page.actor.setText("sam")
    qtbot.mouseClick(page.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: actions(page) and all(e.actor == "sam" for e in page.presenter.model.entries)
    )
    assert set(actions(page)) == {"login", "password.changed"}

    page.actor.clear()
    page.action.setCurrentText("user.")
    page.target.setText("user:sam")
    page.search()
    qtbot.waitUntil(lambda: actions(page) == ["user.created"])


def test_audit_date_range_uses_whole_days(qtbot, audit_page, clock):
    page = audit_page
    page.use_until.setChecked(True)
    page.until.setDate(QDate(2026, 11, 24))  # the day before the fixed clock's today
    page.search()
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() == 0)
    page.until.setDate(QDate(2026, 11, 25))
    page.use_since.setChecked(True)
    page.since.setDate(QDate(2026, 11, 25))
    page.search()
    qtbot.waitUntil(lambda: page.presenter.model.rowCount() > 0)


def test_audit_page_loads_older_entries_a_page_at_a_time(qtbot, audit_page, context):
    for i in range(PAGE_SIZE + 30):
        context.audit_log.record("admin", "demo.entry", f"thing:{i}")
    page = audit_page
    page.search()
    model = page.presenter.model
    qtbot.waitUntil(lambda: model.rowCount() == PAGE_SIZE and model.has_more, timeout=10_000)
    assert model.canFetchMore()
    model.fetchMore()
    qtbot.waitUntil(lambda: not model.has_more, timeout=10_000)
    seqs = [e.seq for e in model.entries]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs))
    assert seqs[-1] == 1 and len(seqs) == seqs[0]  # every entry once, none skipped


def test_verify_chain_reports_an_intact_log_and_then_a_tampered_one(qtbot, audit_page, context):
    page = audit_page
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: page.report.isVisible() and page.verify_button.isEnabled(), timeout=10_000
    )
    assert "intact" in page.report.text()

    from alko_desk.storage.audit_repo import block_of, entry_id

    # edited by hand in the database, as someone covering their tracks would
    context.store.partitioned_collection("audit").update_one(
        block_of(2), entry_id(2), {"$set": {"actor": "mallory"}}
    )
    page.verify()
    qtbot.waitUntil(lambda: "tampered" in page.report.text(), timeout=10_000)
    assert "#2" in page.report.text()


def test_manager_sees_the_audit_log_sales_does_not(open_main, make_user):
    manager = open_main(make_user("maja", Role.MANAGER))
    assert "audit" in manager.section_keys()
    sales = open_main(make_user("sam", Role.SALES))
    assert "audit" not in sales.section_keys()


@pytest.fixture
def settings_page(qtbot, open_main, admin_session):
    window = open_main(admin_session)
    page = window.show_section("settings")
    qtbot.waitUntil(lambda: page.profile is not None, timeout=10_000)
    return window, page


def test_settings_page_saves_the_company_profile_and_idle_minutes(
    qtbot, settings_page, context, admin_session
):
    window, page = settings_page
    assert page.company.name.text() == "ALKO Cars d.o.o."
    page.company.name.clear()
    qtbot.keyClicks(page.company.name, "ALKO Cars Split d.o.o.")
    page.idle_minutes.setValue(12)
    with qtbot.waitSignal(window.company_changed, timeout=10_000) as changed:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert changed.args[0].idle_lock_minutes == 12
    profile = context.services_for(admin_session).settings.company()
    assert profile.name == "ALKO Cars Split d.o.o." and profile.idle_lock_minutes == 12
    entries = context.services_for(admin_session).audit.entries(
        AuditFilter(action_prefix="settings.changed")
    )
    assert entries and set(entries[0].details["fields"]) == {"name", "idle_lock_minutes"}


def test_settings_page_shows_field_errors_beside_the_fields(
    qtbot, settings_page, context, admin_session
):
    _, page = settings_page
    page.company.vat_id.clear()
    page.company.currency.setCurrentText("EURO")
    page.save()
    qtbot.waitUntil(lambda: page.company.fields.error_text("vat_id") != "", timeout=10_000)
    assert "VAT ID" in page.company.fields.error_text("vat_id")
    assert "three-letter" in page.company.fields.error_text("currency")
    assert page.company.currency.currentText() == "EURO"  # what was typed stays
    assert context.services_for(admin_session).settings.company().vat_id == "HR33392005961"


def test_settings_page_saves_the_database_uri_to_the_keyring_only(
    qtbot, settings_page, context, secrets, keyring_backend, preferences
):
    context.secrets = secrets
    _, page = settings_page
    editor = page.database
    editor.refresh_environment_note()
    qtbot.keyClicks(editor.uri, "mongodb://desk:s3cret@db.example:27017/?tls=true")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "next time" in editor.status.text(), timeout=10_000)
    assert ("ALKO Desk", "mongodb-uri") in keyring_backend.values
    qtbot.mouseClick(editor.embedded_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: ("ALKO Desk", "mongodb-uri") not in keyring_backend.values, timeout=10_000
    )


def test_new_idle_minutes_apply_to_the_running_desk(qtbot, make_desk, context, admin_session):
    from tests.gui.helpers import log_in

    desk = make_desk(idle_timeout_ms=None)
    log_in(qtbot, desk, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: desk.main_window is not None, timeout=10_000)
    assert desk.idle.timeout_ms == 5 * 60_000
    profile = replace(context.services_for(admin_session).settings.company(), idle_lock_minutes=2)
    desk.main_window.company_changed.emit(profile)
    assert desk.idle.timeout_ms == 2 * 60_000


def test_admin_changes_the_deal_rules_on_the_settings_page_validated_and_audited(
    qtbot, settings_page, context, admin_session, make_user
):
    _, page = settings_page
    box = page.deal_settings
    qtbot.waitUntil(lambda: box.loaded is not None, timeout=10_000)
    assert box.reservation_days.value() == 7 and box.approval_percent.text() == "5"

    box.approval_percent.setText("pet")  # not a number: said beside the field, nothing saved
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    assert "percentage" in box.fields.error_text("approval_discount_percent")
    box.approval_percent.setText("120")  # the service's range
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: box.fields.error_text("approval_discount_percent") == "Between 0 and 100 %.",
        timeout=10_000,
    )
    assert context.deals_repo.settings() == DealSettings()

    box.reservation_days.setValue(10)
    box.approval_percent.setText("7,5")
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.status.text() == "Saved.", timeout=10_000)
    assert box.fields.error_text("approval_discount_percent") == ""
    assert context.deals_repo.settings() == DealSettings(10, Decimal("7.5"))
    entries = context.audit_log.query(AuditFilter(action_prefix="settings.deals_changed"))
    assert [(e.actor, e.details["reservation_days"], e.details["before"]) for e in entries] == [
        ("admin", 10, {"reservation_days": 7, "approval_discount_percent": "5"})
    ]
    # the new threshold is what deals follow: 7 % no longer needs a manager
    sales = context.services_for(make_user("sam", Role.SALES))
    register_client(sales, "C-1")
    car = sales.vehicles.add(vehicle_draft(1))
    deal = sales.deals.create(deal_draft(car.id, "7", trade_in=None, financing=None))
    assert deal.approval.status is ApprovalStatus.NOT_NEEDED
    assert deal.reserved_until == context.clock.now() + timedelta(days=10)


def test_admin_sets_the_invoice_series_terms_bank_and_logo_on_the_settings_page(
    qtbot, settings_page, context, admin_session, make_user, tmp_path
):
    from PIL import Image

    from alko_desk.models.invoices import InvoiceSettings
    from tests.invoice_data import CROATIAN, car_line

    _, page = settings_page
    box = page.invoice_settings
    qtbot.waitUntil(lambda: box.loaded is not None, timeout=10_000)
    assert box.invoice_series.text() == "ALKO-{year}" and box.payment_terms_days.value() == 8
    box.credit_note_series.setText("ALKO-{year}")  # the invoices' own: refused beside the field
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(box.fields.error_text("credit_note_series")), timeout=10_000)
    assert context.services_for(admin_session).invoices.settings() == InvoiceSettings()

    logo = tmp_path / "logo.png"
    Image.new("RGB", (40, 20), "navy").save(logo)
    box.invoice_series.setText("SPLIT-{year}")
    box.credit_note_series.setText("SPLIT-CN-{year}")
    box.payment_terms_days.setValue(15)
    box.bic.setText("zabahr2x")
    box.bank_name.setText("Zagrebačka banka")
    box.logo_path.setText(str(logo))
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.status.text() == "Saved.", timeout=10_000)
    qtbot.waitUntil(lambda: box.bic.text() == "ZABAHR2X", timeout=10_000)
    finance = context.services_for(make_user("fiona", Role.FINANCE)).invoices
    invoice = finance.issue(finance.new_draft(CROATIAN, [car_line()], date(2026, 11, 24)))
    assert invoice.number == "SPLIT-2026-000001"
    assert invoice.draft.bank.bic == "ZABAHR2X" and invoice.draft.payment_terms_days == 15
