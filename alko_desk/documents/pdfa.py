"""PDF/A-3B for a PDF that reportlab wrote, when nothing else (factur-x) finishes it.

reportlab writes the sRGB output intent and embeds the fonts (invoice_pdf.py), but no XMP
metadata, and its streams end without the end-of-line that PDF/A wants before `endstream`.
pypdf rewrites the file (as factur-x does for invoices) and adds the XMP: the PDF/A-3B
declaration and every document-information entry repeated, as ISO 19005-3 6.6.2.3 requires
the two to agree. Checked by veraPDF in tests/test_pdfa.py.
"""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape

from pypdf import PdfWriter
from pypdf.generic import NameObject, TextStringObject

LANGUAGE = "en-GB"  # the language of the printed text (the documents' labels are English)

_PDF_DATE = re.compile(
    r"D:(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})'(\d{2})'?|Z)?"
)


def xmp_date(pdf_date: str) -> str:
    """`D:20261126101500+01'00'` as XMP writes it: `2026-11-26T10:15:00+01:00`."""
    match = _PDF_DATE.match(pdf_date or "")
    if match is None:
        raise ValueError(f"not a PDF date: {pdf_date!r}")
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    zone = f"{sign}{off_h}:{off_m}" if sign else "Z"
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}{zone}"


def _text(value) -> str:
    return escape(str(value or ""))


def pdfa_xmp(info: dict[str, str]) -> bytes:
    """The XMP packet: PDF/A-3B, and the Info entries under their XMP names."""
    fields = [
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        "<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        "</rdf:Description>",
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:format>application/pdf</dc:format>"
        + _alt("dc:title", info.get("/Title"))
        + (
            f"<dc:creator><rdf:Seq><rdf:li>{_text(info['/Author'])}</rdf:li></rdf:Seq></dc:creator>"
            if info.get("/Author")
            else ""
        )
        + _alt("dc:description", info.get("/Subject"))
        + "</rdf:Description>",
        '<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        + _simple("pdf:Producer", info.get("/Producer"))
        + _simple("pdf:Keywords", info.get("/Keywords"))
        + "</rdf:Description>",
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        + _simple("xmp:CreatorTool", info.get("/Creator"))
        + _simple(
            "xmp:CreateDate", xmp_date(info["/CreationDate"]) if "/CreationDate" in info else ""
        )
        + _simple("xmp:ModifyDate", xmp_date(info["/ModDate"]) if "/ModDate" in info else "")
        + "</rdf:Description>",
    ]
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        + "\n".join(fields)
        + "\n</rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode("utf-8")


def _simple(name: str, value) -> str:
    return f"<{name}>{_text(value)}</{name}>" if value else ""


def _alt(name: str, value) -> str:
    if not value:
        return ""
    return (
        f'<{name}><rdf:Alt><rdf:li xml:lang="x-default">{_text(value)}</rdf:li></rdf:Alt></{name}>'
    )


def as_pdfa_3b(pdf: bytes, language: str = LANGUAGE) -> bytes:
    """The same document, rewritten as PDF/A-3B (its Info entries kept, the XMP added)."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    info = {str(k): str(v) for k, v in (writer.metadata or {}).items()}
    writer.xmp_metadata = pdfa_xmp(info)
    stream = writer.root_object["/Metadata"].get_object()
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    writer.root_object[NameObject("/Lang")] = TextStringObject(language)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
