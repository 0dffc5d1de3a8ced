"""Invoice, credit-note and receipt PDFs are PDF/A-3B, as veraPDF (the PDF Association's
reference validator) judges them: XMP metadata, the sRGB output intent, embedded fonts, the
Factur-X XML attached with its relationship (`/AF`, `/AFRelationship`), no device colours.

veraPDF comes from Maven Central through scripts/install-verapdf.sh (run by
`scripts/setup.sh --tests`) into .tools/verapdf; scripts/verapdf/PdfaCheck.java runs it on
several files in one JVM. Without Java the tests skip; with Java but without veraPDF they fail.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from alko_desk.documents.invoice_pdf import render_invoice_pdf, render_receipt_pdf
from alko_desk.models.invoices import (
    Address,
    InvoiceSettings,
    Party,
    Payment,
    PaymentKind,
    PaymentMethod,
)
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.services.invoicing import render_document
from tests.invoice_data import (
    CROATIAN,
    RUSSIAN,
    car_line,
    credit_note_of,
    draft,
    issued,
    one_of_each_kind,
)

ROOT = Path(__file__).resolve().parent.parent
VERAPDF = ROOT / ".tools" / "verapdf"


@dataclass
class Verdict:
    status: str  # PASS, FAIL or ERROR
    failures: list[str] = field(default_factory=list)  # "clause-test (count): rule ..."

    def __str__(self) -> str:
        return self.status + "".join(f"\n  {f}" for f in self.failures)


@pytest.fixture(scope="module")
def verapdf(tmp_path_factory):
    """validate({name: pdf bytes}) -> {name: Verdict}, PDF/A-3B. One JVM serves the module:
    starting it and loading veraPDF's profiles costs more than validating a few invoices."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("Java is not installed: veraPDF, the PDF/A validator, runs on Java 11+")
    if not (VERAPDF / "classes" / "PdfaCheck.class").is_file():
        pytest.fail(
            "veraPDF is not installed in .tools/verapdf: run `bash scripts/setup.sh --tests` "
            "(scripts/install-verapdf.sh fetches it from Maven Central)"
        )
    folder = tmp_path_factory.mktemp("pdfa")
    classpath = f"{VERAPDF / 'classes'}:{VERAPDF / 'lib'}/*"
    checker = subprocess.Popen(
        [java, "-cp", classpath, "PdfaCheck", "3b", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )

    def check(path: Path) -> Verdict:
        checker.stdin.write(f"{path}\n")
        checker.stdin.flush()
        status, _, why = checker.stdout.readline().rstrip("\n").partition(f"\t{path}")
        assert status in ("PASS", "FAIL", "ERROR"), f"veraPDF stopped: {status!r}"
        verdict = Verdict(status, [why.strip()] if why.strip() else [])
        for line in iter(checker.stdout.readline, ".\n"):
            assert line, "veraPDF stopped in the middle of a report"
            _, rule, count, text, details = (line.rstrip("\n").split("\t") + [""] * 4)[:5]
            verdict.failures.append(f"{rule} ({count}×): {text} {details}".strip())
        return verdict

    def validate(documents: dict[str, bytes]) -> dict[str, Verdict]:
        verdicts = {}
        for name, data in documents.items():
            path = folder / f"{name}.pdf"
            path.write_bytes(data)
            verdicts[name] = check(path)
        return verdicts

    yield validate
    checker.stdin.close()
    checker.wait(timeout=60)


def _logo(tmp_path: Path, mode: str, colour, name: str) -> str:
    path = tmp_path / name
    Image.new(mode, (240, 90), colour).save(path)
    return str(path)


def test_invoices_and_credit_notes_are_pdfa_3b(verapdf, tmp_path):
    kinds = one_of_each_kind()
    original = kinds["standard_rated_new_car"]
    many_lines = tuple(
        car_line(description=f"Zimske gume / Зимние шины, komplet {i}") for i in range(1, 61)
    )
    transparent_png = _logo(tmp_path, "RGBA", (200, 30, 30, 120), "logo.png")
    cmyk_jpeg = _logo(tmp_path, "CMYK", (0, 100, 100, 0), "logo.jpg")
    documents = {name: render_document(doc, InvoiceSettings()) for name, doc in kinds.items()}
    documents |= {
        # four pages, and a logo with transparency (a soft mask, allowed in PDF/A-3)
        "multi_page_with_png_logo": render_document(
            issued(draft(lines=many_lines)), InvoiceSettings(logo_path=transparent_png)
        ),
        # a CMYK logo would paint outside the sRGB output intent unless converted
        "cmyk_jpeg_logo": render_document(issued(draft()), InvoiceSettings(logo_path=cmyk_jpeg)),
        # the printable PDF before the e-invoice goes in: no XMP metadata, so not PDF/A
        "without_e_invoice": render_invoice_pdf(original, InvoiceSettings()),
    }
    assert len(PdfReader(io.BytesIO(documents["multi_page_with_png_logo"])).pages) > 1
    verdicts = verapdf(documents)
    refused = verdicts.pop("without_e_invoice")
    assert refused.status == "FAIL" and any(f.startswith("6.6.2.1-1") for f in refused.failures)
    bad = {name: str(v) for name, v in verdicts.items() if v.status != "PASS"}
    assert not bad, "\n".join(f"{name}: {text}" for name, text in bad.items())


def test_the_factur_x_xml_is_attached_as_the_documents_data(tmp_path):
    """What veraPDF checks in general (6.8: /AF, /AFRelationship), with Factur-X's values."""
    reader = PdfReader(io.BytesIO(render_document(issued(draft()), InvoiceSettings())))
    catalog = reader.trailer["/Root"]
    (spec,) = [ref.get_object() for ref in catalog["/AF"]]
    assert spec["/F"] == spec["/UF"] == "factur-x.xml"
    assert spec["/AFRelationship"] in ("/Data", "/Alternative")
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/text/xml"
    assert b"CrossIndustryInvoice" in stream.get_data()


@pytest.fixture
def finance(context, make_user):
    return context.services_for(make_user("fiona", Role.FINANCE)).invoices


def test_stored_invoice_credit_note_and_receipt_pdfs_are_pdfa_3b(verapdf, finance):
    """The bytes the service stores at issue (and prints, saves and exports) are PDF/A-3B,
    and so are the receipts it prints for a payment and for a refund."""
    invoice = finance.issue(finance.new_draft(RUSSIAN, [car_line()], date(2026, 11, 24)))
    paid = finance.record_payment(invoice.number, invoice.totals.due, PaymentMethod.CASH)
    note = finance.credit(invoice.number, "price reduction", Money.of("500.00"))
    refund = finance.record_refund(note.number, Money.of("500.00"), PaymentMethod.BANK_TRANSFER)
    verdicts = verapdf(
        {
            "stored_invoice": finance.pdf(invoice.number, "export"),
            "stored_credit_note": finance.pdf(note.number, "export"),
            "payment_receipt": finance.receipt_pdf(paid.id),
            "refund_receipt": finance.receipt_pdf(refund.id),
        }
    )
    assert {name: v.status for name, v in verdicts.items()} == {
        "stored_invoice": "PASS",
        "stored_credit_note": "PASS",
        "payment_receipt": "PASS",
        "refund_receipt": "PASS",
    }, "\n".join(f"{n}: {v}" for n, v in verdicts.items())


def _receipt(invoice, kind=PaymentKind.PAYMENT, amount="10000.00", **settings) -> bytes:
    payment = Payment(
        id=f"{invoice.number}/1",
        invoice_number=invoice.number,
        kind=kind,
        method=PaymentMethod.CARD if kind is PaymentKind.PAYMENT else PaymentMethod.BANK_TRANSFER,
        amount=Money.of(amount),
        paid_on=date(2026, 11, 26),
        reference="auth 4711 / Ђорђе",
        recorded_by="fiona",
        recorded_at=datetime(2026, 11, 26, 10, tzinfo=UTC),
    )
    return render_receipt_pdf(payment, invoice, Money.of("20437.50"), InvoiceSettings(**settings))


def test_payment_and_refund_receipts_are_pdfa_3b(verapdf, tmp_path):
    """Receipts carry no e-invoice, so they get their PDF/A metadata on their own (pdfa.py);
    names in Cyrillic and with diacritics print in the embedded fonts and come out as text."""
    # A supplier whose name is not Latin-1: the Info entries become UTF-16 and the XMP must
    # still say the same (ISO 19005-3 6.6.2.3).
    cyrillic_supplier = replace(
        draft(customer=RUSSIAN),
        supplier=Party("Ауто Ђурђевић д.о.о.", Address("Ilica 1", "Zagreb", "10000", "HR"), "HR1"),
    )
    note = credit_note_of(issued(draft(customer=CROATIAN)), Money.of("250.00"))
    receipts = {
        "payment_cyrillic_customer": _receipt(issued(draft(customer=RUSSIAN))),
        "refund_croatian_customer": _receipt(note, PaymentKind.REFUND, "250.00"),
        "overpayment": _receipt(issued(draft()), PaymentKind.OVERPAYMENT, "99.99"),
        "cyrillic_supplier": _receipt(issued(cyrillic_supplier)),
        "cmyk_logo": _receipt(
            issued(draft()), logo_path=_logo(tmp_path, "CMYK", (0, 100, 100, 0), "logo.jpg")
        ),
    }
    verdicts = verapdf(receipts)
    bad = {name: str(v) for name, v in verdicts.items() if v.status != "PASS"}
    assert not bad, "\n".join(f"{name}: {text}" for name, text in bad.items())
    for name, customer in (
        ("payment_cyrillic_customer", RUSSIAN.name),
        ("refund_croatian_customer", CROATIAN.name),
        ("cyrillic_supplier", "Ауто Ђурђевић д.о.о."),
    ):
        reader = PdfReader(io.BytesIO(receipts[name]))
        assert customer in reader.pages[0].extract_text()
        xmp = reader.xmp_metadata
        assert (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("3", "B")
        assert xmp.dc_title["x-default"] == reader.metadata.title
    assert (
        "Ауто Ђурђевић д.о.о."
        in PdfReader(io.BytesIO(receipts["cyrillic_supplier"])).metadata.author
    )
