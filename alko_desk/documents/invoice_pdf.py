"""Invoice, credit note and payment receipt PDFs (reportlab).

Every document embeds its fonts (DejaVu Sans, see fonts.py), numbers its pages
("Page 1 of 2"), right-aligns amounts in the currency's format and, for an amount
due in EUR, carries an EPC QR code that a banking app scans into a SEPA transfer.
Rendering is deterministic (`invariant`): the same invoice gives the same bytes.

All of them are PDF/A-3B: the sRGB output intent and the embedded fonts come from here; the
XMP metadata that declares the conformance, and the rewrite that PDF/A's stream syntax
needs, from the factur-x library for invoices and credit notes (which carry their e-invoice)
and from `pdfa.as_pdfa_3b` for receipts.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import segno
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from alko_desk.documents.epc_qr import epc_payload
from alko_desk.documents.fonts import register_fonts
from alko_desk.documents.pdfa import as_pdfa_3b
from alko_desk.models.invoices import (
    Invoice,
    InvoiceSettings,
    Party,
    Payment,
    VatCategory,
)
from alko_desk.models.money import Money, minor_units

# Binary streams: smaller and faster to write than ASCII85, which only 7-bit channels need.
rl_config.useA85 = 0

GREY = colors.HexColor("#555555")
LINE = colors.HexColor("#BBBBBB")
HEAD_BG = colors.HexColor("#EEF1F5")


def format_money(money: Money) -> str:
    """`12,345.67 EUR`: grouped digits, the currency's minor unit, the ISO code after."""
    return f"{money.rounded().amount:,.{minor_units(money.currency)}f} {money.currency}"


def format_amount(money: Money) -> str:
    return f"{money.rounded().amount:,.{minor_units(money.currency)}f}"


def format_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def format_rate(rate) -> str:
    text = f"{rate.normalize():f}"
    return f"{text} %"


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    bold: ParagraphStyle
    title: ParagraphStyle
    right: ParagraphStyle
    right_bold: ParagraphStyle
    cell: ParagraphStyle


def _styles() -> _Styles:
    regular, bold = register_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
        bold=ParagraphStyle("bold", parent=body, fontName=bold),
        title=ParagraphStyle("title", parent=body, fontName=bold, fontSize=17, leading=21),
        right=ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        right_bold=ParagraphStyle("right_bold", parent=body, fontName=bold, alignment=TA_RIGHT),
        cell=ParagraphStyle("cell", parent=body, fontSize=9, leading=11.5),
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(*parts: str) -> str:
    return "<br/>".join(_esc(p) for p in parts if p)


class _NumberedCanvas(rl_canvas.Canvas):
    """Draws "Page n of m" and the footer once the number of pages is known."""

    footer_text = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        _add_output_intent(self)
        super().save()

    def _draw_footer(self, total: int) -> None:
        regular, _ = register_fonts()
        width, _ = A4
        self.setFont(regular, 7.5)
        self.setFillColor(GREY)
        self.setStrokeColor(LINE)
        self.line(18 * mm, 16 * mm, width - 18 * mm, 16 * mm)
        self.drawString(18 * mm, 11 * mm, self.footer_text)
        self.drawRightString(width - 18 * mm, 11 * mm, f"Page {self._pageNumber} of {total}")


@functools.cache
def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _add_output_intent(canvas: rl_canvas.Canvas) -> None:
    """PDF/A needs an output intent: the sRGB profile our colours are meant in."""
    from reportlab.pdfbase.pdfdoc import (
        PDFArray,
        PDFDictionary,
        PDFName,
        PDFStream,
        PDFString,
        PDFZCompress,
    )

    document = canvas._doc
    profile = PDFStream(PDFDictionary({"N": 3}), _srgb_profile(), filters=[PDFZCompress])
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString("sRGB"),
            "Info": PDFString("sRGB IEC61966-2.1"),
            "DestOutputProfile": document.Reference(profile),
        }
    )
    catalog = document.Catalog
    catalog.OutputIntents = PDFArray([intent])
    # reportlab writes only the catalog keys it knows; this instance knows one more
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]


def _canvas_class(footer: str):
    return type("_FooterCanvas", (_NumberedCanvas,), {"footer_text": footer})


def _build(story: list, *, title: str, author: str, footer: str, keywords: str = "") -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=22 * mm,
        title=title,
        author=author,
        subject=title,
        keywords=keywords,
        creator="ALKO Desk",
        invariant=1,
        # Otherwise reportlab starts every page in Helvetica, a font it does not embed (PDF/A).
        initialFontName=register_fonts()[0],
    )
    doc.build(story, canvasmaker=_canvas_class(footer))
    return buffer.getvalue()


def _header(supplier: Party, settings: InvoiceSettings, bank_iban: str, s: _Styles) -> Table:
    details = Paragraph(
        f"<b>{_esc(supplier.name)}</b><br/>"
        + _lines(*supplier.address.lines())
        + f"<br/>VAT ID: {_esc(supplier.vat_id)}"
        + (f"<br/>IBAN: {_esc(bank_iban)}" if bank_iban else ""),
        s.right,
    )
    logo = _logo(settings.logo_path)
    return Table(
        [[logo or "", details]],
        colWidths=[80 * mm, None],
        style=[*_layout(), ("LEFTPADDING", (0, 0), (0, 0), 0)],
    )


def _logo(path: str):
    if not path or not Path(path).is_file():
        return None
    try:
        stat = Path(path).stat()
        image = Image(io.BytesIO(_logo_bytes(path, stat.st_mtime_ns, stat.st_size)))
        ratio = image.imageHeight / float(image.imageWidth or 1)
        image.drawWidth = 45 * mm
        image.drawHeight = 45 * mm * ratio
        image.hAlign = "LEFT"
        return image
    except Exception:  # noqa: BLE001 - an unreadable logo must not stop an invoice
        return None


@functools.lru_cache(maxsize=4)
def _logo_bytes(path: str, _mtime_ns: int, _size: int) -> bytes:
    """The logo as PDF/A can take it: a CMYK (or palette, 16-bit...) image would paint in a
    device colour space that our sRGB output intent does not cover (veraPDF 6.2.4.3), so
    anything but RGB or grey is converted to RGB once per file version."""
    from PIL import Image as PilImage

    with PilImage.open(path) as picture:
        if picture.mode in ("RGB", "RGBA", "L", "LA") and picture.format in ("PNG", "JPEG"):
            return Path(path).read_bytes()
        has_alpha = "A" in picture.getbands() or "transparency" in picture.info
        converted = picture.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    converted.save(out, format="PNG")
    return out.getvalue()


def _key_values(rows: list[tuple[str, str]], s: _Styles) -> Table:
    return Table(
        [[Paragraph(_esc(k), s.small), Paragraph(_esc(v), s.body)] for k, v in rows],
        colWidths=[34 * mm, None],
        style=[
            *_layout(),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ],
    )


def _layout() -> list[tuple]:
    """Every table names our font: reportlab would fall back to Helvetica, which is not embedded."""
    return [
        ("FONTNAME", (0, 0), (-1, -1), register_fonts()[0]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]


def _table_style(header_rows: int = 1) -> TableStyle:
    regular, bold = register_fonts()
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), regular),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("FONTNAME", (0, 0), (-1, header_rows - 1), bold),
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD_BG),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ]
    )


class QrCode(Flowable):
    """A QR code drawn as one filled path (segno encodes: reportlab's own QR widget took
    about 150 ms per invoice to encode and draw; this takes a few)."""

    def __init__(self, payload: str, size: float = 32 * mm) -> None:
        super().__init__()
        # EPC069-12: error correction level M; no boosting, so the level stays as specified
        # A fixed mask: choosing the "best" of eight took half of the whole render, and any
        # mask decodes (ISO/IEC 18004 only recommends the penalty scoring).
        code = segno.make(payload, error="m", micro=False, boost_error=False, mask=4)
        self.matrix = code.matrix
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        quiet = 4  # modules of white border the standard asks for
        modules = len(self.matrix) + 2 * quiet
        step = self.size / modules
        canvas = self.canv
        canvas.setFillColor(colors.black)
        path = canvas.beginPath()
        for row, values in enumerate(self.matrix):
            y = self.size - (row + quiet + 1) * step
            col, width = 0, len(values)
            while col < width:  # one rectangle per run of dark modules
                if not values[col]:
                    col += 1
                    continue
                start = col
                while col < width and values[col]:
                    col += 1
                path.rect((start + quiet) * step, y, (col - start) * step, step)
        canvas.drawPath(path, stroke=0, fill=1)


def _qr(payload: str) -> QrCode:
    return QrCode(payload)


def render_invoice_pdf(invoice: Invoice, settings: InvoiceSettings | None = None) -> bytes:
    """The printable invoice or credit note (without the embedded e-invoice)."""
    settings = settings or InvoiceSettings()
    s = _styles()
    draft = invoice.draft
    totals = invoice.totals
    bank = draft.bank
    story: list = [_header(draft.supplier, settings, bank.iban if bank else "", s)]
    story.append(Spacer(1, 8 * mm))
    story.append(Paragraph(f"{invoice.kind.title} {_esc(invoice.number)}", s.title))
    story.append(Spacer(1, 4 * mm))

    meta = [
        ("Invoice number" if not invoice.is_credit_note else "Credit note number", invoice.number),
        ("Date of issue", format_date(invoice.issue_date)),
        ("Date of supply", format_date(draft.supply_date)),
    ]
    if not invoice.is_credit_note:
        meta.append(("Due date", format_date(invoice.due_date)))
    if invoice.corrects:
        meta.append(
            (
                "Corrects invoice",
                f"{invoice.corrects.number} of {format_date(invoice.corrects.issue_date)}",
            )
        )
    if invoice.reason:
        meta.append(("Reason", invoice.reason))
    if draft.deal_id:
        meta.append(("Deal", draft.deal_id))
    customer = draft.customer
    buyer = Paragraph(
        "<b>Customer</b><br/>"
        + f"<b>{_esc(customer.name)}</b><br/>"
        + _lines(*customer.address.lines())
        + (f"<br/>VAT ID: {_esc(customer.vat_id)}" if customer.vat_id else ""),
        s.body,
    )
    story.append(
        Table(
            [[buyer, _key_values(meta, s)]],
            colWidths=[85 * mm, None],
            style=[*_layout(), ("LEFTPADDING", (0, 0), (0, 0), 0)],
        )
    )
    story.append(Spacer(1, 6 * mm))

    # Lines
    rows: list[list] = [["#", "Description", "Qty", "Unit price", "VAT", "Amount"]]
    for i, line in enumerate(draft.lines, start=1):
        vat_text = (
            format_rate(line.vat_rate) if line.vat_category.charges_vat else line.vat_category.label
        )
        rows.append(
            [
                str(i),
                Paragraph(
                    _esc(line.description) + (f"<br/>VIN: {_esc(line.vin)}" if line.vin else ""),
                    s.cell,
                ),
                f"{line.quantity.normalize():f}",
                format_amount(line.unit_price),
                vat_text,
                format_amount(line.net),
            ]
        )
    lines_table = Table(
        rows, colWidths=[8 * mm, 74 * mm, 12 * mm, 28 * mm, 24 * mm, 28 * mm], repeatRows=1
    )
    lines_table.setStyle(_table_style())
    story.append(lines_table)
    story.append(Spacer(1, 5 * mm))

    # VAT breakdown (Art. 226 (8)-(10)); under the margin scheme no VAT is shown.
    vat_rows: list[list] = [["VAT", "Rate", "Taxable amount", "VAT amount"]]
    for group in totals.breakdown:
        shown = group.category is not VatCategory.MARGIN_SCHEME
        vat_rows.append(
            [
                group.category.label,
                format_rate(group.rate) if group.category.charges_vat else "-",
                format_amount(group.taxable),
                format_amount(group.vat) if shown else "not shown",
            ]
        )
    vat_table = Table(vat_rows, colWidths=[50 * mm, 20 * mm, 40 * mm, 40 * mm], hAlign="RIGHT")
    vat_table.setStyle(_table_style())
    story.append(vat_table)
    story.append(Spacer(1, 4 * mm))

    sums = [
        ["Total without VAT", format_money(totals.taxable)],
        ["VAT", format_money(totals.vat)],
        ["Total", format_money(totals.gross)],
    ]
    for deposit in draft.deposits:
        sums.append(
            [
                f"Deposit received {format_date(deposit.received_on)}"
                + (f" ({deposit.reference})" if deposit.reference else ""),
                "-" + format_money(deposit.amount),
            ]
        )
    label_due = "Amount credited" if invoice.is_credit_note else "Amount due"
    sums.append([label_due, format_money(totals.due)])
    regular, bold = register_fonts()
    sum_table = Table(sums, colWidths=[70 * mm, 40 * mm], hAlign="RIGHT")
    sum_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), regular),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONTNAME", (0, -1), (-1, -1), bold),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("FONTNAME", (0, 2), (-1, 2), bold),
            ]
        )
    )
    story.append(sum_table)
    story.append(Spacer(1, 5 * mm))

    notes = sorted(
        {
            line.vat_category.exemption_text
            for line in draft.lines
            if line.vat_category.exemption_text
        }
    )
    for text in notes:
        story.append(Paragraph(_esc(text), s.bold))
    if notes:
        story.append(Spacer(1, 3 * mm))
    if draft.notes:
        story.append(Paragraph(_esc(draft.notes), s.body))
        story.append(Spacer(1, 3 * mm))

    story.append(_payment_block(invoice, settings, s))
    return _build(
        story,
        title=f"{invoice.kind.title} {invoice.number}",
        author=draft.supplier.name,
        footer=f"{draft.supplier.name} · VAT ID {draft.supplier.vat_id} · {invoice.number}",
    )


def _payment_block(invoice: Invoice, settings: InvoiceSettings, s: _Styles):
    draft = invoice.draft
    due = invoice.totals.due
    bank = draft.bank
    if invoice.is_credit_note:
        text = (
            "This credit note reduces the amount of the invoice it corrects. "
            "Amounts already paid beyond what remains owed are refunded."
        )
        return Paragraph(_esc(text), s.body)
    parts = [
        f"Payment terms: payable within {draft.payment_terms_days} days, "
        f"by {format_date(invoice.due_date)}.",
    ]
    if bank:
        parts.append(
            f"Bank transfer to {draft.supplier.name}, IBAN {bank.iban}"
            + (f", BIC {bank.bic}" if bank.bic else "")
            + (f" ({bank.bank_name})" if bank.bank_name else "")
            + "."
        )
    parts.append(f"Payment reference: {invoice.number}.")
    text = Paragraph(_lines(*parts), s.body)
    payload = (
        epc_payload(
            name=draft.supplier.name,
            iban=bank.iban,
            bic=bank.bic,
            amount=due,
            reference=invoice.number,
        )
        if bank
        else None
    )
    if not payload:
        return text
    caption = Paragraph("Scan to pay (SEPA)", s.small)
    return KeepTogether(
        Table(
            [[text, [_qr(payload), caption]]],
            colWidths=[None, 36 * mm],
            style=[*_layout(), ("LEFTPADDING", (0, 0), (0, 0), 0)],
        )
    )


def render_receipt_pdf(
    payment: Payment,
    invoice: Invoice,
    balance_after: Money,
    settings: InvoiceSettings | None = None,
) -> bytes:
    """A receipt for one payment (or refund) against an invoice (or credit note)."""
    settings = settings or InvoiceSettings()
    s = _styles()
    draft = invoice.draft
    title = "Refund receipt" if payment.kind.value == "refund" else "Payment receipt"
    story: list = [_header(draft.supplier, settings, draft.bank.iban if draft.bank else "", s)]
    story.append(Spacer(1, 8 * mm))
    story.append(Paragraph(f"{title} {_esc(payment.id)}", s.title))
    story.append(Spacer(1, 5 * mm))
    rows = [
        ("Received from" if title == "Payment receipt" else "Paid to", draft.customer.name),
        ("Address", draft.customer.address.one_line()),
        (invoice.kind.title, invoice.number),
        ("Date", format_date(payment.paid_on)),
        ("Method", payment.method.value),
        ("Amount", format_money(payment.amount)),
    ]
    if payment.kind.value == "overpayment":
        rows.append(("Note", "Overpayment beyond the invoice balance"))
    if payment.reference:
        rows.append(("Reference", payment.reference))
    rows.append(("Balance after this entry", format_money(balance_after)))
    rows.append(("Recorded by", payment.recorded_by))
    story.append(_key_values(rows, s))
    printable = _build(
        story,
        title=f"{title} {payment.id}",
        author=draft.supplier.name,
        footer=f"{draft.supplier.name} · VAT ID {draft.supplier.vat_id} · {payment.id}",
        keywords=f"{title}, {invoice.number}",
    )
    # Nothing is embedded in a receipt (an invoice gets its PDF/A metadata with its e-invoice)
    return as_pdfa_3b(printable)
