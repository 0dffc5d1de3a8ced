"""QtGui paints on the GUI thread alone once the desk has prepared Qt (ui/qt_setup.py): a
tall fill is not split across QtGui's thread pool, whose threads the GUI thread would wait
for on every scroll of a long list."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PAINT_A_TALL_FILL = textwrap.dedent("""
    import os, sys
    if sys.argv[1] == "prepared":
        from alko_desk.ui.qt_setup import prepare_qt
        prepare_qt()
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter

    app = QGuiApplication([])
    threads = lambda: len(os.listdir("/proc/self/task"))
    before = threads()
    image = QImage(300, 2000, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    gradient = QLinearGradient(0, 0, 300, 0)
    gradient.setColorAt(0, QColor("red"))
    gradient.setColorAt(1, QColor("blue"))
    painter.fillRect(QRect(0, 0, 300, 2000), gradient)  # what a scroll bar's groove does
    painter.end()
    print(threads() - before)
""")


def _threads_started_by_painting(how: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run(
        [sys.executable, "-c", PAINT_A_TALL_FILL, how],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.split()[-1])


def test_a_prepared_desk_paints_without_qtgui_thread_pool():
    assert _threads_started_by_painting("plain") > 0  # what Qt does unprepared
    assert _threads_started_by_painting("prepared") == 0
