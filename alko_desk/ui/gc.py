"""Python's cyclic garbage collection, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is
crossed. With database work on pool threads, that may be a worker, and a Qt
object caught in a reference cycle would then be destroyed off the GUI thread,
which crashes Qt. So automatic collection is switched off and a timer on the
GUI thread collects instead (as calibre and Anki do).

A full (generation 2) collection walks every object the app holds, tens of
milliseconds with a long client list loaded, so it waits until the user has
paused (no keyboard, mouse or wheel input for a moment): scrolling stays smooth.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QObject, QTimer

INTERVAL_MS = (
    100  # often, so each pass is short: its cost grows with what was allocated since the last
)
PAUSE_BEFORE_FULL_MS = 1500
_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchUpdate,
}


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)
        self._since_input = QElapsedTimer()
        self._since_input.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            self._since_input.restart()
        return False

    def check(self) -> None:
        counts = gc.get_count()
        if counts[0] > self._threshold[0]:
            generation = 0
            if counts[1] > self._threshold[1]:
                generation = 1
                if (
                    counts[2] > self._threshold[2]
                    and self._since_input.elapsed() > PAUSE_BEFORE_FULL_MS
                ):
                    generation = 2
            gc.collect(generation)

    def collect(self) -> None:
        gc.collect()

    def stop(self) -> None:
        """Back to automatic collection (tests, shutdown)."""
        self._timer.stop()
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        gc.collect()
        if self._was_enabled:
            gc.enable()
