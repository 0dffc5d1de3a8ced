"""Retrying the ID documents waiting in this desk's outbox, on a timer, in a worker.

The outbox keeps its own per-page backoff (30 s, 1 min, 2 min... an hour); this timer asks
it again every `first_ms` while uploads go up, and waits twice as long after each failed
round (up to `longest_ms`), so a desk without a network does not keep a worker busy.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from alko_desk.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

FIRST_MS = 30_000
LONGEST_MS = 15 * 60_000
START_DELAY_MS = 3_000  # documents left waiting by the last run go up soon after login


class UploadRetrier(QObject):
    waiting_changed = Signal(str)  # "2 documents waiting to upload", or ""
    round_done = Signal(int, int)  # uploaded, failed (pages)

    def __init__(
        self,
        documents,
        tasks: TaskRunner,
        *,
        first_ms: int = FIRST_MS,
        longest_ms: int = LONGEST_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.documents = documents
        self.tasks = tasks
        self.first_ms = first_ms
        self.longest_ms = longest_ms
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

        def work():
            result = documents.flush_outbox()
            return result, documents.waiting_message()

        self.tasks.run(work, key=self._key, on_success=self._done, on_failure=self._failed)

    def _done(self, outcome) -> None:
        result, waiting = outcome
        if result.failed:
            self.interval_ms = min(self.interval_ms * 2, self.longest_ms)
        else:
            self.interval_ms = self.first_ms
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
