"""A PDF's pages for the capture dialog, rendered with QtPdf (the window's own PDF engine).

The command line's `document read-mrz` renders with pypdfium2 (services/images.py) because it
runs without Qt; the window uses QtPdf, as the desk's other PDF views do. Called in a worker
thread: the QPdfDocument is made, used and dropped there, and only plain Pillow images leave.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
from PySide6.QtGui import QImage
from PySide6.QtPdf import QPdfDocument

from alko_desk.models.errors import ValidationError
from alko_desk.services import images


def pdf_pages(data: bytes, dpi: int = images.PDF_DPI, limit: int = images.MAX_FILE_PAGES):
    """Every page of the PDF, in order, as RGB images at `dpi`; more than `limit` refused."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    if document.status() != QPdfDocument.Status.Ready:
        raise ValidationError(
            "This PDF cannot be opened: it is damaged or protected by a password."
        )
    count = document.pageCount()
    if count == 0:
        raise ValidationError("This PDF has no pages.")
    images.check_page_count(count, limit)
    pages = []
    for number in range(min(count, limit)):
        points = document.pagePointSize(number)
        size = QSize(
            max(1, round(points.width() * dpi / 72)), max(1, round(points.height() * dpi / 72))
        )
        rendered = document.render(number, size).convertToFormat(QImage.Format.Format_RGB888)
        pages.append(_to_pillow(rendered))
    document.close()
    buffer.close()
    return pages


def _to_pillow(image: QImage) -> Image.Image:
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    raw = bytes(image.constBits())[: stride * height]
    return Image.frombuffer("RGB", (width, height), raw, "raw", "RGB", stride, 1).copy()


def open_pages(path) -> list[Image.Image]:
    """A file's pages for the dialog: PDFs through QtPdf, images through Pillow."""
    data = images.read_file(path)
    if images.media_type_of(data) == images.PDF:
        return pdf_pages(data)
    return images.open_pages_bytes(data)
