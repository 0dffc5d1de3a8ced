"""Deals against the real database: reservation, approval, invoicing, delivery, cancel."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.deals import (
    ApprovalStatus,
    BusinessBuyer,
    DealDraft,
    DealFilter,
    DealSettings,
    DealState,
    DeliverySchedule,
    Discount,
    DiscountKind,
    Financing,
    HandoverChecklist,
    TradeIn,
    VatScheme,
)
from alko_desk.models.errors import ConcurrentModification, PermissionDenied, ValidationError
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleStatus
from alko_desk.services.deals import ReservationRefused
from tests.vehicles_data import draft, register_client


@pytest.fixture
def desk(context, make_user):
    sam = context.services_for(make_user("sam", Role.SALES))
    register_client(sam, "C-1")
    return sam


@pytest.fixture
def manager(context, make_user):
    return context.services_for(make_user("mia", Role.MANAGER))


@pytest.fixture
def finance(context, make_user):
    return context.services_for(make_user("fin", Role.FINANCE))


def deal_draft(vehicle_id: str, percent: str = "0", **changes) -> DealDraft:
    base = {
        "client_id": "C-1",
        "vehicle_id": vehicle_id,
        "discounts": (Discount(DiscountKind.PERCENT, Decimal(percent)),),
        "trade_in": TradeIn("WVWZZZ1JZXW000001", "VW Golf", 180000, Money.of(4000), Money.of(1000)),
        "deposit": Money.of(1000),
        "financing": Financing("Erste", Money.of(10000), 48, Decimal("5.9")),
    }
    base.update(changes)
    return DealDraft(**base)


def test_saving_a_deal_reserves_the_vehicle_and_its_figures_come_from_the_document(context, desk):
    vehicle = desk.vehicles.add(draft(1, price="25000"))
    deal = desk.deals.create(deal_draft(vehicle.id, "2"))
    assert deal.state is DealState.RESERVED
    assert deal.approval.status is ApprovalStatus.NOT_NEEDED
    held = desk.vehicles.get(vehicle.id)
    assert (held.status, held.reserved_by) == (VehicleStatus.RESERVED, deal.id)
    assert held.reserved_until == context.clock.now() + timedelta(days=7)
    stored = desk.deals.get(deal.id)
    assert stored.figures == deal.figures
    assert stored.figures.balance_due == Money.of("25000") - Money.of(500) - Money.of(
        3000
    ) - Money.of(1000) - Money.of(10000)
    from alko_desk.storage.deals_repo import stored_totals

    totals = stored_totals(context.deals_repo.get_doc(deal.id))
    assert totals["balance_due"] == stored.figures.balance_due


def test_second_desk_cannot_reserve_a_reserved_vehicle(context, desk, make_user):
    other = context.services_for(make_user("sara", Role.SALES))
    vehicle = desk.vehicles.add(draft(1))
    first = desk.deals.create(deal_draft(vehicle.id))
    with pytest.raises(ReservationRefused) as err:
        other.deals.create(deal_draft(vehicle.id))
    assert first.id in err.value.message
    assert "sam" in err.value.message
    assert err.value.other_deal == first.id
    assert desk.deals.page().total == 1


def test_a_lapsed_reservation_frees_the_car(context, desk, make_user):
    other = context.services_for(make_user("sara", Role.SALES))
    vehicle = desk.vehicles.add(draft(1))
    first = desk.deals.create(deal_draft(vehicle.id))
    context.clock.advance(days=8)
    second = other.deals.create(deal_draft(vehicle.id))
    assert desk.vehicles.get(vehicle.id).reserved_by == second.id
    assert desk.deals.lapse_reservations() == 1
    assert desk.deals.get(first.id).state is DealState.DRAFT
    assert desk.vehicles.get(vehicle.id).reserved_by == second.id  # not released by the sweep


def test_a_sweep_working_from_an_old_list_does_not_free_a_car_reserved_again(context, make_user):
    """Desk A lapses a deal, the salesperson reserves it again, then desk B's sweep reaches the
    deal in the list it read before: the car stays reserved (it went back in stock)."""
    sam = context.services_for(make_user("sam", Role.SALES))
    sweeping = context.services_for(make_user("sara", Role.SALES)).deals
    register_client(sam, "C-1")
    vehicle = sam.vehicles.add(draft(1))
    deal = sam.deals.create(deal_draft(vehicle.id))
    context.clock.advance(days=8)
    stock_list = sweeping._deals.page  # desk B read its list before desk A's sweep

    old_rows = {s: stock_list(DealFilter(state=s), 0, 100) for s in DealState}
    assert sam.deals.lapse_reservations() == 1  # desk A
    again = sam.deals.reserve(sam.deals.get(deal.id))
    sweeping._deals.page = lambda flt, *_a, **_k: old_rows[flt.state]
    assert sweeping.lapse_reservations() == 0
    car = sam.vehicles.get(vehicle.id)
    assert car.status is VehicleStatus.RESERVED and car.reserved_by == deal.id
    assert sam.deals.get(deal.id).state is again.state is DealState.RESERVED


def test_reservation_days_and_threshold_come_from_settings(context, admin_session, desk):
    admin = context.services_for(admin_session)
    admin.deals.update_settings(
        DealSettings(reservation_days=2, approval_discount_percent=Decimal(3))
    )
    with pytest.raises(PermissionDenied):
        desk.deals.update_settings(DealSettings())
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id, "4"))
    assert deal.approval.status is ApprovalStatus.PENDING
    context.clock.advance(days=2, seconds=1)
    assert desk.deals.lapse_reservations() == 1
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK


def test_discount_above_threshold_needs_a_manager_and_both_decisions_are_audited(
    context, desk, manager, finance
):
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id, "8"))
    assert deal.approval.status is ApprovalStatus.PENDING
    with pytest.raises(ValidationError, match="approval"):
        finance.deals.mark_invoiced(deal, "2026-1-1")
    with pytest.raises(PermissionDenied):
        desk.deals.approve(deal, "fine")
    assert [d.id for d in manager.deals.pending_approvals()] == [deal.id]
    rejected = manager.deals.reject(deal, "8 % is too much for a new Accord")
    assert rejected.approval.status is ApprovalStatus.REJECTED
    lowered = desk.deals.update(rejected, deal_draft(vehicle.id, "6"))
    assert lowered.approval.status is ApprovalStatus.PENDING
    approved = manager.deals.approve(lowered, "end of quarter")
    assert approved.state is DealState.APPROVED
    actions = [e.action for e in context.audit_log.query(AuditFilter(action_prefix="deal."))]
    assert "deal.rejected" in actions and "deal.approved" in actions
    with pytest.raises(ConcurrentModification):
        desk.deals.update(lowered, deal_draft(vehicle.id, "6"))


def test_an_approved_discount_stays_approved_when_other_terms_change_but_not_when_it_grows(
    desk, manager
):
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id, "8"))
    approved = manager.deals.approve(deal, "end of quarter")
    more_down = desk.deals.update(approved, deal_draft(vehicle.id, "8", deposit=Money.of(3000)))
    assert more_down.state is DealState.APPROVED
    assert more_down.approval.reason == "end of quarter"
    smaller = desk.deals.update(more_down, deal_draft(vehicle.id, "7"))
    assert smaller.state is DealState.APPROVED
    larger = desk.deals.update(smaller, deal_draft(vehicle.id, "9"))
    assert larger.state is DealState.RESERVED
    assert larger.approval.status is ApprovalStatus.PENDING
    within = desk.deals.update(larger, deal_draft(vehicle.id, "4"))  # under the threshold
    assert within.approval.status is ApprovalStatus.NOT_NEEDED
    assert desk.deals.ready_to_invoice(within)


def test_invoice_handover_and_delivery(context, desk, finance):
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id))
    tomorrow = context.clock.now().date().replace(day=26)
    deal = desk.deals.schedule_delivery(
        deal, DeliverySchedule(tomorrow, time(10, 30), "Zagreb showroom", "sam")
    )
    assert [d.id for d in desk.deals.upcoming_deliveries(context.clock.now().date())] == [deal.id]
    with pytest.raises(ValidationError):
        desk.deals.mark_delivered(deal)
    invoiced = finance.deals.mark_invoiced(deal, "1-1-1")
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.SOLD
    with pytest.raises(ValidationError, match="credit note"):
        desk.deals.cancel(invoiced, "changed mind")
    half = desk.deals.record_handover(invoiced, HandoverChecklist(documents=True, keys=2))
    with pytest.raises(ValidationError, match="plates"):
        desk.deals.mark_delivered(half)
    done = desk.deals.record_handover(
        half,
        HandoverChecklist(
            documents=True, keys=2, plates=True, fuel_level_percent=50, mileage_km=12
        ),
    )
    delivered = desk.deals.mark_delivered(done)
    assert delivered.state is DealState.DELIVERED
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.DELIVERED
    # the same VIN may come back in stock (a later trade-in)
    again = desk.vehicles.add(draft(1))
    assert again.id != vehicle.id


def test_cancel_releases_the_vehicle(desk):
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id))
    with pytest.raises(ValidationError):
        desk.deals.cancel(deal, " ")
    cancelled = desk.deals.cancel(deal, "client withdrew")
    assert cancelled.state is DealState.CANCELLED
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK
    assert desk.deals.page(DealFilter(state=DealState.CANCELLED)).total == 1
    assert desk.deals.create(deal_draft(vehicle.id)).state is DealState.RESERVED


def test_a_deal_that_overpays_is_refused_with_the_reason(desk):
    vehicle = desk.vehicles.add(draft(1, price="5000"))
    with pytest.raises(ValidationError) as err:
        desk.deals.create(deal_draft(vehicle.id))
    assert "more than the price" in err.value.field_errors["figures"]
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK


def test_a_draft_reserves_later_and_finance_cannot_write_deals(desk, finance):
    vehicle = desk.vehicles.add(draft(1))
    drafted = desk.deals.create(deal_draft(vehicle.id), reserve=False)
    assert drafted.state is DealState.DRAFT
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK
    reserved = desk.deals.reserve(drafted)
    assert reserved.state is DealState.RESERVED
    assert finance.deals.get(reserved.id).state is DealState.RESERVED
    with pytest.raises(PermissionDenied):
        finance.deals.create(deal_draft(vehicle.id))
    assert reserved.rev == desk.deals.get(reserved.id).rev


def test_handover_certificate_prints_diacritics_and_cyrillic(context, desk, finance):
    import io

    from pypdf import PdfReader

    vehicle = desk.vehicles.add(draft(1, make="Škoda", model="Octavia", colour="Сива"))
    deal = desk.deals.create(deal_draft(vehicle.id))
    deal = desk.deals.schedule_delivery(
        deal, DeliverySchedule(date(2026, 11, 27), time(10, 30), "Zagreb, Ilica 1", "sam")
    )
    deal = finance.deals.mark_invoiced(deal, "17-1-1")
    with pytest.raises(ValidationError):
        desk.deals.handover_certificate(
            desk.deals.cancel(desk.deals.create(deal_draft(desk.vehicles.add(draft(2)).id)), "x"),
            "x",
        )
    deal = desk.deals.record_handover(
        deal,
        HandoverChecklist(True, 2, True, 75, 12, damage_notes="Ogrebotina na braniku — čšžćđ"),
    )
    pdf = desk.deals.handover_certificate(deal, "Željko Kovačević / Пётр Иванов")
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    for expected in (
        "Željko Kovačević / Пётр Иванов",
        "Škoda Octavia",
        vehicle.vin,
        "Сива",
        "Ogrebotina na braniku — čšžćđ",
        "17-1-1",
        "27.11.2026 10:30",
    ):
        assert expected in text
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert any("DejaVuSans" in str(f.get_object()["/BaseFont"]) for f in fonts.values())
    assert any(
        e.action == "deal.certificate_printed"
        for e in context.audit_log.query(AuditFilter(action_prefix="deal."))
    )


def test_a_deal_for_a_client_who_does_not_exist_is_refused(desk):
    vehicle = desk.vehicles.add(draft(1))
    with pytest.raises(ValidationError) as err:
        desk.deals.create(deal_draft(vehicle.id, client_id="C-404"))
    assert "no client C-404" in err.value.message
    assert err.value.field_errors == {"client": "No such client."}
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK  # nothing reserved
    assert desk.deals.page().total == 0


def test_a_restricted_client_cannot_buy_and_a_deal_cannot_move_to_one(context, desk):
    from dataclasses import replace as with_

    register_client(desk, "C-2", 2)
    vehicle = desk.vehicles.add(draft(1))
    deal = desk.deals.create(deal_draft(vehicle.id))
    record = context.clients_repo.get("C-2")  # restricted (GDPR Art. 18) by the record's status
    assert context.clients_repo.update_if_version(
        with_(record, status="restricted"), record.version
    )
    with pytest.raises(ValidationError) as err:
        desk.deals.update(deal, deal_draft(vehicle.id, client_id="C-2"))
    assert "restricted" in err.value.message and "Željko Kovačević" in err.value.message
    with pytest.raises(ValidationError):
        desk.deals.update(deal, deal_draft(vehicle.id, client_id="C-404"))
    other = desk.vehicles.add(draft(2))
    with pytest.raises(ValidationError):
        desk.deals.create(deal_draft(other.id, client_id="C-2"))
    assert desk.deals.get(deal.id).client_id == "C-1"
    # the same client stays on an open deal's own edits
    assert desk.deals.update(deal, deal_draft(vehicle.id, "1")).client_id == "C-1"


def test_a_deal_without_a_vehicle_is_refused_saying_to_choose_one(desk):
    desk.vehicles.add(draft(1))
    with pytest.raises(ValidationError) as err:
        desk.deals.create(deal_draft(""))
    assert err.value.field_errors["vehicle"] == "Choose the vehicle."
    assert "no longer exists" not in err.value.message
    assert desk.deals.page().total == 0


def test_a_mistyped_trade_in_vin_or_a_negative_deposit_is_refused_saying_which(desk):
    vehicle = desk.vehicles.add(draft(21))
    bad_vin = TradeIn("WVWZZZ1JZXWOOO001", "VW Golf", 180000, Money.of(4000), Money.of(0))
    with pytest.raises(ValidationError) as err:
        desk.deals.create(deal_draft(vehicle.id, trade_in=bad_vin))
    assert "trade-in's VIN" in err.value.field_errors["trade_in.vin"]
    assert "O" in err.value.field_errors["trade_in.vin"]
    with pytest.raises(ValidationError) as err:
        desk.deals.create(deal_draft(vehicle.id, deposit=Money.of(-1000)))
    assert "deposit cannot be negative" in err.value.field_errors["figures"]
    assert desk.vehicles.get(vehicle.id).status is VehicleStatus.IN_STOCK  # nothing reserved
    european = TradeIn("WVWZZZ1JZXW000001", "VW Golf", 180000, Money.of(4000), Money.of(0))
    saved = desk.deals.create(deal_draft(vehicle.id, trade_in=european))
    assert saved.terms.trade_in == european  # a European VIN without a check digit is accepted


def test_a_business_buyer_added_to_a_deal_and_removed_again_changes_its_vat(desk, context):
    vehicle = desk.vehicles.add(draft(1, price="30000"))
    private = desk.deals.create(deal_draft(vehicle.id))
    company = BusinessBuyer("Autohaus Müller GmbH", "DE136695976")
    to_company = desk.deals.update(private, deal_draft(vehicle.id, business_buyer=company))
    assert to_company.figures.scheme is VatScheme.INTRA_COMMUNITY
    assert to_company.terms.seller_country == "HR"  # the dealer's, from Settings
    stored = context.deals_repo.get_doc(private.id)["terms"]
    assert stored["business_buyer"]["vat_id"] == "DE136695976"
    assert context.deals_repo.get(private.id).figures == to_company.figures
    back = desk.deals.update(to_company, deal_draft(vehicle.id))
    assert back.figures == private.figures and back.terms == private.terms
    assert "business_buyer" not in context.deals_repo.get_doc(private.id)["terms"]
