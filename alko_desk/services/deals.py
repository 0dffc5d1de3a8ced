"""Deals: build, reserve the car, approve, invoice, deliver; or cancel.

Reserving is a compare-and-set on the vehicle document alone (`rev`), so two desks saving a
deal for the same car at the same moment get one success and one refusal that names the
other deal. A deal's writes touch two documents (the vehicle, then the deal); the vehicle is
always written first and undone if the deal cannot be written.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from alko_desk.models.changes import ChangeKind
from alko_desk.models.clients import ClientStatus
from alko_desk.models.deals import (
    Approval,
    ApprovalStatus,
    Deal,
    DealDraft,
    DealFigures,
    DealFilter,
    DealSettings,
    DealSort,
    DealState,
    DealTerms,
    DeliverySchedule,
    HandoverChecklist,
)
from alko_desk.models.errors import (
    AlkoError,
    ConcurrentModification,
    KeysNotGranted,
    NotFound,
    PermissionDenied,
    UnreadableRecord,
    ValidationError,
)
from alko_desk.models.listing import Page, PageRequest, Progress
from alko_desk.models.users import Permission, Session
from alko_desk.models.vehicles import Vehicle, VehicleStatus
from alko_desk.services.audit import AuditLog
from alko_desk.services.base import SessionService, between_services
from alko_desk.services.business_buyer import business_buyer_problems, company_country
from alko_desk.services.changes import ChangeLog
from alko_desk.services.clock import Clock
from alko_desk.services.deal_calc import compute
from alko_desk.services.intents import IntentLog
from alko_desk.services.vin import check_vin
from alko_desk.storage.clients_repo import ClientRepository
from alko_desk.storage.deals_repo import DealRepository
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.vehicles_repo import VehicleRepository

ORPHAN_GRACE = timedelta(minutes=2)  # a reservation whose deal never got written
log = logging.getLogger(__name__)


class Customers(Protocol):
    """What deals tell the clients' side (ClientService): a client's deal was invoiced."""

    def record_purchase(self, client_id: str, deal_id: str) -> object: ...


class ReservationRefused(AlkoError):
    """The vehicle is held by another deal (named in the message) or already sold."""

    def __init__(self, message: str, other_deal: str = "") -> None:
        super().__init__(message)
        self.other_deal = other_deal


DEALS = "deals"  # entities in change announcements
VEHICLES = "vehicles"


def new_deal_id(now: datetime) -> str:
    return f"D-{now:%y%m}-{secrets.token_hex(3).upper()}"


def terms_for(
    vehicle: Vehicle, draft: DealDraft, vat_rate, currency: str, seller_country: str = ""
) -> DealTerms:
    """The deal's terms: the vehicle's prices copied in, so the deal stands on its own.
    `seller_country` (the dealer's, from Settings) is kept only with a business buyer."""
    d = vehicle.draft
    return DealTerms(
        currency=currency,
        list_price=d.list_price,
        vat_rate=vat_rate,
        condition=d.condition,
        purchase_cost=d.purchase_cost,
        acquired_without_vat=d.acquired_without_vat,
        prefer_standard_vat=draft.prefer_standard_vat,
        discounts=draft.discounts,
        items=draft.items,
        trade_in=draft.trade_in,
        deposit=draft.deposit,
        financing=draft.financing,
        business_buyer=draft.business_buyer,
        seller_country=seller_country if draft.business_buyer else "",
    )


class DealService(SessionService):
    def __init__(
        self,
        deals: DealRepository,
        vehicles: VehicleRepository,
        organisation: OrganisationRepository,
        audit: AuditLog,
        clock: Clock,
        session: Session,
        changes: ChangeLog | None = None,
        intents: IntentLog | None = None,
        clients: ClientRepository | None = None,
        customers: Customers | None = None,
    ) -> None:
        super().__init__(session, audit, clock)
        self._clients = clients  # the buyer must exist and may be sold to (_check_client)
        self._customers = customers  # a buyer becomes a customer when invoiced (_client_bought)
        self._deals = deals
        self._vehicles = vehicles
        self._org = organisation
        self._changes = changes
        self._intents = intents
        if intents is not None:
            intents.register("deals.create", self._recover_create)
            intents.register("deals.create_many", self._recover_create_many)

    def _announce(self, entity: str, *ids: str, kind: ChangeKind = ChangeKind.UPDATED) -> None:
        """Tells open screens what changed (services/changes.py)."""
        if self._changes is not None:
            self._changes.announce(entity, kind, ids)

    # ------------------------------------------------------------------ settings

    def settings(self) -> DealSettings:
        return self._deals.settings()

    def update_settings(self, settings: DealSettings) -> None:
        self._require(Permission.SETTINGS_ADMIN, "change deal settings", "deal_settings")
        self._require_recent_password()
        errors = {}
        if not 1 <= settings.reservation_days <= 90:
            errors["reservation_days"] = "Between 1 and 90 days."
        percent = settings.approval_discount_percent
        if not percent.is_finite() or not 0 <= percent <= 100:
            errors["approval_discount_percent"] = "Between 0 and 100 %."
        elif percent != percent.quantize(Decimal("0.01")):
            errors["approval_discount_percent"] = "At most two decimals, such as 7.25 %."
        if errors:
            raise ValidationError("Please correct the highlighted fields.", errors)
        before = self._deals.settings()
        self._deals.save_settings(settings)
        self._audit.record(  # old and new values: rules, not personal data
            self.actor,
            "settings.deals_changed",
            "deal_settings",
            {
                "reservation_days": settings.reservation_days,
                "approval_discount_percent": str(percent),
                "before": {
                    "reservation_days": before.reservation_days,
                    "approval_discount_percent": str(before.approval_discount_percent),
                },
            },
        )

    # ------------------------------------------------------------------ the builder

    def _vat_and_currency(self):
        profile = self._org.profile()
        if profile is None:
            return 25, "EUR"
        return profile.vat_rate, profile.currency

    def _seller_country(self, draft: DealDraft | None = None) -> str:
        """The dealer's country, read only when the deal has a business buyer (`draft`)."""
        if draft is not None and draft.business_buyer is None:
            return ""
        return company_country(self._org.profile())

    def preview(self, vehicle: Vehicle, draft: DealDraft) -> DealFigures:
        """The figures as the builder shows them while the user types (no database access
        beyond the cached Settings: pure arithmetic)."""
        vat, currency = self._vat_and_currency()
        return compute(terms_for(vehicle, draft, vat, currency, self._seller_country(draft)))

    @staticmethod
    def _missing_choices(draft: DealDraft) -> dict[str, str]:
        errors = {}
        if not draft.client_id:
            errors["client"] = "Choose the client."
        if not draft.vehicle_id:
            errors["vehicle"] = "Choose the vehicle."
        return errors

    def _validate(self, draft: DealDraft, figures: DealFigures) -> None:
        errors = self._missing_choices(draft)
        if figures.problems:
            errors["figures"] = " ".join(figures.problems)
        if draft.business_buyer is not None:
            errors.update(business_buyer_problems(draft.business_buyer))
        if draft.trade_in is not None:
            # The car the dealer takes in and resells (and whose VIN the invoice names): a
            # mistyped VIN is refused as for stock; one without a check digit is accepted.
            report = check_vin(draft.trade_in.vin, current_year=self._clock.now().year)
            if not report.accepted:
                errors["trade_in.vin"] = f"The trade-in's VIN: {report.reason}"
        if errors:
            raise ValidationError("The deal cannot be saved yet.", errors)

    def _check_client(self, client_id: str) -> None:
        """The buyer is a registered client whose data may be used for a sale.

        Read from the client's record by `_id` (status and names are stored in clear): no
        personal data is decrypted, so it is not a client read in the audit log."""
        if self._clients is None or not client_id:
            return
        record = self._clients.get(client_id)
        if record is None:
            raise ValidationError(
                f"There is no client {client_id}: it may have been removed. Choose the "
                "client again.",
                {"client": "No such client."},
            )
        if record.status == ClientStatus.RESTRICTED.value:
            name = f"{record.first_name} {record.last_name}".strip() or client_id
            raise ValidationError(
                f"{name}'s data is restricted: no deal can be made with this client until a "
                "manager lifts the restriction.",
                {"client": "This client is restricted."},
            )

    def _approval_for(
        self,
        figures: DealFigures,
        previous: Approval | None = None,
        settings: DealSettings | None = None,
    ) -> Approval:
        threshold = (settings or self._deals.settings()).approval_discount_percent
        if figures.discount_percent <= threshold:
            return Approval(ApprovalStatus.NOT_NEEDED)
        return Approval(ApprovalStatus.PENDING)

    def create(self, draft: DealDraft, *, reserve: bool = True) -> Deal:
        """Saves a new deal; with `reserve` (the default) it reserves the vehicle at once."""
        self._require(Permission.DEAL_WRITE, "create deals")
        if not draft.vehicle_id:  # said as such, not as "this vehicle no longer exists"
            raise ValidationError("The deal cannot be saved yet.", self._missing_choices(draft))
        vehicle = self._vehicle(draft.vehicle_id)
        vat, currency = self._vat_and_currency()
        terms = terms_for(vehicle, draft, vat, currency, self._seller_country(draft))
        figures = compute(terms)
        self._validate(draft, figures)
        self._check_client(draft.client_id)
        settings = self._deals.settings()  # read once: approval threshold, reservation days
        now = self._clock.now()
        deal = self._new_deal(
            draft,
            vehicle,
            terms,
            figures,
            settings,
            now,
            state=DealState.DRAFT,
            history=((now, self.actor, "created"),),
        )
        intent = (
            self._intents.begin("deals.create", deal.id, deal_id=deal.id, vehicle_id=vehicle.id)
            if self._intents is not None and reserve
            else None
        )
        if reserve:
            try:
                held = self._reserve_vehicle(deal.id, vehicle.id, settings.reservation_days)
            except BaseException:
                if intent is not None:  # nothing was reserved: nothing to recover
                    self._intents.done(intent)
                raise
            deal = replace(
                deal,
                state=DealState.RESERVED,
                reserved_until=held.reserved_until,
                history=deal.history + ((now, self.actor, "vehicle reserved"),),
            )
        try:
            self._deals.insert(deal)
        except BaseException:
            try:
                if reserve:
                    self._release_vehicle(deal.id, vehicle.id)
                if intent is not None:
                    self._intents.done(intent)
            finally:  # the release failed too: left for recovery
                if intent is not None:
                    self._intents.abandon(intent)
            raise
        if intent is not None:
            self._intents.done(intent)
        self._announce(DEALS, deal.id, kind=ChangeKind.ADDED)
        self._audit.record(
            self.actor,
            "deal.created",
            f"deal:{deal.id}",
            {
                "vehicle": vehicle.id,
                "client": draft.client_id,
                "state": deal.state.value,
                "approval": deal.approval.status.value,
            },
        )
        return deal

    def _new_deal(
        self,
        draft: DealDraft,
        vehicle: Vehicle,
        terms,
        figures: DealFigures,
        settings: DealSettings,
        at: datetime,
        **state,
    ) -> Deal:
        """A new deal of `draft` for `vehicle`, made at `at`; `state`: its state, history
        and, if reserved, until when."""
        return Deal(
            id=new_deal_id(at),
            client_id=draft.client_id,
            vehicle_id=vehicle.id,
            vehicle_vin=vehicle.vin,
            vehicle_title=vehicle.title,
            terms=terms,
            figures=figures,
            salesperson=self.actor,
            created_at=at,
            updated_at=at,
            approval=self._approval_for(figures, settings=settings),
            notes=draft.notes,
            **state,
        )

    @between_services  # demo data on this computer: a desk creates deals one by one, as of now
    def create_many(
        self,
        items: Sequence[tuple[DealDraft, datetime | None]],
        progress: Progress | None = None,
    ) -> list[Deal]:
        """Saves many new deals, each reserving its vehicle (demo data, imports of open
        deals), with the checks of `create`; a draft whose car is taken or whose figures do
        not add up is left out. `created_at` (None: now) backdates a deal made elsewhere;
        never before its car arrived nor after now, and its reservation runs from it.

        Vehicles are reserved and deals stored one by one, then both lists are written at
        once (a bulk load each) instead of two list commits per deal. The batch's intent
        stays open until they are listed: a crash in between is completed at the next start
        (stored deals listed, cars whose deal was never stored released)."""
        self._require(Permission.DEAL_WRITE, "create deals")
        settings = self._deals.settings()
        vat, currency = self._vat_and_currency()
        seller_country = self._seller_country()
        now = self._clock.now()
        planned: list[tuple[Deal, Vehicle]] = []
        for draft, created in items:
            vehicle = self._vehicles.get(draft.vehicle_id)
            if vehicle is None or vehicle.status is not VehicleStatus.IN_STOCK:
                continue
            terms = terms_for(vehicle, draft, vat, currency, seller_country)
            figures = compute(terms)
            try:
                self._validate(draft, figures)
                self._check_client(draft.client_id)
            except ValidationError:
                continue
            at = min(max(created or now, vehicle.added_at), now)
            deal = self._new_deal(
                draft,
                vehicle,
                terms,
                figures,
                settings,
                at,
                state=DealState.RESERVED,
                reserved_until=at + timedelta(days=settings.reservation_days),
                history=((at, self.actor, "created"), (at, self.actor, "vehicle reserved")),
            )
            planned.append((deal, vehicle))
        if not planned:
            return []
        batch = "B-" + secrets.token_hex(6).upper()
        intent = None
        if self._intents is not None:  # two lists side by side: FerretDB has no nested arrays
            intent = self._intents.begin(
                "deals.create_many",
                batch,
                deal_ids=[d.id for d, _ in planned],
                vehicle_ids=[v.id for _, v in planned],
            )
        try:
            made, held = self._reserve_batch(planned, intent, progress)
            self._deals.insert_many(made)
            self._vehicles.list_many(held)
            for deal in made:  # before the intent closes: a crash here is audited by the recovery
                self._audit_batch_deal(deal, self.actor)
        except BaseException:
            if intent is not None:
                self._intents.abandon(intent)  # left for recovery
            raise
        if intent is not None:
            self._intents.done(intent)
        if made:
            self._announce(VEHICLES, kind=ChangeKind.MANY)
            self._announce(DEALS, kind=ChangeKind.MANY)
        if progress:
            progress.report(len(planned), len(planned), "Saving deals")
        return made

    def _reserve_batch(
        self, planned: list[tuple[Deal, Vehicle]], intent: str | None, progress: Progress | None
    ) -> tuple[list[Deal], list[Vehicle]]:
        """Reserves each planned deal's car; returns the deals whose car it got, and those cars."""
        made: list[Deal] = []
        held: list[Vehicle] = []
        for n, (deal, vehicle) in enumerate(planned):
            reserved = replace(
                vehicle,
                status=VehicleStatus.RESERVED,
                reserved_by=deal.id,
                reserved_until=deal.reserved_until,
                # now, not the (back-dated) deal's date: until the deals are written at the
                # end, another desk must not take these reservations for orphans
                updated_at=self._clock.now(),
                rev=vehicle.rev + 1,
            )
            if self._vehicles.replace_if(reserved, vehicle.rev, listed=False):
                held.append(reserved)
                made.append(deal)
            if n % 100 == 99 and intent is not None:
                self._intents.renew(intent)  # still at work: recovery leaves the batch to us
            if progress and n % 100 == 0:
                progress.report(n, len(planned), "Saving deals")
        if intent is not None:
            self._intents.renew(intent)
        return made, held

    def _audit_batch_deal(self, deal: Deal, actor: str, recovered: bool = False) -> None:
        details = {
            "vehicle": deal.vehicle_id,
            "client": deal.client_id,
            "state": deal.state.value,
            "approval": deal.approval.status.value,
            "created_at": deal.created_at.isoformat(),  # a batch may be dated in the past
        }
        if recovered:
            details["recovered"] = True
        self._audit.record(actor, "deal.created", f"deal:{deal.id}", details)

    def _recover_create_many(self, intent) -> None:
        """A batch of deals a crash interrupted: the stored deals and their cars are listed,
        a car whose deal was never stored goes back to stock."""
        deals, held = [], []
        pairs = zip(
            intent.data.get("deal_ids", []), intent.data.get("vehicle_ids", []), strict=True
        )
        for deal_id, vehicle_id in pairs:
            deal = self._deals.get(deal_id)
            if deal is None:
                self._release_vehicle(deal_id, vehicle_id)
                continue
            deals.append(deal)
            self._audit_batch_deal(deal, "system", recovered=True)
            vehicle = self._vehicles.get(vehicle_id)
            if vehicle is not None:
                held.append(vehicle)
        self._deals.list_many(deals)
        self._vehicles.list_many(held)
        self._announce(VEHICLES, kind=ChangeKind.MANY)
        self._announce(DEALS, kind=ChangeKind.MANY)

    def update(self, base: Deal, draft: DealDraft) -> Deal:
        """New terms for an open deal; a changed discount may need approval again."""
        self._require(Permission.DEAL_WRITE, "change deals", f"deal:{base.id}")
        if base.state not in (DealState.DRAFT, DealState.RESERVED, DealState.APPROVED):
            raise ValidationError(f"A deal that is {base.state.label.lower()} cannot be changed.")
        if draft.vehicle_id != base.vehicle_id:
            raise ValidationError(
                "The vehicle of a deal cannot change; cancel it and start a new deal."
            )
        vehicle = self._vehicle(base.vehicle_id)
        # the vehicle's price when the deal was made stays; the rest comes from the draft
        # so is the dealer's country, once a business buyer has made it part of the terms
        seller_country = base.terms.seller_country or self._seller_country(draft)
        terms = replace(
            terms_for(vehicle, draft, base.terms.vat_rate, base.terms.currency, seller_country),
            list_price=base.terms.list_price,
            purchase_cost=base.terms.purchase_cost,
        )
        figures = compute(terms)
        self._validate(draft, figures)
        if draft.client_id != base.client_id:
            self._check_client(draft.client_id)
        now = self._clock.now()
        approval = base.approval
        state = base.state
        if terms != base.terms:
            approval = self._approval_for(figures)
            # The manager approved the discount: a new deposit or accessory does not ask them
            # again, nor does a smaller discount; a larger one does.
            kept = (
                base.approval.status is ApprovalStatus.APPROVED
                and approval.status is ApprovalStatus.PENDING
                and terms.list_price == base.terms.list_price
                and figures.discount_total <= base.figures.discount_total
            )
            if kept:
                approval = base.approval
            elif state is DealState.APPROVED:
                state = DealState.RESERVED
        updated = replace(
            base,
            client_id=draft.client_id,
            terms=terms,
            figures=figures,
            approval=approval,
            state=state,
            notes=draft.notes,
            updated_at=now,
            history=base.history + ((now, self.actor, "terms changed"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor,
            "deal.updated",
            f"deal:{base.id}",
            {"approval": approval.status.value, "state": state.value},
        )
        return updated

    def reserve(self, base: Deal) -> Deal:
        self._require(Permission.DEAL_WRITE, "reserve vehicles", f"deal:{base.id}")
        if base.state is not DealState.DRAFT:
            raise ValidationError(f"A deal that is {base.state.label.lower()} is not a draft.")
        held = self._reserve_vehicle(base.id, base.vehicle_id)
        now = self._clock.now()
        updated = replace(
            base,
            state=DealState.RESERVED,
            reserved_until=held.reserved_until,
            updated_at=now,
            history=base.history + ((now, self.actor, "vehicle reserved"),),
        )
        try:
            updated = self._save(updated, base.rev)
        except BaseException:
            self._release_vehicle(base.id, base.vehicle_id)
            raise
        self._audit.record(
            self.actor, "deal.reserved", f"deal:{base.id}", {"vehicle": base.vehicle_id}
        )
        return updated

    # ------------------------------------------------------------------ approval

    def pending_approvals(self) -> list[Deal]:
        self._require(Permission.DEAL_READ, "see deals")
        return list(self._deals.page(DealFilter(pending_approval=True), 0, 10_000).rows)

    def approve(self, base: Deal, reason: str = "") -> Deal:
        return self._decide(base, True, reason)

    def reject(self, base: Deal, reason: str) -> Deal:
        if not reason.strip():
            raise ValidationError("Say why the deal is rejected.", {"reason": "Enter a reason."})
        return self._decide(base, False, reason)

    def _decide(self, base: Deal, approve: bool, reason: str) -> Deal:
        verb = "approve" if approve else "reject"
        self._require(Permission.DEAL_APPROVE, f"{verb} discounts", f"deal:{base.id}")
        if base.approval.status is not ApprovalStatus.PENDING:
            raise ValidationError("This deal is not waiting for an approval.")
        if base.state is not DealState.RESERVED:
            raise ValidationError("Only a deal with the vehicle reserved can be approved.")
        now = self._clock.now()
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        updated = replace(
            base,
            approval=Approval(status, self.actor, now, reason.strip()),
            state=DealState.APPROVED if approve else base.state,
            updated_at=now,
            history=base.history + ((now, self.actor, f"discount {status.value}"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor,
            f"deal.{'approved' if approve else 'rejected'}",
            f"deal:{base.id}",
            {"reason": reason.strip(), "discount_percent": str(base.figures.discount_percent)},
        )
        return updated

    # ------------------------------------------------------------------ invoice, cancel

    def ready_to_invoice(self, deal: Deal) -> bool:
        return deal.state is DealState.APPROVED or (
            deal.state is DealState.RESERVED and deal.approval.status is ApprovalStatus.NOT_NEEDED
        )

    @between_services  # only an issued invoice moves a deal to invoiced, never a desk's call
    def mark_invoiced(self, base: Deal, invoice_number: str) -> Deal:
        """Called by invoicing once the invoice exists: the vehicle becomes sold."""
        self._require(Permission.INVOICE_WRITE, "invoice deals", f"deal:{base.id}")
        if not self.ready_to_invoice(base):
            if base.needs_approval:
                raise ValidationError("The discount needs a manager's approval before invoicing.")
            raise ValidationError(f"A deal that is {base.state.label.lower()} cannot be invoiced.")
        self._client_bought(base)
        self._set_vehicle(base, VehicleStatus.SOLD)
        now = self._clock.now()
        updated = replace(
            base,
            state=DealState.INVOICED,
            invoice_number=invoice_number,
            reserved_until=None,
            updated_at=now,
            history=base.history + ((now, self.actor, f"invoiced ({invoice_number})"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor, "deal.invoiced", f"deal:{base.id}", {"invoice": invoice_number}
        )
        return updated

    @between_services  # only a credit note reopens an invoiced deal, never a desk's call
    def invoice_credited(self, base: Deal, invoice_number: str, credit_note: str) -> Deal:
        """Called by invoicing when the deal's invoice is credited in full: the deal is back to
        where it was before invoicing (the vehicle reserved for it again), so that it can be
        invoiced anew or cancelled. Idempotent."""
        self._require(Permission.INVOICE_WRITE, "credit invoiced deals", f"deal:{base.id}")
        if base.state is not DealState.INVOICED or base.invoice_number != invoice_number:
            return base  # already reopened, or delivered (a return is another matter)
        days = self._deals.settings().reservation_days
        now = self._clock.now()
        until = now + timedelta(days=days)
        for _ in range(20):
            vehicle = self._vehicle(base.vehicle_id)
            if vehicle.reserved_by != base.id or vehicle.status is VehicleStatus.RESERVED:
                break
            held = replace(
                vehicle,
                status=VehicleStatus.RESERVED,
                reserved_until=until,
                updated_at=now,
                rev=vehicle.rev + 1,
            )
            if self._vehicles.replace_if(held, vehicle.rev):
                self._announce(VEHICLES, vehicle.id)
                break
        approved = base.approval.status is ApprovalStatus.APPROVED
        updated = replace(
            base,
            state=DealState.APPROVED if approved else DealState.RESERVED,
            invoice_number="",
            reserved_until=until,
            updated_at=now,
            history=base.history
            + ((now, self.actor, f"invoice {invoice_number} credited ({credit_note})"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor,
            "deal.invoice_credited",
            f"deal:{base.id}",
            {"invoice": invoice_number, "credit_note": credit_note},
        )
        return updated

    def cancel(self, base: Deal, reason: str) -> Deal:
        self._require(Permission.DEAL_WRITE, "cancel deals", f"deal:{base.id}")
        if not reason.strip():
            raise ValidationError("Say why the deal is cancelled.", {"reason": "Enter a reason."})
        if base.state not in (DealState.DRAFT, DealState.RESERVED, DealState.APPROVED):
            hint = (
                " Cancel its invoice with a credit note first."
                if base.state is DealState.INVOICED
                else ""
            )
            raise ValidationError(
                f"A deal that is {base.state.label.lower()} cannot be cancelled.{hint}"
            )
        self._release_vehicle(base.id, base.vehicle_id)
        now = self._clock.now()
        updated = replace(
            base,
            state=DealState.CANCELLED,
            cancel_reason=reason.strip(),
            reserved_until=None,
            updated_at=now,
            history=base.history + ((now, self.actor, "cancelled"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor, "deal.cancelled", f"deal:{base.id}", {"reason": reason.strip()}
        )
        return updated

    # ------------------------------------------------------------------ delivery

    def schedule_delivery(self, base: Deal, schedule: DeliverySchedule) -> Deal:
        self._require(Permission.DEAL_WRITE, "schedule deliveries", f"deal:{base.id}")
        if not base.state.open or base.state is DealState.DRAFT:
            raise ValidationError(
                f"A deal that is {base.state.label.lower()} has no delivery to plan."
            )
        if schedule.day < self._clock.now().date():
            raise ValidationError(
                "The delivery date is in the past.", {"day": "Choose a later date."}
            )
        if not schedule.place.strip():
            raise ValidationError("Where is the car handed over?", {"place": "Enter the place."})
        now = self._clock.now()
        updated = replace(
            base,
            delivery=schedule,
            updated_at=now,
            history=base.history + ((now, self.actor, f"delivery on {schedule.day.isoformat()}"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor,
            "deal.delivery_scheduled",
            f"deal:{base.id}",
            {"day": schedule.day.isoformat(), "staff": schedule.staff},
        )
        return updated

    def upcoming_deliveries(self, start: date, days: int = 14) -> list[Deal]:
        self._require(Permission.DEAL_READ, "see deals")
        end = start + timedelta(days=days)
        rows = [
            d
            for d in self._deals.page(DealFilter(), 0, 1_000_000).rows
            if d.delivery and d.state.open and start <= d.delivery.day < end
        ]
        return sorted(rows, key=lambda d: (d.delivery.day, d.delivery.at, d.id))

    def record_handover(self, base: Deal, checklist: HandoverChecklist) -> Deal:
        self._require(Permission.DEAL_WRITE, "record handovers", f"deal:{base.id}")
        if base.state is not DealState.INVOICED:
            raise ValidationError("The handover checklist is filled in for an invoiced deal.")
        now = self._clock.now()
        checklist = replace(checklist, completed_by=self.actor, completed_at=now)
        updated = replace(
            base,
            checklist=checklist,
            updated_at=now,
            history=base.history + ((now, self.actor, "handover checklist"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor,
            "deal.handover_recorded",
            f"deal:{base.id}",
            {"missing": checklist.missing()},
        )
        return updated

    def mark_delivered(self, base: Deal) -> Deal:
        self._require(Permission.DEAL_WRITE, "deliver vehicles", f"deal:{base.id}")
        if base.state is not DealState.INVOICED:
            raise ValidationError("Only an invoiced deal can be delivered.")
        missing = base.checklist.missing() if base.checklist else ["the handover checklist"]
        if missing:
            raise ValidationError("The handover is not complete: " + ", ".join(missing) + ".")
        self._client_bought(base)  # done at invoicing; again for deals invoiced before the rule
        self._set_vehicle(base, VehicleStatus.DELIVERED)
        now = self._clock.now()
        updated = replace(
            base,
            state=DealState.DELIVERED,
            updated_at=now,
            history=base.history + ((now, self.actor, "delivered"),),
        )
        updated = self._save(updated, base.rev)
        self._audit.record(
            self.actor, "deal.delivered", f"deal:{base.id}", {"vehicle": base.vehicle_id}
        )
        return updated

    def handover_certificate(self, deal: Deal, client_name: str) -> bytes:
        """The PDF both parties sign at the handover (slow-ish: call it off the GUI thread)."""
        from alko_desk.services.handover_pdf import render_handover_certificate

        self._require(Permission.DEAL_READ, "print handover certificates", f"deal:{deal.id}")
        if deal.state not in (DealState.INVOICED, DealState.DELIVERED):
            raise ValidationError("The handover certificate is printed for an invoiced deal.")
        profile = self._org.profile()
        if profile is None:
            raise AlkoError("ALKO Desk has not been set up yet.")
        pdf = render_handover_certificate(
            deal, self._vehicle(deal.vehicle_id), profile, client_name
        )
        self._audit.record(self.actor, "deal.certificate_printed", f"deal:{deal.id}")
        return pdf

    # ------------------------------------------------------------------ reading

    def get(self, deal_id: str) -> Deal:
        self._require(Permission.DEAL_READ, "see deals")
        deal = self._deals.get_for_write(deal_id)  # never a copy that a crash left behind
        if deal is None:
            raise NotFound("This deal no longer exists.")
        return deal

    SORTS = tuple(s.value for s in DealSort)

    def page(
        self,
        filters: DealFilter = DealFilter(),
        start: int = 0,
        count: int = 100,
        sort: DealSort = DealSort.CREATED,
        descending: bool = True,
    ) -> Page[Deal]:
        self._require(Permission.DEAL_READ, "see deals")
        return self._deals.page(filters, start, count, sort, descending)

    def list_page(self, request: PageRequest) -> Page[Deal]:
        """A page of the deal list for `PagedTableModel`; filters: `state` (a DealState value),
        `client_id`, `vehicle_id`, `salesperson`, `pending_approval`."""
        if request.sort and request.sort not in self.SORTS:
            raise ValidationError(f"Deals cannot be sorted by {request.sort}.")
        f = request.filters
        try:
            state = DealState(f["state"]) if f.get("state") else None
        except ValueError:
            raise ValidationError(f"There is no deal state {f['state']}.") from None
        filters = DealFilter(
            state=state,
            client_id=str(f.get("client_id") or ""),
            vehicle_id=str(f.get("vehicle_id") or ""),
            salesperson=str(f.get("salesperson") or ""),
            pending_approval=bool(f.get("pending_approval")),
        )
        sort = DealSort(request.sort or DealSort.CREATED.value)
        return self.page(filters, request.start, request.count, sort, request.descending)

    # ------------------------------------------------------------------ lapse and repair

    def lapse_reservations(self) -> int:
        """Deals whose reservation ran out go back to draft and free the car."""
        now = self._clock.now()
        lapsed = 0
        held = [
            deal
            for state in (DealState.RESERVED, DealState.APPROVED)
            for deal in self._deals.page(DealFilter(state=state), 0, 1_000_000).rows
        ]
        for row in held:
            if not self._lapsed(row, now):
                continue
            # The list row may be old: another desk may have lapsed it and the salesperson
            # reserved it again since. The deal as stored decides, and goes first: a car
            # whose reservation ran out is free to others even if its release never happens.
            deal = self._deals.get_for_write(row.id)
            if deal is None or not self._lapsed(deal, now):
                continue
            updated = replace(
                deal,
                state=DealState.DRAFT,
                reserved_until=None,
                approval=Approval(ApprovalStatus.PENDING)
                if deal.approval.status is not ApprovalStatus.NOT_NEEDED
                else deal.approval,
                updated_at=now,
                history=deal.history + ((now, "system", "reservation lapsed"),),
            )
            if self._deals.replace_if(updated, deal.rev):
                self._release_vehicle(deal.id, deal.vehicle_id, lapsed_only=True)
                lapsed += 1
                self._audit.record("system", "deal.reservation_lapsed", f"deal:{deal.id}")
        return lapsed

    @staticmethod
    def _lapsed(deal: Deal, now: datetime) -> bool:
        return (
            deal.state in (DealState.RESERVED, DealState.APPROVED)
            and deal.reserved_until is not None
            and deal.reserved_until <= now
        )

    # ------------------------------------------------------------------ the vehicle side

    def _vehicle(self, vehicle_id: str) -> Vehicle:
        vehicle = self._vehicles.get(vehicle_id)
        if vehicle is None:
            raise ValidationError("This vehicle no longer exists.", {"vehicle": "Choose another."})
        return vehicle

    def _reserve_vehicle(self, deal_id: str, vehicle_id: str, days: int | None = None) -> Vehicle:
        days = days if days is not None else self._deals.settings().reservation_days
        for _ in range(20):
            vehicle = self._vehicles.get_for_write(vehicle_id)
            if vehicle is None:
                raise ValidationError(
                    "This vehicle no longer exists.", {"vehicle": "Choose another."}
                )
            now = self._clock.now()
            free = (
                vehicle.status is VehicleStatus.IN_STOCK
                or vehicle.reservation_lapsed(now)
                or (vehicle.status is VehicleStatus.RESERVED and vehicle.reserved_by == deal_id)
                or self._orphaned(vehicle, now)
            )
            if not free:
                raise self._refusal(vehicle)
            held = replace(
                vehicle,
                status=VehicleStatus.RESERVED,
                reserved_by=deal_id,
                reserved_until=now + timedelta(days=days),
                updated_at=now,
                rev=vehicle.rev + 1,
            )
            if self._vehicles.replace_if(held, vehicle.rev):
                self._announce(VEHICLES, vehicle.id)
                return held
            # someone wrote the vehicle between our read and our write: look again
        raise AlkoError("The vehicle is being changed by other desks; please try again.")

    def _orphaned(self, vehicle: Vehicle, now: datetime) -> bool:
        """Reserved by a deal that was never written (a desk crashed in between), and not
        by one a desk is still saving (a batch reserves its cars, dated as its deals, before
        it stores them)."""
        return (
            vehicle.status is VehicleStatus.RESERVED
            and bool(vehicle.reserved_by)
            and now - vehicle.updated_at > ORPHAN_GRACE
            and self._deals.get_doc(vehicle.reserved_by) is None
            and not self._being_saved(vehicle.reserved_by)
        )

    def _being_saved(self, deal_id: str) -> bool:
        if self._intents is None:
            return False
        return self._intents.under_way(
            "deals.create", lambda i: i.data.get("deal_id") == deal_id
        ) or self._intents.under_way(
            "deals.create_many", lambda i: deal_id in i.data.get("deal_ids", [])
        )

    def _refusal(self, vehicle: Vehicle) -> ReservationRefused:
        if vehicle.status is VehicleStatus.RESERVED:
            other = self._deals.get_doc(vehicle.reserved_by)
            who = f" by {other['salesperson']}" if other else ""
            until = (
                f" until {vehicle.reserved_until.astimezone():%d.%m.%Y %H:%M}"
                if vehicle.reserved_until
                else ""
            )
            return ReservationRefused(
                f"{vehicle.title} ({vehicle.vin}) is already reserved for deal "
                f"{vehicle.reserved_by}{who}{until}.",
                other_deal=vehicle.reserved_by,
            )
        return ReservationRefused(
            f"{vehicle.title} ({vehicle.vin}) is {vehicle.status.label.lower()}"
            + (f" (deal {vehicle.reserved_by})." if vehicle.reserved_by else "."),
            other_deal=vehicle.reserved_by,
        )

    def _release_vehicle(self, deal_id: str, vehicle_id: str, *, lapsed_only: bool = False) -> None:
        """Frees the car `deal_id` holds; `lapsed_only`: only if that reservation ran out."""
        for _ in range(20):
            vehicle = self._vehicles.get_for_write(vehicle_id)
            if vehicle is None or vehicle.reserved_by != deal_id:
                return
            if vehicle.status is not VehicleStatus.RESERVED:
                return
            if lapsed_only and not vehicle.reservation_lapsed(self._clock.now()):
                return
            freed = replace(
                vehicle,
                status=VehicleStatus.IN_STOCK,
                reserved_by="",
                reserved_until=None,
                updated_at=self._clock.now(),
                rev=vehicle.rev + 1,
            )
            if self._vehicles.replace_if(freed, vehicle.rev):
                self._announce(VEHICLES, vehicle.id)
                return

    def _set_vehicle(self, deal: Deal, status: VehicleStatus) -> None:
        for _ in range(20):
            vehicle = self._vehicles.get_for_write(deal.vehicle_id) or self._vehicle(
                deal.vehicle_id
            )
            if vehicle.reserved_by != deal.id:
                raise ReservationRefused(
                    f"{vehicle.title} is no longer reserved for this deal "
                    f"(its reservation lapsed{', and deal ' + vehicle.reserved_by + ' holds it' if vehicle.reserved_by else ''})."
                )
            if vehicle.status is status:
                return
            changed = replace(
                vehicle,
                status=status,
                reserved_until=None,
                updated_at=self._clock.now(),
                rev=vehicle.rev + 1,
            )
            if self._vehicles.replace_if(changed, vehicle.rev):
                self._announce(VEHICLES, vehicle.id)
                return
        raise AlkoError("The vehicle is being changed by other desks; please try again.")

    def _client_bought(self, deal: Deal) -> None:
        """The buyer becomes a customer. Before the deal is saved invoiced: the invoice exists
        already, and a crash before the deal's save runs `mark_invoiced` again from the
        invoice's completion (services/invoicing.py), which repeats this step (idempotent).
        A client whose record cannot be changed (removed, unreadable, no key at hand) does
        not stop the invoice's deal: that is logged, and the status is left as it is."""
        if self._customers is None or not deal.client_id:
            return
        try:
            self._customers.record_purchase(deal.client_id, deal.id)
        except (NotFound, UnreadableRecord, KeysNotGranted, PermissionDenied) as exc:
            log.warning("deal %s: the client's status was not updated (%s)", deal.id, exc)

    def _save(self, deal: Deal, expected_rev: int) -> Deal:
        saved = replace(deal, rev=expected_rev + 1)
        if not self._deals.replace_if(saved, expected_rev):
            raise ConcurrentModification(
                "Someone else changed this deal since you opened it. Open it again to see their changes."
            )
        self._announce(DEALS, saved.id)
        return saved

    def _recover_create(self, intent) -> None:
        """A desk stopped between reserving the car and writing the deal: the car goes back."""
        deal_id = intent.data.get("deal_id", "")
        vehicle_id = intent.data.get("vehicle_id", "")
        if deal_id and vehicle_id and self._deals.get_doc(deal_id) is None:
            self._release_vehicle(deal_id, vehicle_id)
