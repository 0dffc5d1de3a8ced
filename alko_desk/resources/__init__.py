"""The shipped resources (word lists, and later icons and translations), inside the package.

They travel with `alko_desk` in a wheel or any install (see `[tool.setuptools.package-data]`
in pyproject.toml) and are found through `importlib.resources`, never relative to a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


def resource(name: str) -> Traversable:
    """A shipped file or folder, wherever the package is installed."""
    return files(__name__).joinpath(name)


def read_text(name: str) -> str:
    return resource(name).read_text("utf-8")


def resource_path(name: str) -> Path:
    """A filesystem path, for APIs that need one (Qt's translation loader).

    The package is installed as plain files (a wheel, an editable checkout, a PyInstaller
    folder), so the resource is a real file; this refuses a zipped install instead of
    handing out a path that does not exist.
    """
    found = resource(name)
    if not isinstance(found, Path):
        raise RuntimeError(f"ALKO Desk's resources must be installed as files, not in {found!r}.")
    return found


RESOURCES_DIR = resource_path("")
