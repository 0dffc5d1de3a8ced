"""A private SANE configuration whose only backend is `test` (a virtual scanner).

SANE reads SANE_CONFIG_DIR once per process, at its first initialisation, so every test
and benchmark in a process uses this one configuration: call `use_test_scanner()` before
anything scans.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The virtual scanner's page: an ID card (85.6 x 54 mm) of colour bars, in colour.
TEST_CONF = """\
number_of_devices 1
mode Color
test-picture "Color pattern"
br_x 85.6
br_y 54.0
"""


def write_config(folder: Path, backends: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dll.conf").write_text(backends + "\n")
    (folder / "test.conf").write_text(TEST_CONF)
    return folder


def use_test_scanner() -> Path:
    current = os.environ.get("SANE_CONFIG_DIR", "")
    if current and (Path(current) / "dll.conf").read_text().strip() == "test":
        return Path(current)
    folder = write_config(Path(tempfile.mkdtemp(prefix="alko-sane-")))
    os.environ["SANE_CONFIG_DIR"] = str(folder)
    return folder
