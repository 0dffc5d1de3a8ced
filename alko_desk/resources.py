"""Where the shipped resources (word lists, icons, translations) live."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    return RESOURCES_DIR / name
