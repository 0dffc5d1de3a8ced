"""Opening scans and photos (PNG, JPEG, TIFF, PDF) and preparing them.

Pillow decodes the images; pypdfium2 renders a PDF's pages. `open_image` gives the first
page (the MRZ is read from it); `open_pages` every page of a multi-page PDF or TIFF, so that
the front and back of an ID card scanned into one file stay one document. Nothing here
touches a disk except to read the file it is given.
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
MAX_FILE_PAGES = 10  # the most pages a document may have (services/documents.py MAX_PAGES)


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
    return open_pages_bytes(data, pdf_dpi=pdf_dpi, limit=1)[0]


def open_pages_bytes(
    data: bytes, *, pdf_dpi: int = PDF_DPI, limit: int = MAX_FILE_PAGES
) -> list[Image.Image]:
    """Every page of the file, in order (a PDF's pages rendered, a TIFF's frames), upright;
    more than `limit` pages is refused rather than cut short."""
    if media_type_of(data) == PDF:
        return _pdf_pages(data, pdf_dpi, limit)
    try:
        image = Image.open(io.BytesIO(data))
        count = getattr(image, "n_frames", 1)
        check_page_count(count, limit)
        pages = []
        for frame in range(min(count, limit)):
            image.seek(frame)
            image.load()
            pages.append(ImageOps.exif_transpose(image.copy()))
    except (UnidentifiedImageError, OSError, EOFError, Image.DecompressionBombError):
        raise ValidationError(
            "This image cannot be read: the file is damaged or not an image.",
            {"file": "Choose another scan or photo."},
        ) from None
    return pages


def open_image(path: Path, *, pdf_dpi: int = PDF_DPI) -> Image.Image:
    return open_image_bytes(read_file(path), pdf_dpi=pdf_dpi)


def open_pages(path: Path, *, pdf_dpi: int = PDF_DPI) -> list[Image.Image]:
    return open_pages_bytes(read_file(path), pdf_dpi=pdf_dpi)


def check_page_count(count: int, limit: int) -> None:
    if count > limit and limit > 1:
        raise ValidationError(
            f"This file has {count} pages; a document has at most {limit}.",
            {"file": "Split the file, or scan the document's pages on their own."},
        )


def read_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise ValidationError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read: {exc.strerror}.") from None


def _pdf_pages(data: bytes, dpi: int, limit: int) -> list[Image.Image]:
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
        check_page_count(len(pdf), limit)
        pages = []
        for number in range(min(len(pdf), limit)):
            page = pdf[number]
            try:
                pages.append(page.render(scale=dpi / 72).to_pil())
            finally:
                page.close()
        return pages
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
