"""Renders ID documents with a machine-readable zone in the OCR-B font, for the MRZ tests.

The font comes from Debian's fonts-ocr-b (scripts/setup.sh installs it). The rendering is
made to look like a scan or a photo: a pale card with other printed text, then optional
noise, blur and a small rotation.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OCRB = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def render_document(
    lines: list[str],
    *,
    dpi: int = 300,
    noise: float = 0.0,
    blur: float = 0.0,
    rotate: float = 0.0,
    seed: int = 1,
) -> Image.Image:
    """A card (TD1: 85.6 mm, others: 125 mm wide) with its MRZ at the bottom, as RGB."""
    rng = random.Random(seed)
    width_mm = 85.6 if len(lines[0]) == 30 else 125.0
    height_mm = 54.0 if len(lines[0]) == 30 else 88.0
    px = dpi / 25.4
    w, h = int(width_mm * px), int(height_mm * px)
    card = Image.new("RGB", (w, h), (236, 232, 220))
    draw = ImageDraw.Draw(card)
    # OCR-B size 1: 2.54 mm pitch per character? ICAO: ~2.3-2.54 mm per character horizontally.
    pitch_mm = (width_mm - 8) / len(lines[0])
    font = ImageFont.truetype(str(OCRB), size=int(pitch_mm * px * 1.42))
    sans = ImageFont.truetype(str(SANS), size=int(2.6 * px))
    draw.rectangle([int(4 * px), int(6 * px), int(28 * px), int(36 * px)], fill=(180, 170, 160))
    for i, text in enumerate(("REPUBLIC OF UTOPIA", "IDENTITY CARD", "Surname / Nom", "ERIKSSON")):
        draw.text((int(32 * px), int((6 + i * 5) * px)), text, fill=(40, 40, 60), font=sans)
    line_h = 4.2 * px
    top = h - int(len(lines) * line_h + 3 * px)
    for i, text in enumerate(lines):
        draw.text((int(4 * px), int(top + i * line_h)), text, fill=(10, 10, 10), font=font)
    # Put the card on a darker scanner bed so that a rotation has somewhere to go.
    bed = Image.new("RGB", (w + int(20 * px), h + int(20 * px)), (250, 250, 250))
    bed.paste(card, (int(10 * px), int(10 * px)))
    image = bed
    if rotate:
        image = image.rotate(rotate, resample=Image.BICUBIC, expand=True, fillcolor=(250, 250, 250))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        pixels = image.load()
        for _ in range(int(image.width * image.height * noise)):
            x, y = rng.randrange(image.width), rng.randrange(image.height)
            v = rng.choice((0, 255))
            pixels[x, y] = (v, v, v)
    return image
