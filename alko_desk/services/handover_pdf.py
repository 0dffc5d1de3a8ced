"""The handover certificate: one A4 page both parties sign when the car is handed over.

Drawn with reportlab in DejaVu Sans, embedded in the PDF (a subset), so Croatian diacritics
and Cyrillic names print on any viewer. The fonts come from the system (Debian/Ubuntu:
fonts-dejavu-core, installed by scripts/setup.sh).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from alko_desk.models.company import CompanyProfile
from alko_desk.models.deals import Deal
from alko_desk.models.errors import AlkoError
from alko_desk.models.vehicles import Vehicle

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path.home() / ".local/share/fonts",
    Path("C:/Windows/Fonts"),
)
_registered: dict[str, str] = {}


def _find_font(file_name: str) -> Path | None:
    for folder in FONT_DIRS:
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}", file_name.removesuffix(".ttf")],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
        if out.endswith(file_name):
            return Path(out)
    return None


def _fonts() -> tuple[str, str]:
    """Registers DejaVu Sans (regular and bold) once; returns their reportlab names."""
    if not _registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        for name, file_name in (
            ("DejaVuSans", "DejaVuSans.ttf"),
            ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf"),
        ):
            path = _find_font(file_name)
            if path is None:
                raise AlkoError(
                    "The handover certificate needs the DejaVu Sans font, which is not installed.",
                    hint="On Debian or Ubuntu: apt-get install fonts-dejavu-core",
                )
            pdfmetrics.registerFont(TTFont(name, str(path)))
            _registered[name] = str(path)
    return "DejaVuSans", "DejaVuSans-Bold"


def render_handover_certificate(
    deal: Deal, vehicle: Vehicle, company: CompanyProfile, client_name: str
) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    regular, bold = _fonts()
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Handover certificate {deal.id}")
    pdf.setAuthor(company.name)
    width, height = A4
    left, y = 20 * mm, height - 22 * mm

    def line(text: str, *, size: float = 10, font: str = regular, gap: float = 5.5) -> None:
        nonlocal y
        pdf.setFont(font, size)
        pdf.drawString(left, y, text)
        y -= gap * mm

    def row(label: str, value: str) -> None:
        nonlocal y
        pdf.setFont(bold, 10)
        pdf.drawString(left, y, label)
        pdf.setFont(regular, 10)
        pdf.drawString(left + 55 * mm, y, value)
        y -= 5.5 * mm

    line(company.name, size=13, font=bold, gap=5)
    line(company.address, size=9, gap=4)
    line(f"VAT ID {company.vat_id}", size=9, gap=12)
    line("Vehicle handover certificate", size=16, font=bold, gap=10)
    row("Deal", deal.id)
    if deal.invoice_number:
        row("Invoice", deal.invoice_number)
    if deal.delivery:
        d = deal.delivery
        row("Handed over", f"{d.day:%d.%m.%Y} {d.at:%H:%M}, {d.place}")
        row("By", d.staff)
    y -= 3 * mm
    line("Buyer", size=12, font=bold, gap=6)
    row("Name", client_name)
    row("Client number", deal.client_id)
    y -= 3 * mm
    line("Vehicle", size=12, font=bold, gap=6)
    row("Vehicle", vehicle.title)
    row("VIN", vehicle.vin)
    if vehicle.draft.colour:
        row("Colour", vehicle.draft.colour)
    row("Condition", vehicle.draft.condition.label)
    ck = deal.checklist
    if ck:
        y -= 3 * mm
        line("Handover checklist", size=12, font=bold, gap=6)
        yes_no = {True: "yes", False: "NO"}
        row("Documents handed over", yes_no[ck.documents])
        row("Keys", str(ck.keys))
        row("Plates", yes_no[ck.plates])
        row("Fuel / charge level", f"{ck.fuel_level_percent} %")
        row("Mileage at handover", f"{ck.mileage_km:,} km".replace(",", "."))
        notes = ck.damage_notes.strip() or "none"
        pdf.setFont(bold, 10)
        pdf.drawString(left, y, "Damage notes")
        text = pdf.beginText(left + 55 * mm, y)
        text.setFont(regular, 10)
        for part in _wrap(notes, 70):
            text.textLine(part)
        pdf.drawText(text)
        y -= (5.5 * max(1, len(_wrap(notes, 70)))) * mm
    y -= 6 * mm
    line(
        "The buyer confirms receiving the vehicle, its documents and keys as listed above.",
        size=9,
        gap=22,
    )
    pdf.setLineWidth(0.5)
    for x, who in ((left, f"Buyer: {client_name}"), (left + 90 * mm, f"For {company.name}")):
        pdf.line(x, y, x + 70 * mm, y)
        pdf.setFont(regular, 9)
        pdf.drawString(x, y - 5 * mm, who)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words, current = paragraph.split(), ""
        for word in words:
            if current and len(current) + 1 + len(word) > width:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}".strip()
        lines.append(current)
    return lines
