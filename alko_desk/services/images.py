"""Opening scans and photos (PNG, JPEG, TIFF, the first page of a PDF) and preparing them.

Pillow decodes the images; pypdfium2 renders a PDF's first page. Nothing here touches a
disk except to read the file it is given.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from alko_desk.models.errors import ValidationError

DEFAULT_MAX_SIDE = 2000
PAGE_SIDE_RANGE = (800, 6000)  # what Settings may choose: an MRZ stays readable, a page small
PDF_DPI = 200
MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "TIFF": "image/tiff",
}
PDF = "application/pdf"


def media_type_of(data: bytes) -> str:
    """The media type from the file's own signature, whatever its name says."""
    if data.startswith(b"%PDF"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    raise ValidationError(
        "This file is not a PNG, JPEG, TIFF or PDF document.",
        {"file": "Choose a scan or photo in PNG, JPEG, TIFF or PDF."},
    )


def open_image_bytes(data: bytes, *, pdf_dpi: int = PDF_DPI) -> Image.Image:
    """The image (for a PDF, its first page rendered), upright per its EXIF orientation."""
    if media_type_of(data) == PDF:
        return _pdf_first_page(data, pdf_dpi)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError(
            "This image cannot be read: the file is damaged or not an image.",
            {"file": "Choose another scan or photo."},
        ) from None
    return ImageOps.exif_transpose(image)


def open_image(path: Path, *, pdf_dpi: int = PDF_DPI) -> Image.Image:
    return open_image_bytes(read_file(path), pdf_dpi=pdf_dpi)


def read_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise ValidationError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read: {exc.strerror}.") from None


def _pdf_first_page(data: bytes, dpi: int) -> Image.Image:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise ValidationError(
            "This PDF cannot be opened: it is damaged or protected by a password."
        ) from None
    try:
        if len(pdf) == 0:
            raise ValidationError("This PDF has no pages.")
        page = pdf[0]
        try:
            return page.render(scale=dpi / 72).to_pil()
        finally:
            page.close()
    finally:
        pdf.close()


def downscale(image: Image.Image, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """At most `max_side` pixels on the long side, so that uploads stay small."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.LANCZOS)


def rotate(image: Image.Image, quarter_turns: int) -> Image.Image:
    """Rotated clockwise by 90° steps."""
    turns = quarter_turns % 4
    if turns == 0:
        return image
    return image.transpose(
        {
            1: Image.Transpose.ROTATE_270,
            2: Image.Transpose.ROTATE_180,
            3: Image.Transpose.ROTATE_90,
        }[turns]
    )


def crop(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    left, top, right, bottom = box
    left, top = max(0, left), max(0, top)
    right, bottom = min(image.width, right), min(image.height, bottom)
    if right - left < 16 or bottom - top < 16:
        raise ValidationError("The crop is too small: choose a larger part of the image.")
    return image.crop((left, top, right, bottom))


def encode(image: Image.Image, fmt: str = "JPEG", quality: int = 88) -> tuple[bytes, str]:
    """The image as file bytes and their media type (JPEG for photos, PNG when asked)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
    else:
        image.save(out, fmt)
    return out.getvalue(), MEDIA_TYPES[fmt]
