"""The server signs the audit chain: a checkpoint every N entries and at least every minute.

Only the showroom server appends to the audit log, so the checkpointer signs only entries
this process appended (it watches the audit repository's inserts: the one small hook).
An entry it did not write — a database writer's forged append — is never signed, and
is reported. The newest checkpoint is kept in the database (for desks), in the server's
private folder (outside the database) and by each desk that fetched it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from alko_desk.models.audit import ChainReport
from alko_desk.models.checkpoints import AuditCheckpoint
from alko_desk.models.errors import PermissionDenied
from alko_desk.models.users import Permission, Session
from alko_desk.security import checkpoints as signing
from alko_desk.services.audit import AuditLog
from alko_desk.storage.checkpoints_repo import CheckpointRepository

log = logging.getLogger(__name__)

EVERY_ENTRIES = 100
EVERY_SECONDS = 60.0
LOCAL_FILE = "newest-checkpoint.json"


def _to_json(cp: AuditCheckpoint) -> str:
    return json.dumps(
        {
            "scope": cp.scope,
            "seq": cp.seq,
            "head_hash": cp.head_hash,
            "time": cp.time.isoformat(),
            "signature": cp.signature,
        }
    )


def _from_json(text: str) -> AuditCheckpoint | None:
    try:
        d = json.loads(text)
        return AuditCheckpoint(
            d["scope"],
            int(d["seq"]),
            d["head_hash"],
            datetime.fromisoformat(d["time"]),
            d["signature"],
        )
    except (ValueError, KeyError, TypeError):
        return None


class Checkpointer:
    def __init__(
        self,
        audit_log: AuditLog,
        repo: CheckpointRepository,
        signing_key,
        public_key: str,
        scope: str,
        folder: Path,
        *,
        every: int = EVERY_ENTRIES,
        interval: float = EVERY_SECONDS,
    ) -> None:
        self._log = audit_log
        self._repo = repo
        self._key = signing_key
        self.public_key = public_key
        self.scope = scope
        self._file = folder / LOCAL_FILE
        self._every = every
        self._interval = interval
        self._lock = threading.Lock()
        self._own: dict[int, str] = {}  # seq -> hash of entries this process appended
        self._last_signed_at = time.monotonic()
        self.foreign: list[int] = []  # entries found that this server did not write
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self.newest = self._read_local()
        self._hook(audit_log)

    # -- the hook: which entries this process appended -----------------------------------
    def _hook(self, audit_log: AuditLog) -> None:
        repo = audit_log._repo  # the audit log's own repository; its API is unchanged
        insert = repo.try_insert

        def try_insert(doc: dict) -> bool:
            ok = insert(doc)
            if ok:
                with self._lock:
                    self._own[doc["seq"]] = doc["hash"]
                if len(self._own) >= self._every:
                    self._kick.set()
            return ok

        repo.try_insert = try_insert

    # -- signing -------------------------------------------------------------------------
    def checkpoint(self, *, force: bool = False) -> AuditCheckpoint | None:
        """Signs the newest run of entries this server appended, if it is time to."""
        with self._lock:
            if not self._own:
                return None
            due = (
                force
                or len(self._own) >= self._every
                or time.monotonic() - self._last_signed_at >= self._interval
            )
            if not due:
                return None
            since = self.newest.seq if self.newest else 0
            head = max(self._own)
            missing = [s for s in range(since + 1, head + 1) if s not in self._own]
            if missing:
                self._report_foreign(missing)
                return None
            cp = signing.sign(self._key, self.scope, head, self._own[head], datetime.now(UTC))
            self._repo.add(cp)
            self._write_local(cp)
            self.newest = cp
            self._own = {s: h for s, h in self._own.items() if s > head}
            self._last_signed_at = time.monotonic()
            return cp

    def _report_foreign(self, missing: list[int]) -> None:
        new = [s for s in missing if s not in self.foreign]
        if new:
            self.foreign.extend(new)
            log.error(
                "audit entries %s were not written by this server; not signing past them", new
            )

    def _read_local(self) -> AuditCheckpoint | None:
        try:
            return _from_json(self._file.read_text())
        except OSError:
            return None

    def _write_local(self, cp: AuditCheckpoint) -> None:
        import os

        tmp = self._file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _to_json(cp).encode())
        finally:
            os.close(fd)
        tmp.replace(self._file)

    # -- the timer -----------------------------------------------------------------------
    def start(self) -> Checkpointer:
        self._adopt()

        def run() -> None:
            while not self._stop.is_set():
                self._kick.wait(1.0)
                self._kick.clear()
                try:
                    self.checkpoint()
                except Exception:  # noqa: BLE001 - keep signing after a database hiccup
                    log.exception("signing an audit checkpoint failed")

        self._thread = threading.Thread(target=run, name="audit-checkpoints", daemon=True)
        self._thread.start()
        return self

    def _adopt(self) -> None:
        """At a start: entries after the newest checkpoint (a previous run that stopped before
        signing them) are signed now if the chain holds, and the adoption is audited."""
        report = self.verify()
        if not report.ok:
            log.error("the audit log does not verify at start: %s", report.problem)
            return
        since = self.newest.seq if self.newest else 0
        if report.head_seq > since:
            with self._lock:
                for seq in range(since + 1, report.head_seq + 1):
                    doc = self._log._repo.get(seq)
                    if doc:
                        self._own[seq] = doc["hash"]
            self._log.record(
                "system",
                "audit.checkpoint_adopted",
                "audit",
                {"from": since + 1, "to": report.head_seq},
            )
            self.checkpoint(force=True)

    def stop(self) -> None:
        self._stop.set()
        try:
            self.checkpoint(force=True)
        except Exception:  # noqa: BLE001
            log.exception("signing the last audit checkpoint failed")

    # -- checking ------------------------------------------------------------------------
    def known(self, extra: AuditCheckpoint | None = None) -> list[AuditCheckpoint]:
        found = {cp.seq: cp for cp in self._repo.all()}
        for cp in (self.newest, extra):
            if cp is not None:
                found.setdefault(cp.seq, cp)
                if found[cp.seq] != cp:  # two different signed claims for one entry
                    found[-cp.seq] = cp
        return list(found.values())

    def verify(self, extra: AuditCheckpoint | None = None) -> ChainReport:
        report = signing.check(
            self._log.verify(),
            self.known(extra),
            self.public_key,
            self.scope,
            lambda seq: (self._log._repo.get(seq) or {}).get("hash"),
        )
        if report.ok and self.foreign:
            first = min(self.foreign)
            return ChainReport(
                False,
                report.checked,
                report.head_seq,
                first,
                f"entry {first} was not written by the server",
            )
        return report


class AuditCheckpointService:
    """The signed checkpoints, for desks: the newest one, and a verification that also holds
    the chain against the newest checkpoint the desk itself kept."""

    def __init__(self, checkpointer: Checkpointer, audit: AuditLog, session: Session) -> None:
        self._cp = checkpointer
        self._audit = audit
        self._session = session

    def newest(self) -> AuditCheckpoint | None:
        return self._cp.newest

    def verify(self, known: AuditCheckpoint | None = None) -> ChainReport:
        if not self._session.can(Permission.AUDIT_READ):
            self._audit.record(
                self._session.user.username,
                "permission.denied",
                "audit",
                {"operation": "verify checkpoints"},
            )
            raise PermissionDenied("Your role may not verify the audit log.")
        return self._cp.verify(known)


def enable_checkpoints(context, identity) -> Checkpointer:
    """Starts signing the server's audit log (the server's context gets the service)."""
    checkpointer = Checkpointer(
        context.audit_log,
        CheckpointRepository(context.store),
        identity.signing_key(),
        identity.signing_public_key(),
        context.store.db.name,
        identity.folder,
    )
    context.checkpointer = checkpointer
    return checkpointer.start()


def verify_with_server_keys(context, identity, report: ChainReport) -> ChainReport:
    """`alko-desk audit verify` on the server's computer: the chain held against every
    checkpoint in the database and the newest one kept in the server's private folder."""
    checkpointer = Checkpointer.__new__(Checkpointer)
    checkpointer._repo = CheckpointRepository(context.store)
    checkpointer._file = identity.folder / LOCAL_FILE
    newest = checkpointer._read_local()
    known = {cp.seq: cp for cp in checkpointer._repo.all()}
    extra = [newest] if newest and known.get(newest.seq) != newest else []
    return signing.check(
        report,
        [*known.values(), *extra],
        identity.signing_public_key(),
        context.store.db.name,
        lambda seq: (context.audit_log._repo.get(seq) or {}).get("hash"),
    )
