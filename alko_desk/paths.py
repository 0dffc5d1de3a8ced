"""Where this desk keeps its files: one answer for the GUI and the command line.

The data folder holds the embedded database, the audit head anchor and logs. It
is Qt's per-user AppDataLocation for "ALKO Cars"/"ALKO Desk" (on Linux
~/.local/share/ALKO Cars/ALKO Desk), unless ALKO_DATA_DIR names another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from alko_desk import APP_NAME, ORG_NAME

DATA_DIR_ENV = "ALKO_DATA_DIR"


def set_application_names() -> None:
    """The names Qt derives per-user folders and QSettings from; safe before QApplication too."""
    from PySide6.QtCore import QCoreApplication

    if QCoreApplication.organizationName() != ORG_NAME:
        QCoreApplication.setOrganizationName(ORG_NAME)
    if QCoreApplication.applicationName() != APP_NAME:
        QCoreApplication.setApplicationName(APP_NAME)


def data_dir(*, create: bool = True) -> Path:
    """The per-user data folder (ALKO_DATA_DIR overrides it)."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        from PySide6.QtCore import QStandardPaths

        set_application_names()
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        path = Path(location) if location else Path.home() / ".alko-desk"
    if create:
        private_dir(path)
    return path


def private_dir(path: Path) -> Path:
    """Creates the folder if needed and makes it readable only by this OS user (0700).

    The data folder holds the embedded database, the audit anchor and logs: another account
    on the same computer must not read them (the embedded FerretDB has no login of its own).
    An existing folder is tightened too, so an install made before this rule is fixed.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path


def tighten_files(folder: Path) -> None:
    """Makes every file below `folder` 0600 and every folder 0700 (files of earlier versions)."""
    if os.name != "posix":
        return
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o700)
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                os.chmod(file, 0o600)


def database_dir(base: Path | None = None) -> Path:
    """Where the embedded FerretDB keeps its SQLite files, inside the data folder."""
    return (base or data_dir()) / "database"
