"""Retrying the ID documents waiting in this desk's outbox, on a timer, in a worker.

The outbox keeps its own per-page backoff (30 s, 1 min, 2 min... an hour); this timer asks
it again every `first_ms` while uploads go up, and waits twice as long after each failed
round (up to `longest_ms`), so a desk without a network does not keep a worker busy.

The same rounds run the periodic reconciliation (assets at Cloudinary that no document
refers to, left by a crash mid-upload, are removed): after the first round that uploads
without a failure, then every `reconcile_every_s`, where the user may run it (sales and
admins: `reconcile=True` from the window) and only while the store is Cloudinary. A shared
folder is not reconciled on a timer: it is not kept apart per organisation as Cloudinary's
folder is, so only an explicit `alko-desk document sync` clears it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from alko_desk.models.errors import AlkoError
from alko_desk.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

FIRST_MS = 30_000
LONGEST_MS = 15 * 60_000
START_DELAY_MS = 3_000  # documents left waiting by the last run go up soon after login
RECONCILE_EVERY_S = 6 * 3600  # Cloudinary's Admin API (the listing) is rate-limited per hour
RECONCILE_RETRY_S = 15 * 60  # after a reconciliation that could not run (listing refused...)
RECONCILE_FAILED = -1


class UploadRetrier(QObject):
    waiting_changed = Signal(str)  # "2 documents waiting to upload", or ""
    round_done = Signal(int, int)  # uploaded, failed (pages)
    reconciled = Signal(int)  # orphaned assets removed by a periodic reconciliation

    def __init__(
        self,
        documents,
        tasks: TaskRunner,
        *,
        first_ms: int = FIRST_MS,
        longest_ms: int = LONGEST_MS,
        reconcile: bool = False,
        reconcile_every_s: float = RECONCILE_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.documents = documents
        self.tasks = tasks
        self.first_ms = first_ms
        self.longest_ms = longest_ms
        self.reconcile = reconcile
        self.reconcile_every_s = reconcile_every_s
        self._monotonic = monotonic
        self.next_reconcile: float | None = 0.0 if reconcile else None  # due at the first round
        self.interval_ms = first_ms
        self.waiting = ""
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.retry_now)
        self._stopped = True

    @property
    def _key(self) -> tuple:
        return (id(self), "document-uploads")

    def start(self, delay_ms: int = START_DELAY_MS) -> None:
        self._stopped = False
        self.timer.start(delay_ms)

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()
        self.tasks.supersede(self._key)

    def retry_now(self) -> None:
        """One round in a worker: upload what is due, then count what still waits."""
        if self.tasks.running(self._key):
            return
        documents = self.documents
        due = self.next_reconcile is not None and self._monotonic() >= self.next_reconcile

        def work():
            result = documents.flush_outbox()
            removed = None
            if due and not result.failed:
                removed = _reconcile_cloudinary(documents)
            return result, documents.waiting_message(), removed

        self.tasks.run(work, key=self._key, on_success=self._done, on_failure=self._failed)

    def _done(self, outcome) -> None:
        result, waiting, removed = outcome
        if result.failed:
            self.interval_ms = min(self.interval_ms * 2, self.longest_ms)
        else:
            self.interval_ms = self.first_ms
        if removed == RECONCILE_FAILED:  # not every round: the Admin API is rate-limited
            self.next_reconcile = self._monotonic() + min(RECONCILE_RETRY_S, self.reconcile_every_s)
        elif removed is not None:
            self.next_reconcile = self._monotonic() + self.reconcile_every_s
            self.reconciled.emit(removed)
        self._show(waiting)
        self.round_done.emit(result.uploaded, result.failed)
        self._again()

    def _failed(self, exc: BaseException) -> bool:
        # Reading the settings or the outbox failed (the database away): try again later.
        log.info("document upload round failed: %s", type(exc).__name__)
        self.interval_ms = min(self.interval_ms * 2, self.longest_ms)
        self._again()
        return True

    def _again(self) -> None:
        if not self._stopped:
            self.timer.start(self.interval_ms)

    def _show(self, waiting: str) -> None:
        if waiting != self.waiting:
            self.waiting = waiting
            self.waiting_changed.emit(waiting)


def _reconcile_cloudinary(documents) -> int:
    """Orphans removed at Cloudinary (0 for another store); RECONCILE_FAILED when it could not
    run (Cloudinary unreachable, the listing refused...), which never fails the upload round."""
    try:
        if documents.storage_status().kind != "cloudinary":
            return 0
        return documents.reconcile()
    except AlkoError as exc:
        log.info("document reconciliation did not run: %s", type(exc).__name__)
    except Exception:  # noqa: BLE001 - the uploads' round must still report what went up
        log.exception("document reconciliation failed")
    return RECONCILE_FAILED
