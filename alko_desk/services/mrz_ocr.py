"""Finding and reading the machine-readable zone of a scan or photo with Tesseract OCR.

The image is brought to a size Tesseract reads well, straightened (the angle that makes
the rows of text sharpest), and read with only the MRZ's characters allowed, first the
bottom of the document where the zone always is, then the whole image, then upside down.
The text goes to `services.mrz`, which finds the lines, checks and repairs them.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from alko_desk.models.documents import MrzReading
from alko_desk.models.errors import AlkoError
from alko_desk.services.mrz import ALPHABET, read_text

WORK_WIDTH = 1400  # pixels across the document: MRZ characters come out 25-35 px high
SKEW_LIMIT = 8.0  # degrees tried either way
TESSERACT_ARGS = [
    "-l",
    "eng",
    "--psm",
    "6",
    "--oem",
    "1",
    "-c",
    f"tessedit_char_whitelist={ALPHABET}",
    "-c",
    "load_system_dawg=0",
    "-c",
    "load_freq_dawg=0",
]


class OcrUnavailable(AlkoError):
    pass


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _ocr(image: Image.Image) -> list[str]:
    """Tesseract's text for the image, passed through a pipe: the scan never touches a disk."""
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)
    command = ["tesseract", "stdin", "stdout", *TESSERACT_ARGS]
    # One thread: Tesseract's OpenMP threads cost more than they gain on small crops.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            command, input=png.getvalue(), capture_output=True, timeout=20, env=env, check=False
        )
    except FileNotFoundError:
        raise OcrUnavailable(
            "Tesseract OCR is not installed, so the MRZ cannot be read.",
            hint="Install it (on Debian or Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng).",
        ) from None
    except subprocess.TimeoutExpired:
        return []
    if done.returncode != 0:
        raise OcrUnavailable(
            "Tesseract OCR failed to read the image.",
            hint=done.stderr.decode("utf-8", "replace").strip()[-300:],
        )
    return done.stdout.decode("utf-8", "replace").splitlines()


def prepare(image: Image.Image) -> Image.Image:
    """Greyscale, a workable size and straightened."""
    gray = ImageOps.grayscale(image) if image.mode != "L" else image
    scale = WORK_WIDTH / gray.width
    if scale < 0.9 or scale > 1.6:
        size = (WORK_WIDTH, max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.LANCZOS if scale < 1 else Image.BICUBIC)
    gray = ImageOps.autocontrast(gray, cutoff=1)
    angle = estimate_skew(gray)
    if abs(angle) >= 0.25:
        gray = gray.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    return gray


def estimate_skew(gray: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes text rows most distinct."""
    small = gray.resize((500, max(1, round(gray.height * 500 / gray.width))), Image.BILINEAR)
    dark = Image.fromarray(((np.asarray(small) < 110) * 255).astype(np.uint8))

    def score(angle: float) -> float:
        rotated = np.asarray(dark.rotate(angle, resample=Image.NEAREST, fillcolor=0))
        rows = rotated.sum(axis=1, dtype=np.float64)
        return float(np.square(np.diff(rows)).sum())

    coarse = max(np.arange(-SKEW_LIMIT, SKEW_LIMIT + 0.01, 1.0), key=score)
    fine = max(np.arange(coarse - 0.8, coarse + 0.81, 0.2), key=score)
    return float(fine)


def _otsu(values: np.ndarray) -> int:
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    cum = np.cumsum(hist)
    cum_mean = np.cumsum(hist * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (cum_mean[-1] * cum - cum_mean * total) ** 2 / (cum * (total - cum))
    return int(np.nanargmax(between))


def find_zone(gray: Image.Image) -> tuple[int, int, int, int] | None:
    """The box around the MRZ: two or three long, evenly spaced lines of equal height.

    Rows of text are found from the share of dark pixels in each row; an MRZ line is much
    wider than it is high (30 to 44 characters), which other printed lines rarely are.
    """
    a = np.asarray(gray.filter(ImageFilter.MedianFilter(3)))
    dark = a < min(_otsu(a), 150)
    h, w = dark.shape
    rows = dark.sum(axis=1)
    text = rows > max(3, w * 0.01)
    bands: list[tuple[int, int, int, int]] = []  # top, bottom, left, right
    y = 0
    while y < h:
        if not text[y]:
            y += 1
            continue
        top = y
        while y < h and text[y]:
            y += 1
        bottom = y
        if bottom - top < 3:
            continue
        cols = np.flatnonzero(dark[top:bottom].sum(axis=0))
        if len(cols) < 2:
            continue
        left, right = int(np.percentile(cols, 1)), int(np.percentile(cols, 99))
        bands.append((top, bottom, left, right))
    lines = [b for b in bands if (b[3] - b[2]) >= 12 * (b[1] - b[0])]
    best = None
    for count in (3, 2):
        for i in range(len(lines) - count + 1):
            group = lines[i : i + count]
            heights = [b[1] - b[0] for b in group]
            widths = [b[3] - b[2] for b in group]
            gaps = [group[j + 1][0] - group[j][1] for j in range(count - 1)]
            if max(heights) > 1.6 * min(heights) or max(widths) > 1.35 * min(widths):
                continue
            if max(gaps) > 1.5 * max(heights):
                continue
            top, bottom = group[0][0], group[-1][1]
            if best is None or bottom > best[3]:  # the zone is the lowest such group
                best = (min(b[2] for b in group), top, max(b[3] for b in group), bottom)
        if best:
            break
    if best is None:
        return None
    left, top, right, bottom = best
    pad_y, pad_x = (bottom - top) // 4 + 3, (right - left) // 40 + 3
    return max(0, left - pad_x), max(0, top - pad_y), min(w, right + pad_x), min(h, bottom + pad_y)


def _find_zone_fast(gray: Image.Image) -> tuple[int, int, int, int] | None:
    """find_zone on a half-size copy (a quarter of the pixels), scaled back."""
    half = gray.resize((gray.width // 2, gray.height // 2), Image.BILINEAR)
    zone = find_zone(half)
    if zone is None:
        return None
    left, top, right, bottom = (2 * v for v in zone)
    return left, top, min(gray.width, right), min(gray.height, bottom)


def _regions(gray: Image.Image) -> Iterator[Image.Image]:
    w, h = gray.size
    zone = _find_zone_fast(gray)
    if zone:
        crop = gray.crop(zone)
        yield crop.filter(ImageFilter.MedianFilter(3))  # speckles of a scan or photo
        yield crop
    yield gray.crop((0, int(h * 0.5), w, h))  # the zone is at the bottom of every format
    yield gray
    yield gray.rotate(180)  # a document scanned upside down


def read_mrz_image(image: Image.Image, today: date) -> MrzReading | None:
    """The MRZ of a document image, or None when none is found."""
    gray = prepare(image)
    best: MrzReading | None = None
    for region in _regions(gray):
        reading = read_text(_ocr(region), today)
        if reading is None:
            continue
        if reading.valid:
            return reading
        if best is None or len(reading.failed_checks) < len(best.failed_checks):
            best = reading
    return best
