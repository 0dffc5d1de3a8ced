"""Invoice, credit note and receipt PDFs: mandatory fields, fonts, page numbers, EPC QR code."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from alko_desk.documents.epc_qr import epc_payload
from alko_desk.documents.invoice_pdf import format_money, render_invoice_pdf, render_receipt_pdf
from alko_desk.models.invoices import (
    InvoiceLine,
    Payment,
    PaymentKind,
    PaymentMethod,
    VatCategory,
)
from alko_desk.models.money import Money
from tests.invoice_data import (
    CROATIAN,
    GERMAN_BUSINESS,
    NEW_CAR_VIN,
    RUSSIAN,
    USED_CAR_VIN,
    credit_note_of,
    deposit_draft,
    draft,
    intra_community_draft,
    issued,
    margin_draft,
)


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_carries_every_mandatory_field_of_article_226():
    invoice = issued(draft())
    text = pdf_text(render_invoice_pdf(invoice))
    for expected in [
        "ALKO-2026-000001",  # sequential number
        "25.11.2026",  # date of issue
        "24.11.2026",  # date of supply
        "03.12.2026",  # due date
        "ALKO Cars d.o.o.",
        "Ilica 1",
        "10000 Zagreb",
        "HR12345678901",  # supplier VAT ID
        "Željko Kovačević",
        "Vukovarska 12",
        "21000 Split",
        NEW_CAR_VIN,
        "Volkswagen Golf 1.5 TSI Life",
        "24,350.00",  # taxable amount at 25 %
        "25 %",  # rate
        "6,087.50",  # VAT amount
        "30,437.50 EUR",  # total
        "HR1210010051863000160",  # bank details
        "PBZGHR2X",
        "payable within 8 days",
        "Page 1 of 1",
    ]:
        assert expected in text, expected


def test_cyrillic_and_diacritic_names_come_out_as_the_same_text():
    for customer in (CROATIAN, RUSSIAN):
        text = pdf_text(render_invoice_pdf(issued(draft(customer=customer))))
        assert customer.name in text
        assert customer.address.street in text


def test_fonts_are_embedded_not_referenced():
    reader = PdfReader(io.BytesIO(render_invoice_pdf(issued(draft(customer=RUSSIAN)))))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        if "/DescendantFonts" in font:
            font = font["/DescendantFonts"][0].get_object()
        assert "DejaVuSans" in font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"], font["/BaseFont"]


def test_margin_scheme_invoice_shows_no_vat_and_names_the_scheme():
    text = pdf_text(render_invoice_pdf(issued(margin_draft())))
    assert USED_CAR_VIN in text
    assert "Margin scheme - Second-hand goods" in text
    assert "Article 313" in text
    assert "not shown" in text
    assert "12,500.00 EUR" in text


def test_intra_community_invoice_shows_both_vat_ids_and_the_exemption():
    text = pdf_text(render_invoice_pdf(issued(intra_community_draft())))
    assert GERMAN_BUSINESS.vat_id in text
    assert "HR12345678901" in text
    assert "Intra-community supply — reverse charge/exempt" in text
    assert "Art. 138 Directive 2006/112/EC" in text


def test_deposit_is_deducted_with_its_date():
    text = pdf_text(render_invoice_pdf(issued(deposit_draft())))
    assert "Deposit received 02.11.2026 (DEP-77)" in text
    assert "-3,000.00 EUR" in text
    assert "27,437.50 EUR" in text  # 30,437.50 less the deposit


def test_long_invoice_numbers_its_pages():
    lines = tuple(
        InvoiceLine(f"Accessory {i}", Decimal(1), Money.of("10"), VatCategory.STANDARD, Decimal(25))
        for i in range(80)
    )
    pdf = render_invoice_pdf(issued(draft(lines=lines)))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    last = len(reader.pages)
    assert f"Page 1 of {last}" in reader.pages[0].extract_text()
    assert f"Page {last} of {last}" in reader.pages[-1].extract_text()


def test_epc_qr_payload_carries_amount_and_reference_in_eur_only():
    payload = epc_payload(
        name="ALKO Cars d.o.o.",
        iban="HR12 1001 0051 8630 0016 0",
        bic="PBZGHR2X",
        amount=Money.of("27437.5"),
        reference="ALKO-2026-000001",
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "PBZGHR2X",
        "ALKO Cars d.o.o.",
        "HR1210010051863000160",
        "EUR27437.50",
        "",
        "",
        "ALKO-2026-000001",
    ]
    assert epc_payload(name="x", iban="HR12", amount=Money.of("10", "HUF"), reference="r") is None
    assert epc_payload(name="x", iban="HR12", amount=Money.zero(), reference="r") is None


def test_qr_code_is_drawn_only_for_eur():
    eur = render_invoice_pdf(issued(draft()))
    assert "Scan to pay" in pdf_text(eur)
    huf_lines = (replace(draft().lines[0], unit_price=Money.of("9000000", "HUF")),)
    huf = render_invoice_pdf(issued(replace(draft(lines=huf_lines), currency="HUF")))
    text = pdf_text(huf)
    assert "Scan to pay" not in text
    assert "11,250,000.00 HUF" in text


def _right_edges(pdf: bytes) -> dict[str, list[float]]:
    """Each piece of text on page 1 with where it ends on the right (points), in the font and
    size it was drawn with (the embedded fonts' widths, as reportlab measured them)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from alko_desk.documents.fonts import register_fonts

    regular, bold = register_fonts()
    edges: dict[str, list[float]] = {}

    def visit(text, cm, tm, font, size):
        if not text.strip() or font is None:
            return
        name = bold if str(font["/BaseFont"]).endswith("Bold") else regular
        x = tm[4] * cm[0] + cm[4]
        edges.setdefault(text.strip(), []).append(x + stringWidth(text.strip(), name, size))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return edges


def test_amounts_are_right_aligned_in_their_columns():
    lines = (
        InvoiceLine("Car", Decimal(1), Money.of("24000.00"), VatCategory.STANDARD, Decimal(25)),
        InvoiceLine("Mats", Decimal(1), Money.of("350.00"), VatCategory.STANDARD, Decimal(25)),
    )
    edges = _right_edges(render_invoice_pdf(issued(draft(lines=lines))))
    unit_price, amount = edges["24,000.00"]  # the big line's unit price and its amount
    assert edges["350.00"] == pytest.approx([unit_price, amount], abs=0.5)
    assert amount - unit_price > 50  # two columns, not one
    totals = edges["24,350.00 EUR"][-1], edges["6,087.50 EUR"][-1], edges["30,437.50 EUR"][0]
    assert max(totals) - min(totals) < 0.5  # the totals' figures end on one line (the total bold)


def test_amounts_follow_the_currency_minor_unit():
    assert format_money(Money.of("1234567.5")) == "1,234,567.50 EUR"
    assert format_money(Money.of("1500", "JPY")) == "1,500 JPY"


def test_credit_note_pdf_refers_to_its_invoice():
    original = issued(draft())
    note = credit_note_of(original, Money.of("1250.00"))
    text = pdf_text(render_invoice_pdf(note))
    assert "Credit note ALKO-CN-2026-000001" in text
    assert "Corrects invoice" in text
    assert "ALKO-2026-000001 of" in text
    assert "25.11.2026" in text
    assert "price reduction" in text
    assert "1,250.00 EUR" in text
    assert note.totals.gross == Money.of("1250.00")


@pytest.mark.parametrize("partial", ["0.01", "999.99", "30437.49"])
def test_partial_credit_vat_is_consistent(partial):
    original = issued(draft(lines=(draft().lines[0], margin_draft().lines[0])))
    note = credit_note_of(original, Money.of(partial))
    assert abs((note.totals.gross - Money.of(partial)).amount) <= Decimal("0.01")


def test_receipt_pdf_names_payment_and_balance():
    invoice = issued(draft(customer=RUSSIAN))
    payment = Payment(
        id="ALKO-2026-000001/P1",
        invoice_number=invoice.number,
        kind=PaymentKind.PAYMENT,
        method=PaymentMethod.CARD,
        amount=Money.of("10000"),
        paid_on=date(2026, 11, 26),
        reference="auth 4711",
        recorded_by="fiona",
        recorded_at=datetime(2026, 11, 26, 10, tzinfo=UTC),
    )
    text = pdf_text(render_receipt_pdf(payment, invoice, Money.of("20437.50")))
    for expected in (RUSSIAN.name, "10,000.00 EUR", "20,437.50 EUR", "card", "auth 4711"):
        assert expected in text


def test_epc_qr_code_printed_on_the_invoice_scans_back(tmp_path, qapp):
    """Renders the page as a printer would and reads the QR code with zbarimg (zbar-tools)."""
    import shutil
    import subprocess

    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg (zbar-tools, scripts/setup.sh --tests) is not installed")
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtPdf import QPdfDocument

    pdf_file = tmp_path / "invoice.pdf"
    pdf_file.write_bytes(render_invoice_pdf(issued(deposit_draft())))
    document = QPdfDocument()
    document.load(str(pdf_file))
    page = document.render(0, QSize(1700, 2404))
    paper = QImage(page.size(), QImage.Format.Format_RGB32)
    paper.fill(Qt.GlobalColor.white)
    painter = QPainter(paper)
    painter.drawImage(0, 0, page)
    painter.end()
    paper.save(str(tmp_path / "page.png"))
    scanned = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert scanned.stdout.rstrip("\n").split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "PBZGHR2X",
        "ALKO Cars d.o.o.",
        "HR1210010051863000160",
        "EUR27437.50",
        "",
        "",
        "ALKO-2026-000001",
    ]


def test_a_font_copy_ships_with_the_package_for_machines_without_dejavu():
    from reportlab.pdfbase.ttfonts import TTFont

    from alko_desk.documents.fonts import _shipped

    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        path = _shipped(name)
        assert path.is_file() and "resources" in path.parts
        assert TTFont(f"probe-{name}", str(path)).face.charToGlyph.get(ord("Ж"))
