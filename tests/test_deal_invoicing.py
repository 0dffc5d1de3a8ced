"""From deals to invoices: the mapping into lines (on stand-ins with the attributes of a
`Deal`), and issuing from real deals through the adapter bootstrap wires in."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace as NS

import pytest
from facturx import get_facturx_xml_from_pdf
from lxml import etree

from alko_desk.models.audit import AuditFilter
from alko_desk.models.deals import (
    BusinessBuyer,
    DealDraft,
    DealState,
    ItemKind,
    LineItem,
    VatScheme,
)
from alko_desk.models.errors import NotFound, ValidationError
from alko_desk.models.invoices import DocumentKind, InvoiceDraft, VatCategory
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.models.vehicles import Condition, VehicleStatus
from alko_desk.services.clients import new_client_id
from alko_desk.services.deal_invoicing import country_code, draft_from_deal
from alko_desk.storage.deals_repo import terms_to_doc
from tests.clients_data import draft as client_draft
from tests.invoice_data import BANK, CROATIAN, SUPPLIER
from tests.test_e_invoice import NS as NS_CII
from tests.test_e_invoice import en16931  # noqa: F401 - the CEN rules, a pytest fixture
from tests.test_invoice_documents import pdf_text
from tests.vehicles_data import client_with_deal
from tests.vehicles_data import draft as vehicle_draft


def deal(scheme: str, vehicle_price: str, *, items=(), deposit=None, trade_in=None):
    return NS(
        id="D-7",
        vehicle_vin="WVWZZZ1JZXW000001",
        vehicle_title="Volkswagen Golf 1.5 TSI",
        created_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        terms=NS(
            vat_rate=Decimal(25),
            currency="EUR",
            deposit=deposit,
            trade_in=trade_in,
            financing=None,
            items=tuple(items),
        ),
        figures=NS(
            vehicle_price=Money.of(vehicle_price),
            scheme=NS(value=scheme),
            list_price=Money.of("31000"),
            discount_total=Money.of("1000"),
            trade_in_equity=Money.of("4000") if trade_in else Money.zero(),
            amount_financed=Money.zero(),
        ),
    )


def as_draft(lines, deposits, notes) -> InvoiceDraft:
    return InvoiceDraft(
        SUPPLIER, CROATIAN, tuple(lines), date(2026, 11, 24), "EUR", deposits, BANK, notes=notes
    )


def test_standard_deal_invoice_totals_match_the_gross_price():
    mats = NS(description="Floor mats", amount=Money.of("125.00"), vat_applies=True)
    registration = NS(description="Registration", amount=Money.of("80.00"), vat_applies=False)
    d = deal("standard", "30000.00", items=[mats, registration], deposit=Money.of("2000"))
    lines, deposits, notes = draft_from_deal(d)
    draft = as_draft(lines, deposits, notes)
    totals = draft.totals()
    assert lines[0].vin == "WVWZZZ1JZXW000001" and lines[0].unit_price == Money.of("24000.00")
    assert totals.gross == Money.of("30125.00")
    assert totals.due == Money.of("28125.00")
    assert deposits[0].received_on == date(2026, 11, 3)
    assert "Registration" in notes and "disbursement" in notes
    assert "discount 1,000.00 EUR" in notes


def test_margin_scheme_deal_shows_no_vat_on_the_car():
    trade_in = NS(description="Opel Corsa 2015", vin="W0L0SDL0812345678")
    lines, deposits, notes = draft_from_deal(deal("margin", "12500.00", trade_in=trade_in))
    totals = as_draft(lines, deposits, notes).totals()
    assert lines[0].vat_category is VatCategory.MARGIN_SCHEME
    assert totals.vat == Money.zero() and totals.gross == Money.of("12500.00")
    assert "4,000.00 EUR credited as a payment" in notes


# ----------------------------------------------------------------------------- real deals


@pytest.fixture
def finance(context, make_user):
    return context.services_for(make_user("fiona", Role.FINANCE))


def test_country_names_as_typed_become_iso_codes():
    assert [country_code(c) for c in ("Hrvatska", " croatia ", "hr", "Česko", "Россия")] == [
        "HR",
        "HR",
        "HR",
        "CZ",
        "RU",
    ]
    assert country_code("Atlantis") == ""


def test_finance_invoices_a_reserved_deal_from_the_client_record(context, make_user, finance):
    sam, deal = client_with_deal(context, make_user)
    assert deal.state is DealState.RESERVED  # no discount: no approval needed
    invoice = finance.invoices.issue_for_deal(deal.id)
    customer = invoice.draft.customer
    assert customer.name == "Željko Kovačević" and customer.client_id == deal.client_id
    assert customer.address.street == "Ulica Domovinskog rata 12"
    assert (customer.address.city, customer.address.country) == ("Split", "HR")
    assert invoice.draft.lines[0].vin == deal.vehicle_vin
    assert invoice.totals.gross == deal.figures.total_price
    assert invoice.totals.due == deal.figures.total_price - Money.of("2000")
    invoiced = sam.deals.get(deal.id)
    assert (invoiced.state, invoiced.invoice_number) == (DealState.INVOICED, invoice.number)
    assert sam.vehicles.get(deal.vehicle_id).status is VehicleStatus.SOLD
    reads = context.audit_log.query(AuditFilter(action_prefix="client.viewed"))
    billing = [e for e in reads if e.actor == "fiona"]
    assert billing and billing[0].target == f"client:{deal.client_id}"
    assert billing[0].details["purpose"] == "invoice"
    assert "street" in billing[0].details["fields"]
    entities = {c.entity for c in context.change_log.since(0).changes}
    assert {"invoices", "deals"} <= entities


def test_a_deals_invoice_cannot_be_made_from_a_hand_made_draft(context, make_user, finance):
    """A finance desk (or a script through the server) sending its own lines for a deal:
    the car would be sold for whatever it wrote, and a second one would spend a number."""
    from dataclasses import replace

    from alko_desk.models.errors import ValidationError

    sam, deal = client_with_deal(context, make_user)
    draft = finance.invoices._deals.draft_for(deal.id)  # what the desk could rebuild
    forged = replace(draft, lines=draft.lines[:1])
    for attempt in (forged, draft):
        with pytest.raises(ValidationError, match="invoiced from the deal itself"):
            finance.invoices.issue(attempt)
    assert finance.invoices.list_invoices() == []
    assert sam.vehicles.get(deal.vehicle_id).status is VehicleStatus.RESERVED
    assert finance.invoices.issue_for_deal(deal.id).totals.gross == deal.figures.total_price
    with pytest.raises(ValidationError, match="invoiced from the deal itself"):
        finance.invoices.issue(draft)  # invoiced now: still not a second time by hand
    assert len(finance.invoices.list_invoices()) == 1


def test_a_deal_waiting_for_approval_is_refused_until_a_manager_approves(
    context, make_user, finance
):
    sam, deal = client_with_deal(context, make_user, percent="8")
    with pytest.raises(ValidationError, match="approval"):
        finance.invoices.issue_for_deal(deal.id)
    assert finance.invoices.list_invoices() == []  # no number was taken
    manager = context.services_for(make_user("mia", Role.MANAGER))
    manager.deals.approve(manager.deals.get(deal.id), "end of quarter")
    invoice = finance.invoices.issue_for_deal(deal.id)
    assert invoice.sequence == 1
    assert sam.deals.get(deal.id).state is DealState.INVOICED


def test_draft_and_cancelled_deals_cannot_be_invoiced(context, make_user, finance):
    sam, deal = client_with_deal(context, make_user)
    cancelled = sam.deals.cancel(deal, "client withdrew")
    with pytest.raises(ValidationError, match="cancelled"):
        finance.invoices.issue_for_deal(cancelled.id)
    with pytest.raises(NotFound, match="There is no deal D-0000-NOPE"):
        finance.invoices.issue_for_deal("D-0000-NOPE")


def test_invoiced_deal_is_cancelled_only_after_a_full_credit_note(context, make_user, finance):
    sam, deal = client_with_deal(context, make_user)
    invoicing = finance.invoices
    invoice = invoicing.issue_for_deal(deal.id)
    with pytest.raises(ValidationError, match="already invoiced"):
        invoicing.issue_for_deal(deal.id)
    with pytest.raises(ValidationError, match="credit note"):
        sam.deals.cancel(sam.deals.get(deal.id), "changed mind")
    invoicing.credit(invoice.number, "discount agreed later", Money.of("1000"))
    assert sam.deals.get(deal.id).state is DealState.INVOICED  # a part credited: still sold
    note = invoicing.credit(invoice.number, "sale cancelled")
    assert note.kind is DocumentKind.CREDIT_NOTE
    reopened = sam.deals.get(deal.id)
    assert reopened.state is DealState.RESERVED and reopened.invoice_number == ""
    assert sam.vehicles.get(deal.vehicle_id).status is VehicleStatus.RESERVED
    cancelled = sam.deals.cancel(reopened, "changed mind")
    assert cancelled.state is DealState.CANCELLED
    assert sam.vehicles.get(deal.vehicle_id).status is VehicleStatus.IN_STOCK


def test_a_deal_invoice_interrupted_after_its_insert_is_finished_by_a_finance_login(
    context, make_user, finance
):
    sam, deal = client_with_deal(context, make_user)
    invoicing = finance.invoices
    draft = context.services_for(finance.session).invoices  # a desk that dies after the insert
    interrupted = draft._insert_numbered(
        DocumentKind.INVOICE, invoicing._deals.draft_for(deal.id), invoicing.settings()
    )
    assert context.finish_interrupted_invoices(sam.session) == 0  # sales cannot invoice deals
    assert sam.deals.get(deal.id).state is DealState.RESERVED
    assert context.finish_interrupted_invoices(finance.session) == 1
    assert sam.deals.get(deal.id).invoice_number == interrupted.number
    assert invoicing.get(interrupted.number).pdf_sha256


# ----------------------------------------------------------------------------- client status


def test_invoicing_a_deal_makes_its_prospect_a_customer_once_audited_and_announced(
    context, make_user, finance
):
    from alko_desk.models.clients import ClientStatus

    sam, deal = client_with_deal(context, make_user)
    before = sam.clients.get(deal.client_id)
    assert before.status is ClientStatus.PROSPECT
    head = context.change_log.head()
    finance.invoices.issue_for_deal(deal.id)  # finance holds no key to ID numbers

    after = sam.clients.get(deal.client_id)  # its MAC verifies and every field still opens
    assert after.status is ClientStatus.CUSTOMER and after.status.label == "Customer"
    assert after.version == before.version + 1
    assert sam.clients.reveal(deal.client_id)["id_number"] == "112233445"
    [row] = sam.clients.search("zeljko.kovacevic@example.hr")
    assert row.status is ClientStatus.CUSTOMER  # the list entry too
    from alko_desk.models.listing import PageRequest

    by_status = sam.clients.list_page(PageRequest(0, 10, "status")).rows
    assert [r.status for r in by_status] == [ClientStatus.CUSTOMER]
    entries = context.audit_log.query(AuditFilter(action_prefix="client.became_customer"))
    assert [(e.actor, e.target, e.details["deal"]) for e in entries] == [
        ("fiona", f"client:{deal.client_id}", deal.id)
    ]
    changed = [c for c in context.change_log.since(head).changes if c.entity == "clients"]
    assert [c.ids for c in changed] == [(deal.client_id,)]

    # again (a recovery, a delivery): nothing more is written, audited or announced
    assert finance.clients.record_purchase(deal.client_id, deal.id) is ClientStatus.CUSTOMER
    assert sam.clients.get(deal.client_id).version == after.version
    assert len(context.audit_log.query(AuditFilter(action_prefix="client.became"))) == 1


def test_an_edit_opened_before_the_sale_still_saves_on_the_customer(context, make_user, finance):
    from alko_desk.models.clients import ClientStatus

    sam, deal = client_with_deal(context, make_user)
    opened = sam.clients.get(deal.client_id)  # the form opens; then finance invoices
    finance.invoices.issue_for_deal(deal.id)
    edited = sam.clients.update(opened, replace(opened.draft, notes="Wants winter tyres"))
    assert edited.status is ClientStatus.CUSTOMER and edited.draft.notes == "Wants winter tyres"
    assert sam.clients.reveal(deal.client_id)["id_number"] == "112233445"


def test_a_restricted_client_stays_restricted_and_roles_without_deals_are_refused(
    context, make_user, finance
):
    from alko_desk.models.clients import ClientStatus
    from alko_desk.models.errors import PermissionDenied

    sam, deal = client_with_deal(context, make_user)
    manager = context.services_for(make_user("mia", Role.MANAGER))
    with pytest.raises(PermissionDenied):
        manager.clients.record_purchase(deal.client_id, deal.id)
    assert sam.clients.get(deal.client_id).status is ClientStatus.PROSPECT
    record = context.clients_repo.get(deal.client_id)
    restricted = sam.clients._signed(  # as a restriction on request would be written
        replace(
            record,
            status=ClientStatus.RESTRICTED.value,
            version=record.version + 1,
            sealed_version=record.version,
        )
    )
    context.clients_repo.update_if_version(restricted, record.version)
    assert finance.clients.record_purchase(deal.client_id, deal.id) is ClientStatus.RESTRICTED
    assert sam.clients.get(deal.client_id).status is ClientStatus.RESTRICTED


def test_a_crash_between_the_customer_and_the_deal_is_finished_by_the_invoice_recovery(
    context, make_user, finance, monkeypatch
):
    from alko_desk.models.clients import ClientStatus
    from alko_desk.services.deals import DealService

    sam, deal = client_with_deal(context, make_user)
    fiona = context.services_for(finance.session)

    def crash(self, base, status):
        raise RuntimeError("the desk lost power")

    monkeypatch.setattr(DealService, "_set_vehicle", crash)
    with pytest.raises(RuntimeError):
        fiona.invoices.issue_for_deal(deal.id)
    monkeypatch.undo()
    assert sam.deals.get(deal.id).state is DealState.RESERVED
    # the list entry as a crash between the record and the list would leave it
    record = context.clients_repo.get(deal.client_id)
    assert record.status == ClientStatus.CUSTOMER.value
    context.client_list_repo.put(
        sam.clients._list_entry(
            replace(record, status="prospect"),
            None,
            sealed_extra=context.client_list_repo.get(deal.client_id).sealed_extra,
        )
    )
    assert sam.clients.search("zeljko")[0].status is ClientStatus.PROSPECT
    assert context.finish_interrupted_invoices(finance.session) == 1
    assert sam.deals.get(deal.id).state is DealState.INVOICED
    assert sam.clients.search("zeljko")[0].status is ClientStatus.CUSTOMER
    assert sam.clients.get(deal.client_id).version == record.version


PAST_PURCHASES = "clients.record_past_purchases:all"


def _id(deal):
    return deal.id


def test_prospects_of_deals_invoiced_before_the_rule_become_customers_at_a_suitable_login(
    context, make_user
):
    """A data migration: deals invoiced or delivered before "invoiced makes a customer" left
    their clients prospects. The migration lists them; the first login that holds the client
    keys and may record a sale changes them, signed and audited, once."""
    from alko_desk.models.clients import ClientStatus
    from alko_desk.storage.schema import _m6_customers_from_past_sales

    sam, sold = client_with_deal(context, make_user)
    _, delivered = client_with_deal(
        context, sales=sam, n=2, email="b@example.hr", phone="091 222 3333", id_number="223344556"
    )
    _, open_deal = client_with_deal(
        context, sales=sam, n=3, email="c@example.hr", phone="091 333 4444", id_number="334455667"
    )
    for deal, state in ((sold, "invoiced"), (delivered, "delivered")):  # as before the rule
        context.store.db.deals.update_one({"_id": deal.id}, {"$set": {"state": state}})
    manager = make_user("mia", Role.MANAGER)  # holds client keys, may not record a sale

    _m6_customers_from_past_sales(context.store)
    assert context.store.db.pending_ops.find_one({"_id": PAST_PURCHASES})["data"] == {
        "purchases": [
            {"client": d.client_id, "deal": d.id} for d in sorted((sold, delivered), key=_id)
        ]
    }
    context.finish_interrupted_work(manager)
    assert sam.clients.get(sold.client_id).status is ClientStatus.PROSPECT
    sam_session = sam.session
    context.finish_interrupted_work(sam_session)
    for deal in (sold, delivered):
        client = sam.clients.get(deal.client_id)  # its MAC verifies: signed, not patched
        assert client.status is ClientStatus.CUSTOMER
    assert sam.clients.get(open_deal.client_id).status is ClientStatus.PROSPECT
    [row] = sam.clients.search("b@example.hr")
    assert row.status is ClientStatus.CUSTOMER  # the list entry too
    entries = context.audit_log.query(AuditFilter(action_prefix="client.became_customer"))
    assert sorted((e.target, e.details["deal"]) for e in entries) == sorted(
        [(f"client:{sold.client_id}", sold.id), (f"client:{delivered.client_id}", delivered.id)]
    )

    # run again (a second start, the migration repeated): nothing more changes
    _m6_customers_from_past_sales(context.store)
    context.finish_interrupted_work(sam_session)
    assert len(context.audit_log.query(AuditFilter(action_prefix="client.became"))) == 2
    assert context.store.db.pending_ops.find_one({"_id": PAST_PURCHASES}) is None


# ----------------------------------------------------------------------------- business buyers


def business_deal(context, make_user, buyer: BusinessBuyer, **car):
    """A deal for a new car (30,000.00 gross; or as `car` says) sold by the Croatian dealer
    (the test profile's VAT ID is HR) to `buyer` through a client who stays the contact."""
    sam = context.services_for(make_user("sam", Role.SALES))
    client = sam.clients.register(new_client_id(), client_draft())
    vehicle = sam.vehicles.add(vehicle_draft(1, price="30000.00", **car))
    accessory = LineItem(ItemKind.ACCESSORY, "Floor mats", Money.of("150.00"))
    return sam, sam.deals.create(
        DealDraft(client.id, vehicle.id, items=(accessory,), business_buyer=buyer)
    )


def test_a_german_business_buyer_gets_an_intra_community_invoice_without_vat(
    context,
    make_user,
    finance,
    en16931,  # noqa: F811 - the fixture imported above
):
    buyer = BusinessBuyer(
        "Autohaus Müller GmbH", "DE136695976", "Hauptstraße 5", "80331", "München", "Deutschland"
    )
    sam, deal = business_deal(context, make_user, buyer)
    assert deal.figures.scheme is VatScheme.INTRA_COMMUNITY
    assert sam.deals.get(deal.id).terms == deal.terms  # reproducible from the stored deal
    invoice = finance.invoices.issue_for_deal(deal.id)
    customer = invoice.draft.customer
    assert (customer.name, customer.vat_id) == ("Autohaus Müller GmbH", "DE136695976")
    assert (customer.address.street, customer.address.country) == ("Hauptstraße 5", "DE")
    assert customer.client_id == deal.client_id
    assert {ln.vat_category for ln in invoice.draft.lines} == {VatCategory.INTRA_COMMUNITY}
    assert invoice.totals.vat == Money.zero()
    assert invoice.totals.gross == deal.figures.total_price == Money.of("24120.00")
    pdf = finance.invoices.pdf(invoice.number)
    text = " ".join(pdf_text(pdf).split())
    assert "VAT ID: DE136695976" in text and "Autohaus Müller GmbH" in text
    assert "Intra-community supply — reverse charge/exempt, Art. 138 Directive 2006/112/EC" in text
    assert "Contact: Željko Kovačević" in text
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf), check_xsd=True)
    assert en16931(xml) == []
    tree = etree.fromstring(xml)
    tax = tree.find(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", NS_CII)
    assert tax.findtext("ram:CategoryCode", namespaces=NS_CII) == "K"
    assert tax.findtext("ram:ExemptionReasonCode", namespaces=NS_CII) == "VATEX-EU-IC"
    assert tax.findtext("ram:CalculatedAmount", namespaces=NS_CII) == "0.00"


def test_a_business_buyer_in_croatia_pays_standard_vat_with_its_vat_id_printed(
    context,
    make_user,
    finance,
    en16931,  # noqa: F811 - the fixture imported above
):
    # no address typed: the company is invoiced at the client's
    sam, deal = business_deal(context, make_user, BusinessBuyer("Prijevoz d.o.o.", "HR69684034012"))
    assert deal.figures.scheme is VatScheme.STANDARD
    invoice = finance.invoices.issue_for_deal(deal.id)
    customer = invoice.draft.customer
    assert (customer.name, customer.vat_id) == ("Prijevoz d.o.o.", "HR69684034012")
    assert customer.address.street == "Ulica Domovinskog rata 12"
    assert {ln.vat_category for ln in invoice.draft.lines} == {VatCategory.STANDARD}
    assert invoice.totals.vat == Money.of("6030.00")  # 30,150 × 25 / 125
    pdf = finance.invoices.pdf(invoice.number)
    text = " ".join(pdf_text(pdf).split())
    assert "VAT ID: HR69684034012" in text and "Intra-community" not in text
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf), check_xsd=True)
    assert en16931(xml) == []


def test_a_deal_with_a_business_buyer_whose_vat_id_fails_is_refused(context, make_user):
    with pytest.raises(ValidationError) as refused:
        business_deal(context, make_user, BusinessBuyer("Autohaus", "DE136695977"))
    assert "check digit" in refused.value.field_errors["business_buyer.vat_id"]


def test_a_private_deal_document_carries_no_business_buyer_fields(context, make_user):
    _, deal = client_with_deal(context, make_user)
    doc = terms_to_doc(deal.terms)
    assert "business_buyer" not in doc and "seller_country" not in doc


def test_a_used_car_under_the_margin_scheme_stays_margin_for_a_german_business(
    context,
    make_user,
    finance,
    en16931,  # noqa: F811 - the fixture imported above
):
    used = {"condition": Condition.USED, "acquired_without_vat": True, "mileage_km": 48000}
    buyer = BusinessBuyer("Autohaus Müller GmbH", "DE136695976")
    _, deal = business_deal(context, make_user, buyer, **used)
    assert deal.figures.scheme is VatScheme.MARGIN
    invoice = finance.invoices.issue_for_deal(deal.id)
    assert invoice.draft.customer.vat_id == "DE136695976"
    assert invoice.draft.lines[0].vat_category is VatCategory.MARGIN_SCHEME
    assert invoice.totals.gross == deal.figures.total_price == Money.of("30150.00")
    pdf = finance.invoices.pdf(invoice.number)
    text = " ".join(pdf_text(pdf).split())
    assert "VAT ID: DE136695976" in text and "Margin scheme" in text
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf), check_xsd=True)
    assert en16931(xml) == []
