"""The TTF fonts embedded in every PDF, so that any client name prints (diacritics, Cyrillic).

DejaVu Sans is looked up on the system (fontconfig, then the Debian path of
fonts-dejavu-core); the copy shipped in alko_desk/resources/fonts (with its licence) is
the fallback.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "AlkoSans"
BOLD = "AlkoSans-Bold"

_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_FC_PATTERNS = {REGULAR: "DejaVu Sans:style=Book", BOLD: "DejaVu Sans:style=Bold"}
_KNOWN_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/Library/Fonts"),
)


def _fc_match(pattern: str, filename: str) -> Path | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(
            ["fc-match", "--format=%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out) if out else None
    # fc-match always answers something; accept it only if it is the font we asked for.
    return path if path and path.name == filename and path.is_file() else None


def font_file(name: str) -> Path:
    filename = _FILES[name]
    found = _fc_match(_FC_PATTERNS[name], filename)
    if found:
        return found
    for folder in _KNOWN_DIRS:
        if (folder / filename).is_file():
            return folder / filename
    return _shipped(filename)


def _shipped(filename: str) -> Path:
    """The copy inside the package (alko_desk/resources/fonts), wherever it is installed."""
    try:
        from alko_desk.resources import resource_path

        path = Path(resource_path(f"fonts/{filename}"))
        if path.is_file():
            return path
    except (ImportError, RuntimeError):
        pass
    return Path(__file__).resolve().parent.parent / "resources" / "fonts" / filename


@functools.cache
def register_fonts() -> tuple[str, str]:
    """Registers the regular and bold font with reportlab once; returns their names."""
    for name in (REGULAR, BOLD):
        pdfmetrics.registerFont(TTFont(name, str(font_file(name))))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)
    return REGULAR, BOLD
