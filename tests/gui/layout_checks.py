"""Looking at a window as a user would: texts that overlap, labels cut off, buttons squeezed."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

KINDS = (QLabel, QLineEdit, QAbstractButton, QComboBox, QPlainTextEdit)


def _shown(window: QWidget) -> list[QWidget]:
    out = []
    for kind in KINDS:
        for w in window.findChildren(kind):
            if w.isVisibleTo(window) and w.width() > 0 and w.height() > 0 and w not in out:
                out.append(w)
    return out


def _name(w: QWidget) -> str:
    text = getattr(w, "text", lambda: "")()
    return w.objectName() or (text if isinstance(text, str) else "") or type(w).__name__


def _rect(w: QWidget, window: QWidget) -> QRect:
    return QRect(w.mapTo(window, w.rect().topLeft()), w.size())


def overlaps(window: QWidget) -> list[str]:
    """Visible texts and fields drawn over each other (in window coordinates)."""
    boxes = [(w, _rect(w, window)) for w in _shown(window)]
    clashes = []
    for i, (a, ra) in enumerate(boxes):
        for b, rb in boxes[i + 1 :]:
            if a.isAncestorOf(b) or b.isAncestorOf(a):
                continue
            if ra.intersected(rb).height() > 2 and ra.intersected(rb).width() > 2:
                clashes.append(f"{_name(a)!r} / {_name(b)!r}")
    return clashes


def clipped(window: QWidget) -> list[str]:
    """Labels and buttons narrower or shorter than their text needs."""
    out = []
    for w in _shown(window):
        if isinstance(w, QLabel):
            text = w.text()
            if not text or w.pixmap() is not None and not w.pixmap().isNull():
                continue
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + 1:
                    out.append(f"{text[:40]!r}: {w.height()} px tall, needs {need}")
            elif "<" not in text:
                shown = text.replace("&", "") if w.buddy() is not None else text  # a mnemonic
                need = w.fontMetrics().horizontalAdvance(shown) + 2 * w.margin()
                if need > w.width() + 1:
                    out.append(f"{text[:40]!r}: {w.width()} px wide, needs {need}")
        elif isinstance(w, QAbstractButton) and w.text():
            need = w.fontMetrics().horizontalAdvance(w.text().replace("&", ""))
            if need > w.width():
                out.append(f"button {w.text()!r}: {w.width()} px wide, needs {need}")
    return out
