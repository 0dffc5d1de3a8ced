"""Small building blocks shared by the screens: forms with errors beside the fields."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #1e6b34;"
MUTED_STYLE = "color: #5f6368;"


def error_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setVisible(bool(text))
    label.setObjectName("error")
    label.setAccessibleName("error")
    return label


def set_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def heading(text: str, size: int = 15) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSize(size)
    font.setBold(True)
    label.setFont(font)
    return label


def note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(MUTED_STYLE)
    return label


class FieldForm(QObject):
    """A QFormLayout whose fields each have an error line under them, keyed by the service's field name.

    `ValidationError.field_errors` maps field names to messages; `show_errors` puts
    each message beside its field and focuses the first one.
    """

    def __init__(self, form: QFormLayout, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.form = form
        self.widgets: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}

    def add(self, name: str, label: str, widget: QWidget, hint: str = "") -> QWidget:
        box = QWidget()
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if hint:
            column.addWidget(note(hint))
        err = error_label()
        column.addWidget(err)
        self.form.addRow(label, box)
        self.widgets[name] = widget
        self.errors[name] = err
        edited = getattr(widget, "textEdited", None) or getattr(widget, "textChanged", None)
        if edited is not None:
            # A message goes as soon as the user works on its field; it is checked again on submit.
            edited.connect(lambda *_args, n=name: self.clear_error(n))
        return widget

    def show_errors(self, field_errors: dict[str, str]) -> list[str]:
        """Shows the messages; returns the names that had no field here (to show elsewhere)."""
        self.clear_errors()
        unplaced = []
        first = None
        for name, message in field_errors.items():
            if name in self.errors:
                set_error(self.errors[name], message)
                first = first or self.widgets[name]
            else:
                unplaced.append(name)
        if first is not None:
            first.setFocus()
        self.form.invalidate()  # QFormLayout keeps row heights from before the messages otherwise
        return unplaced

    def clear_errors(self) -> None:
        for label in self.errors.values():
            set_error(label, "")

    def clear_error(self, name: str) -> None:
        if self.errors[name].text():
            set_error(self.errors[name], "")
            self.form.invalidate()

    def error_text(self, name: str) -> str:
        label = self.errors[name]
        return label.text() if label.isVisibleTo(label.parentWidget()) else ""


class PasswordFields(QObject):
    """A new password typed twice, with the policy's verdict shown as the user types.

    The rows go into the caller's QFormLayout so that they line up with its other
    fields. `check` returns why the password cannot be used, or None: the service's
    own `password_problem`, so the screen and the service never disagree.
    """

    changed = Signal()

    def __init__(
        self,
        check: Callable[[str], str | None],
        form: QFormLayout,
        *,
        label: str = "",
        visible: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._check = check
        echo = QLineEdit.EchoMode.Normal if visible else QLineEdit.EchoMode.Password
        self.first = QLineEdit()
        self.first.setEchoMode(echo)
        self.first.setAccessibleName(label or self.tr("New password"))
        self.second = QLineEdit()
        self.second.setEchoMode(echo)
        self.second.setAccessibleName(self.tr("Repeat the password"))
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Room for two lines from the start: a message that wraps does not move what is below.
        self.verdict.setMinimumHeight(self.verdict.fontMetrics().lineSpacing() * 2 + 2)
        self.verdict.setObjectName("verdict")
        self.first_row = QHBoxLayout()
        self.first_row.setContentsMargins(0, 0, 0, 0)
        self.first_row.addWidget(self.first, 1)
        form.addRow(label or self.tr("New password"), self.first_row)
        form.addRow(self.tr("Repeat it"), self.second)
        form.addRow("", self.verdict)
        self.first.textChanged.connect(self.update)
        self.second.textChanged.connect(self.update)
        self.update()

    def problem(self) -> str | None:
        text = self.first.text()
        if not text:
            return self.tr(
                "Choose a password of at least 15 characters. A short sentence works well."
            )
        problem = self._check(text)
        if problem:
            return problem
        if self.second.text() != text:
            return self.tr("Type the same password twice.")
        return None

    def password(self) -> str:
        return self.first.text()

    def set_password(self, value: str) -> None:
        self.first.setText(value)
        self.second.setText(value)

    def clear(self) -> None:
        self.first.clear()
        self.second.clear()

    def show_error(self, text: str) -> None:
        """A refusal (a submit, the service): in the one verdict line, until the next keystroke."""
        self.verdict.setText(text)
        self.verdict.setStyleSheet(ERROR_STYLE)
        self._keep_height()

    def _keep_height(self) -> None:
        """The verdict only grows: a shorter message leaves the space, so nothing below jumps."""
        width = self.verdict.width()
        if width > 0 and self.verdict.isVisible():
            need = self.verdict.heightForWidth(width)
            if need > self.verdict.minimumHeight():
                self.verdict.setMinimumHeight(need)

    def update(self) -> None:
        problem = self.problem()
        if problem:
            self.verdict.setText(problem)
            self.verdict.setStyleSheet(ERROR_STYLE if self.first.text() else MUTED_STYLE)
        else:
            self.verdict.setText(self.tr("This password can be used."))
            self.verdict.setStyleSheet(OK_STYLE)
        self._keep_height()
        self.changed.emit()


class HeightFitter(QObject):
    """Keeps a dialog tall enough for its word-wrapped messages, so they never overlap a field.

    Qt sizes a window from its layout's minimum, which ignores how tall a wrapped
    label is at the actual width; messages that appear then draw over their
    neighbours. After each layout change this grows the window to fit.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() in (
            QEvent.Type.LayoutRequest,
            QEvent.Type.Show,
            QEvent.Type.Resize,
        ):
            self._timer.start()
        return False

    def fit(self) -> None:
        layout: QLayout | None = self._window.layout()
        if layout is None:
            return
        layout.activate()
        width = self._window.width()
        needed = max(
            layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else 0,
            layout.totalMinimumSize().height(),
        )
        if self._window.minimumHeight() != needed:
            self._window.setMinimumHeight(needed)
        if self._window.height() < needed:
            self._window.resize(width, needed)
