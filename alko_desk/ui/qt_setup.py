"""What Qt is told before the desk's QApplication exists (`run_gui`, and the GUI benchmarks
and tests, so that they measure and test the desk as it runs).

QtGui splits a fill of more than about a hundred scanlines (a scroll bar's groove, a busy
progress bar, a table's background) into pieces for its own thread pool, and the GUI thread
waits for every piece. On a shared two-core machine those threads wait for a CPU, and so
does the GUI thread: a traced scroll of the 100,000-client list spent most of its blocked
time in `QLatch::wait` under `QScrollBar::paintEvent` (QFusionStyle fills), thousands of
hand-offs a second. The pieces are small; one thread paints them sooner than several.
"""

from __future__ import annotations

import os

NO_GUI_THREAD_POOL = "QT_NO_GUI_THREADPOOL"  # read once, at QtGui's first parallel fill


def prepare_qt() -> None:
    """Before the first paint: QtGui paints on the GUI thread alone."""
    os.environ.setdefault(NO_GUI_THREAD_POOL, "1")
