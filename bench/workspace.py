"""What benchmarks share: a temporary folder, one embedded server, a set-up desk.

`ALKO_BENCH_KEEP=/some/folder` keeps the workspace there instead of a temporary folder: its
embedded database survives the run, and the next run with the same folder reuses what was
seeded (100,000 or 500,000 clients take minutes to seed; a GUI measurement does not need
them seeded again). Delete the folder to start afresh.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

from keyring.backends import fail

from alko_desk.bootstrap import AppContext, open_context
from alko_desk.models.company import CompanyProfile
from alko_desk.secrets import SecretStore
from alko_desk.storage.embedded import EmbeddedServer
from alko_desk.storage.mongo import Store, connect
from alko_desk.storage.schema import ensure_schema

ADMIN = "admin"
ADMIN_PASSWORD = "benchmarks need a long passphrase 1"
COMPANY = CompanyProfile(
    name="ALKO Cars d.o.o.",
    address="Ilica 1, 10000 Zagreb, Croatia",
    vat_id="HR33392005961",
    bank_account="HR1210010051863000160",
    currency="EUR",
    vat_rate=Decimal(25),
    phone_region="HR",
)


class Workspace:
    """Created once per `python -m bench`; everything it starts is stopped by close()."""

    def __init__(self) -> None:
        kept = os.environ.get("ALKO_BENCH_KEEP", "")
        self.kept = bool(kept)
        if kept:
            self.root = Path(kept).resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self.root = Path(tempfile.mkdtemp(prefix="alko-bench-"))
        self._server: EmbeddedServer | None = None
        self._client = None
        self._contexts: list[AppContext] = []
        self._desk_dir: Path | None = None

    def path(self, name: str) -> Path:
        """A fresh folder inside the workspace."""
        folder = self.root / f"{name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def mongo_uri(self) -> str:
        """One embedded FerretDB shared by the benchmarks that only need a database."""
        if self._server is None:
            folder = self.root / "shared-db" if self.kept else self.path("shared-db")
            folder.mkdir(exist_ok=True)
            self._server = EmbeddedServer(folder)
            self._server.start()
        return self._server.uri

    def context(self, *, set_up: bool = True) -> AppContext:
        """An AppContext on a fresh database of the shared server, with the admin when set_up."""
        ctx = self._open(f"bench_{uuid.uuid4().hex[:12]}", self.path("data"))
        if set_up:
            ctx.setup.initialize(COMPANY, ADMIN, "Ana Admin", ADMIN_PASSWORD)
        self._contexts.append(ctx)
        return ctx

    def kept_context(self, name: str, *, fresh: bool) -> AppContext:
        """With ALKO_BENCH_KEEP: a context on the database `name`, kept after the run so that
        the next one reuses it; `fresh` drops what was there and sets it up again."""
        if self._client is None:
            self._client = connect(self.mongo_uri())
        data = self.root / f"data-{name}"
        if fresh:
            self._client.drop_database(name)
            shutil.rmtree(data, ignore_errors=True)
        data.mkdir(exist_ok=True)
        ctx = self._open(name, data)
        if fresh:
            ctx.setup.initialize(COMPANY, ADMIN, "Ana Admin", ADMIN_PASSWORD)
        return ctx

    def _open(self, name: str, data_dir: Path) -> AppContext:
        if self._client is None:
            self._client = connect(self.mongo_uri())
        store = Store.open(self._client, name)
        ensure_schema(store)
        return AppContext(store, data_dir=data_dir)

    def desk_data_dir(self) -> Path:
        """A desk's data folder with a set-up embedded database, server stopped (a cold start)."""
        if self._desk_dir is None:
            folder = self.path("desk")
            saved = os.environ.pop("ALKO_MONGODB_URI", None)
            try:  # the embedded default, whatever this shell or keyring would choose
                ctx = open_context(folder, SecretStore(fail.Keyring()))
            finally:
                if saved is not None:
                    os.environ["ALKO_MONGODB_URI"] = saved
            try:
                ctx.setup.initialize(COMPANY, ADMIN, "Ana Admin", ADMIN_PASSWORD)
            finally:
                ctx.close()
            self._desk_dir = folder
        return self._desk_dir

    def child_env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """The environment for an app process measured from outside: offscreen, embedded default."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALKO_")}
        env.update(
            QT_QPA_PLATFORM="offscreen",
            ALKO_DATA_DIR=str(data_dir),
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
            **extra,
        )
        return env

    def server_cpu_seconds(self) -> float | None:
        """CPU time the shared FerretDB has used so far (Linux /proc), None where unknown.
        On a shared machine CPU time says more than wall time."""
        process = self._server.process if self._server is not None else None
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (AttributeError, OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        for ctx in self._contexts:
            ctx.store.db.client.drop_database(ctx.store.db.name)
        if self._client is not None:
            self._client.close()
        if self._server is not None:
            self._server.stop()
        if not self.kept:
            shutil.rmtree(self.root, ignore_errors=True)
