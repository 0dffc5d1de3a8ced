"""The e-invoice: EN 16931 CII XML, embedded as Factur-X (PDF/A-3), checked by the official CEN rules.

The rules are the CEN/TC 434 validation artefacts (shared/validators/en16931, beside the
repository), run with Saxon HE (saxonche). A `failed-assert` with `flag="fatal"` fails the test.
factur-x's own schematron check is not used: it passes silently without a Saxon server.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from alko_desk.documents.cii import embed_e_invoice, invoice_xml
from alko_desk.documents.invoice_pdf import render_invoice_pdf
from tests.invoice_data import one_of_each_kind

ROOT = Path(__file__).resolve().parent.parent
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def _stylesheet() -> Path | None:
    candidates = [os.environ.get("ALKO_EN16931_XSLT", "")] + [
        str(base / "shared/validators/en16931/EN16931-CII-validation.xslt")
        for base in (ROOT.parent, ROOT.parent.parent, Path("/work"))
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def en16931():
    """validate(xml) -> the fatal failed asserts as (rule id, text)."""
    stylesheet = _stylesheet()
    if stylesheet is None:
        pytest.skip("the EN 16931 validation artefacts (shared/validators/en16931) are not here")
    from saxonche import PySaxonProcessor

    with PySaxonProcessor(license=False) as saxon:
        xslt = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(stylesheet))

        def validate(xml: bytes) -> list[tuple[str, str]]:
            report = xslt.transform_to_string(xdm_node=saxon.parse_xml(xml_text=xml.decode()))
            assert "schematron-output" in report  # an SVRL report, not an empty string
            svrl = etree.fromstring(report.encode())
            ns = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
            return [
                (fa.get("id"), " ".join(fa.findtext("svrl:text", "", ns).split()))
                for fa in svrl.iterfind(".//svrl:failed-assert", ns)
                if fa.get("flag") == "fatal"
            ]

        yield validate


CASES = one_of_each_kind()
ORIGINAL = CASES["standard_rated_new_car"]  # what the credit notes correct


@pytest.mark.parametrize("case", list(CASES))
def test_e_invoice_passes_the_cen_business_rules(en16931, case):
    xml = invoice_xml(CASES[case])
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert en16931(xml) == []


def test_validator_does_reject_a_broken_invoice(en16931):
    """Guards the guard: without the buyer's VAT ID an intra-community supply is refused."""
    xml = invoice_xml(CASES["intra_community_business_buyer"])
    tree = etree.fromstring(xml)
    buyer = tree.find(".//ram:BuyerTradeParty", NS)
    buyer.remove(buyer.find("ram:SpecifiedTaxRegistration", NS))
    failures = en16931(etree.tostring(tree))
    assert "BR-IC-02" in {rule for rule, _ in failures}


def test_margin_scheme_is_exempt_with_second_hand_goods_reason():
    tree = etree.fromstring(invoice_xml(CASES["margin_scheme_used_car"]))
    tax = tree.find(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", NS)
    assert tax.findtext("ram:CategoryCode", namespaces=NS) == "E"
    assert tax.findtext("ram:ExemptionReasonCode", namespaces=NS) == "VATEX-EU-F"
    assert tax.findtext("ram:CalculatedAmount", namespaces=NS) == "0.00"


def test_intra_community_supply_is_category_k_with_deliver_to_country():
    tree = etree.fromstring(invoice_xml(CASES["intra_community_business_buyer"]))
    assert tree.findtext(".//ram:CategoryCode", namespaces=NS) == "K"
    assert tree.findtext(".//ram:ShipToTradeParty//ram:CountryID", namespaces=NS) == "DE"


def test_deposit_is_prepaid_amount():
    tree = etree.fromstring(invoice_xml(CASES["deposit_already_paid"]))
    sums = tree.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert sums.findtext("ram:GrandTotalAmount", namespaces=NS) == "30437.50"
    assert sums.findtext("ram:TotalPrepaidAmount", namespaces=NS) == "3000.00"
    assert sums.findtext("ram:DuePayableAmount", namespaces=NS) == "27437.50"


def test_credit_note_is_type_381_and_refers_to_its_invoice():
    tree = etree.fromstring(invoice_xml(CASES["partial_credit_note"]))
    assert tree.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert (
        tree.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS)
        == ORIGINAL.number
    )


def test_pdf_carries_the_xml_as_factur_x_pdfa3():
    invoice = CASES["deposit_already_paid"]
    pdf = embed_e_invoice(render_invoice_pdf(invoice), invoice)
    filename, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf), check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml == invoice_xml(invoice)
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    metadata = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part[^0-9]*3", metadata)
    assert "/OutputIntents" in root
    assert "27,437.50 EUR" in reader.pages[0].extract_text()
