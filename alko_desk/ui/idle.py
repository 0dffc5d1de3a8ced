"""The idle lock: a desk nobody touches for a while hides its data until the password is entered.

`IdleWatcher` is an application-wide event filter that restarts a timer on every
input event. `DeskLock` covers every open window (forms stay open underneath,
with whatever was typed in them), puts the unlock form on the main window (or on
an application-modal dialog, the only window that could still take input) and
offers "Log in as someone else", which ends the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.errors import AuthenticationError
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import error_label, set_error

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
        QEvent.Type.Shortcut,
    }
)
DEFAULT_IDLE_MINUTES = 5


class IdleWatcher(QObject):
    """Emits `idle` after `timeout_ms` without keyboard, mouse or touch input anywhere in the app.

    Input only notes the time (`clock`, monotonic seconds); the timer merely wakes `check()`,
    which decides from that clock. So a test can hand in a clock it moves itself and call
    `check()`, instead of waiting for real time to pass on a busy machine.
    """

    idle = Signal()

    def __init__(
        self,
        timeout_ms: int,
        parent: QObject | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.clock = clock
        self._timeout_ms = max(1, int(timeout_ms))
        self._last_input = clock()
        self._watching = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check)
        self._installed = False

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    def set_timeout_ms(self, timeout_ms: int) -> None:
        self._timeout_ms = max(1, int(timeout_ms))
        if self._watching:
            self._wake_in(self._remaining_ms())

    def start(self) -> None:
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True
        self._last_input = self.clock()
        self._watching = True
        self._wake_in(self._timeout_ms)

    def stop(self) -> None:
        self._watching = False
        self._timer.stop()
        app = QApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False

    @property
    def active(self) -> bool:
        return self._watching

    def check(self) -> None:
        """Emits `idle` (once) if the timeout has passed since the last input, else sleeps on."""
        if not self._watching:
            return
        remaining = self._remaining_ms()
        if remaining > 0:
            self._wake_in(remaining)
            return
        self._watching = False
        self._timer.stop()
        self.idle.emit()

    def _remaining_ms(self) -> int:
        elapsed_ms = (self.clock() - self._last_input) * 1000
        return max(0, int(self._timeout_ms - elapsed_ms + 0.999))

    def _wake_in(self, ms: int) -> None:
        self._timer.start(max(1, ms))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS and self._watching:
            self._last_input = self.clock()
        return False


class _Cover(QFrame):
    """Fills its window and follows its size; paints over whatever the window shows."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("lockCover")
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "QFrame#lockCover { background-color: #20262e; }"
            "QFrame#lockCover QLabel { color: #e8eaed; }"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        window.installEventFilter(self)
        self.setGeometry(window.rect())
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Only Qt's own state here: the Python wrapper may be a fresh one without our attributes.
        window = self.parentWidget()
        if window is not None and watched is window and event.type() == QEvent.Type.Resize:
            self.setGeometry(window.rect())
            self.raise_()
        return False

    def keyPressEvent(self, event) -> None:
        # Keys stop here: Enter or Escape must not reach a dialog underneath (its Save, its Cancel).
        event.accept()

    def remove(self) -> None:
        window = self.parentWidget()
        if window is not None:
            window.removeEventFilter(self)
        self.hide()
        self.deleteLater()


class LockPanel(_Cover):
    """The lock screen proper: who locked it, the password, or another user."""

    unlock_requested = Signal(str)
    switch_requested = Signal()

    def __init__(self, window: QWidget, who: str) -> None:
        super().__init__(window)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame()
        card.setObjectName("lockCard")
        card.setFixedWidth(440)
        card.setStyleSheet(
            "QFrame#lockCard { background-color: palette(window); border-radius: 8px; }"
            "QFrame#lockCard QLabel { color: palette(window-text); }"
        )
        column = QVBoxLayout(card)
        column.setContentsMargins(24, 20, 24, 20)
        title = QLabel(self.tr("ALKO Desk is locked"))
        font = title.font()
        font.setPointSize(15)
        font.setBold(True)
        title.setFont(font)
        column.addWidget(title)
        message = QLabel(
            self.tr("{who} is logged in. Enter the password to continue.").format(who=who)
        )
        message.setWordWrap(True)
        message.setMinimumHeight(message.fontMetrics().lineSpacing() * 2 + 4)
        column.addWidget(message)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("Password"))
        self.password.setAccessibleName(self.tr("Password"))
        column.addWidget(self.password)
        self.error = error_label()
        column.addWidget(self.error)
        row = QHBoxLayout()
        self.switch_button = QPushButton(self.tr("Log in as someone else"))
        self.unlock_button = QPushButton(self.tr("Unlock"))
        self.unlock_button.setDefault(True)
        row.addWidget(self.switch_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        column.addLayout(row)
        outer.addWidget(card, alignment=Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        self.unlock_button.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)
        self.switch_button.clicked.connect(self.switch_requested)

    def focusInEvent(self, event) -> None:
        # A click on the dark cover (or the card) would take the focus from the password, and
        # the password typed next would go nowhere: it goes back to the password field.
        super().focusInEvent(event)
        if self.password.isEnabled():
            self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    def _submit(self) -> None:
        if not self.password.text():
            # Enter on an empty field (a key pressed to wake the screen) is no attempt: it
            # would count towards the account's lock like a wrong password.
            self.password.setFocus()
            return
        if self.unlock_button.isEnabled():
            self.unlock_requested.emit(self.password.text())

    def set_busy(self, busy: bool) -> None:
        self.unlock_button.setEnabled(not busy)
        self.password.setEnabled(not busy)
        if not busy:
            self.password.setFocus()


class PlainCover(_Cover):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        layout = QVBoxLayout(self)
        label = QLabel(self.tr("Locked"))
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(label)


def _descends_from(widget: QWidget, ancestor: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parentWidget()
    return False


class DeskLock(QObject):
    """Locks and unlocks the open windows of one session."""

    unlocked = Signal()
    switch_user = Signal()
    locked_changed = Signal(bool)

    def __init__(
        self,
        main_window: QWidget,
        tasks: TaskRunner,
        confirm_password: Callable[[str], None],
        who: str,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._main = main_window
        self._tasks = tasks
        self._confirm = confirm_password
        self._who = who
        self.panel: LockPanel | None = None
        self._covers: list[_Cover] = []
        self._disabled: list[QWidget] = []
        self._host_min_size = None
        self._host_size = QSize()
        self._focus: QWidget | None = None

    @property
    def locked(self) -> bool:
        return self.panel is not None

    def lock(self) -> None:
        if self.locked or not shiboken6.isValid(self._main):
            return
        host = self._host()
        self._focus = host.focusWidget()  # where typing goes again after the unlock
        for window in QApplication.topLevelWidgets():
            if (
                window is host
                or not window.isVisible()
                or window.windowType() in (Qt.WindowType.ToolTip, Qt.WindowType.Popup)
            ):
                continue
            self._covers.append(PlainCover(window))
            if window.isEnabled() and window is not self._main:
                window.setEnabled(False)
                self._disabled.append(window)
        if host is not self._main:
            self._covers.append(PlainCover(self._main))
        set_locked = getattr(self._main, "set_locked", None)
        if set_locked:
            set_locked(True)
        if host is not self._main and _descends_from(host, self._main):
            # A dialog of a page is disabled with the page; it hosts the unlock form, so it
            # must take input. The main window stays covered and blocked by the modal dialog.
            central = getattr(self._main, "centralWidget", lambda: None)()
            if central is not None:
                central.setEnabled(True)
        self.panel = LockPanel(host, self._who)
        if host is not self._main:
            # A small dialog (a reason prompt) grows to hold the whole card with its margins.
            self._host_min_size = host.minimumSize()
            self._host_size = host.size()  # given back at unlock, or the form stays stretched
            needed = self.panel.minimumSizeHint().expandedTo(QSize(0, 300))
            host.setMinimumSize(host.minimumSize().expandedTo(needed))
        self.panel.unlock_requested.connect(self._unlock)
        self.panel.switch_requested.connect(self.switch_user)
        self.panel.show()
        for cover in self._covers:
            cover.show()
        host.raise_()
        host.activateWindow()
        self.panel.password.setFocus()
        self.locked_changed.emit(True)

    def _host(self) -> QWidget:
        """The window that can still take input: the topmost modal dialog, else the main window.

        A dialog opened with `open()` is window-modal: it blocks the main window
        as surely as an application-modal one does, so the unlock form goes on it.
        """
        modal = QApplication.activeModalWidget()
        if modal is not None and modal.isVisible() and modal.isEnabled():
            return modal
        return self._main

    def _unlock(self, password: str) -> None:
        panel = self.panel
        if panel is None:
            return
        set_error(panel.error, "")
        panel.set_busy(True)
        confirm = self._confirm

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, AuthenticationError) and self.panel is panel:
                set_error(panel.error, exc.user_text())
                panel.password.selectAll()
                return True
            return False

        def over() -> None:
            if self.panel is panel:
                panel.set_busy(False)

        self._tasks.run(
            lambda: confirm(password),
            on_success=lambda _: self.unlock(),
            on_failure=failed,
            on_finished=over,
            parent=panel,
            title=self.tr("Unlock"),
        )

    def unlock(self) -> None:
        """Takes the covers away; the windows and their contents are as they were."""
        if self.panel is None:
            return
        host = self.panel.parentWidget()
        self.panel.remove()
        self.panel = None
        for cover in self._covers:
            cover.remove()
        self._covers.clear()
        for window in self._disabled:
            if shiboken6.isValid(window):
                window.setEnabled(True)
        self._disabled.clear()
        if self._host_min_size is not None and host is not None and shiboken6.isValid(host):
            host.setMinimumSize(self._host_min_size)
            host.resize(self._host_size)
        self._host_min_size = None
        if shiboken6.isValid(self._main):
            set_locked = getattr(self._main, "set_locked", None)
            if set_locked:
                set_locked(False)
        focus, self._focus = self._focus, None
        if focus is not None and shiboken6.isValid(focus) and focus.isVisible():
            # back where the user was typing, the text as it was: not all of it selected (as
            # a focus moved by Tab would), where the next key would replace a typed reason
            focus.setFocus(Qt.FocusReason.OtherFocusReason)
            if isinstance(focus, QLineEdit):
                focus.deselect()
        self.locked_changed.emit(False)
        self.unlocked.emit()
