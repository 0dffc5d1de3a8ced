"""The one way the GUI runs slow work: database calls, Argon2id, the keyring.

In the spirit of Anki's `QueryOp` and Picard's `run_task`: a callable runs on a
`QThreadPool`; its result or its exception comes back on the GUI thread through
signals, and only then do the callbacks run. Workers never touch widgets: give
them copies of what they need (a lambda over plain values) and update widgets in
`on_success`.

    tasks.run(
        lambda: services.users.list_users(),
        on_success=model.set_users,
        parent=self,                       # dialogs are centred on it; no callbacks once it is deleted
    )

Failures are routed in one place, in this order:

1. `ReauthenticationRequired` (a sensitive action) when the runner belongs to a
   session: the password is asked for, confirmed off the GUI thread, and the same
   callable runs again. One mechanism for every sensitive action.
2. `on_failure(exc)`, when given; it returns True when it dealt with the error
   (for example field errors shown beside the fields).
3. `DatabaseUnavailable`: a message with Retry; Retry runs the same callable again.
   Nothing else changes, so whatever the user typed into an open form is still there.
4. Any other `AlkoError`: its `user_text()`, as written, in a message box.
5. Anything else: logged with its traceback and shown in the one generic error dialog.

`on_finished()` runs exactly once when the task is over, whatever the outcome
(success, shown failure, retry declined, password prompt cancelled): the place to
re-enable a button.

A work function that reports progress or honours cancellation asks for a
`TaskControl` with `with_control=True` and receives it as its only argument.

Latest request wins: give related requests the same `key` (any hashable, usually
`(self, "search")`) and a new run supersedes the one still in flight under that
key. A superseded task is cancelled (its work function may notice it) and none
of its callbacks run, not even `on_finished`: its result, its failure and its
end are dropped, so a screen never shows an older answer after a newer one and
never needs a counter of its own.

    tasks.run(lambda: clients.search(text), key=(self, "search"), on_success=show)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QWidget

from alko_desk.models.errors import (
    AlkoError,
    AuthenticationError,
    DatabaseUnavailable,
    ReauthenticationRequired,
)
from alko_desk.ui.dialogs import DialogService
from alko_desk.ui.errors import ErrorReporter

log = logging.getLogger(__name__)

MAX_REAUTH_ROUNDS = 3

SuccessHandler = Callable[[Any], None]
FailureHandler = Callable[[BaseException], bool]
ProgressHandler = Callable[[int, int, str], None]


class TaskControl:
    """Handed to a work function that asked for it: report progress, notice a cancel."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._emit: Callable[[int, int, str], None] = lambda done, total, text: None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def progress(self, done: int, total: int = 0, text: str = "") -> None:
        """Safe from the worker thread; the GUI receives it as a queued signal."""
        self._emit(int(done), int(total), text)


class Task(QObject):
    """The handle of one submitted task; it outlives retries of the same callable.

    Outcomes go to the callbacks given to `TaskRunner.run`; `finished` is for
    anyone else who needs to know when it is over.
    """

    progress = Signal(int, int, str)
    finished = Signal()

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        with_control: bool,
        on_success: SuccessHandler | None,
        on_failure: FailureHandler | None,
        on_finished: Callable[[], None] | None,
        on_progress: ProgressHandler | None,
        parent_widget: QWidget | None,
        title: str,
    ) -> None:
        super().__init__()
        self.fn = fn
        self.with_control = with_control
        self.on_success = on_success
        self.on_failure = on_failure
        self.on_finished = on_finished
        self.on_progress = on_progress
        self.parent_widget = parent_widget
        self.title = title
        self.control = TaskControl()
        self.attempts = 0
        self.reauth_rounds = 0
        self.done = False
        self.key: Hashable | None = None
        self.superseded = False  # a newer task with the same key replaced it: no callbacks at all
        self.result: Any = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        """The work function may notice it (`control.cancelled`); only `on_finished` still runs."""
        self.control._cancelled.set()

    def supersede(self) -> None:
        """Cancelled, and not even `on_finished` runs: a newer request took its place."""
        self.superseded = True
        self.cancel()

    @property
    def cancelled(self) -> bool:
        return self.control.cancelled

    def release(self) -> None:
        """Drops the callbacks once the task is over: their closures often hold widgets."""
        self.on_success = self.on_failure = self.on_finished = self.on_progress = None

    def parent_alive(self) -> bool:
        return self.parent_widget is None or shiboken6.isValid(self.parent_widget)


class _Signals(QObject):
    """Lives on the GUI thread; the worker emits, Qt queues the delivery.

    Results travel wrapped in a one-element tuple: PySide6 6.12.0 corrupts the
    reference count of None, True and False sent through a Signal(object).
    """

    succeeded = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, str)


class _Worker(QRunnable):
    """Holds only plain Python and the signals object (owned by its attempt on the GUI thread).

    It must not hold a Python-owned QObject: the pool deletes the runnable on its
    own thread, and the last reference to a QObject dropped there would delete it
    off the GUI thread.
    """

    def __init__(
        self, fn: Callable[..., Any], control: TaskControl | None, signals: _Signals
    ) -> None:
        super().__init__()
        self._fn = fn
        self._control = control
        self._signals = signals

    def run(self) -> None:  # runs on a pool thread: no widgets here
        fn, control, signals = self._fn, self._control, self._signals
        self._fn = self._control = self._signals = None
        try:
            result = fn(control) if control is not None else fn()
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI thread
            signals.failed.emit(exc)
        else:
            signals.succeeded.emit((result,))


class _Attempt(QObject):
    """Receives one attempt's signals on the GUI thread and hands them to the runner.

    A child of the runner, deleted with deleteLater: never by a dropped Python
    reference while Qt is still delivering a call to it.
    """

    def __init__(self, runner: TaskRunner, task: Task) -> None:
        super().__init__(runner)
        self.runner = runner
        self.task = task
        self.signals = _Signals(self)
        self.signals.succeeded.connect(self._succeeded)
        self.signals.failed.connect(self._failed)
        self.signals.progress.connect(self._progress)

    @Slot(object)
    def _succeeded(self, wrapped: tuple) -> None:
        self.runner._attempt_over(self)
        self.runner._succeeded(self.task, wrapped[0])

    @Slot(object)
    def _failed(self, exc: object) -> None:
        self.runner._attempt_over(self)
        self.runner._failed(self.task, exc)  # type: ignore[arg-type]

    @Slot(int, int, str)
    def _progress(self, done: int, total: int, text: str) -> None:
        task = self.task
        if task.done or task.cancelled or not task.parent_alive():
            return
        task.progress.emit(done, total, text)
        if task.on_progress:
            task.on_progress(done, total, text)


class TaskRunner(QObject):
    """Runs callables off the GUI thread and routes their outcome (see the module docstring)."""

    busy_changed = Signal(bool)

    def __init__(
        self,
        dialogs: DialogService,
        *,
        reporter: ErrorReporter | None = None,
        confirm_password: Callable[[str], None] | None = None,
        pool: QThreadPool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.dialogs = dialogs
        self.reporter = reporter or ErrorReporter(dialogs)
        self._confirm_password = confirm_password
        if pool is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(4)
        self._pool = pool
        self._attempts: set[_Attempt] = set()
        self._tasks: set[Task] = set()
        self._latest: dict[Hashable, Task] = {}  # key -> the task that currently wins

    def for_session(self, confirm_password: Callable[[str], None]) -> TaskRunner:
        """A runner for a logged-in session: same pool and dialogs, plus the password re-prompt."""
        return TaskRunner(
            self.dialogs,
            reporter=self.reporter,
            confirm_password=confirm_password,
            pool=self._pool,
            parent=self,
        )

    # -- submitting -------------------------------------------------------------------------

    def run(
        self,
        fn: Callable[..., Any],
        *,
        on_success: SuccessHandler | None = None,
        on_failure: FailureHandler | None = None,
        on_finished: Callable[[], None] | None = None,
        on_progress: ProgressHandler | None = None,
        parent: QWidget | None = None,
        title: str = "",
        with_control: bool = False,
        key: Hashable | None = None,
    ) -> Task:
        """Starts `fn` on the pool; with a `key`, supersedes the task still running under it."""
        task = Task(
            fn,
            with_control=with_control,
            on_success=on_success,
            on_failure=on_failure,
            on_finished=on_finished,
            on_progress=on_progress,
            parent_widget=parent,
            title=title or self.tr("ALKO Desk"),
        )
        if key is not None:
            self.supersede(key)
            task.key = key
            self._latest[key] = task
        self._tasks.add(task)
        if len(self._tasks) == 1:
            self.busy_changed.emit(True)
        self._launch(task)
        return task

    def supersede(self, key: Hashable) -> None:
        """Drops the task running under `key`, if any: its callbacks will not run."""
        previous = self._latest.pop(key, None)
        if previous is not None and not previous.done:
            previous.supersede()

    def running(self, key: Hashable) -> bool:
        """A task under `key` is in flight (and will deliver)."""
        task = self._latest.get(key)
        return task is not None and not task.done

    @property
    def active_count(self) -> int:
        return len(self._tasks)

    def wait_for_done(self, msecs: int = -1) -> bool:
        """Blocks until the pool is idle (at exit, before the database closes)."""
        return self._pool.waitForDone(msecs)

    def _launch(self, task: Task) -> None:
        task.attempts += 1
        attempt = _Attempt(self, task)
        self._attempts.add(attempt)
        task.control._emit = attempt.signals.progress.emit
        self._pool.start(
            _Worker(task.fn, task.control if task.with_control else None, attempt.signals)
        )

    def _attempt_over(self, attempt: _Attempt) -> None:
        self._attempts.discard(attempt)
        attempt.deleteLater()

    # -- outcomes ---------------------------------------------------------------------------

    def _succeeded(self, task: Task, result: object) -> None:
        task.result = result
        try:
            if task.on_success and not task.cancelled and task.parent_alive():
                task.on_success(result)
        finally:
            self._finish(task)

    def _failed(self, task: Task, exc: BaseException) -> None:
        task.error = exc
        if task.cancelled or not task.parent_alive():
            if not isinstance(exc, AlkoError) and not task.superseded:
                log.error("task failed after its screen went away", exc_info=exc)
            self._finish(task)
            return
        try:
            if self._route_failure(task, exc):
                return  # the task goes on (retry or password prompt)
        except BaseException:
            self._finish(task)
            raise
        self._finish(task)

    def _route_failure(self, task: Task, exc: BaseException) -> bool:
        """Shows or hands on the failure; True when the task continues."""
        if (
            isinstance(exc, ReauthenticationRequired)
            and self._confirm_password is not None
            and task.reauth_rounds < MAX_REAUTH_ROUNDS
        ):
            return self._ask_password(task, exc, "")
        if task.on_failure and task.on_failure(exc):
            return False
        parent = task.parent_widget
        if isinstance(exc, DatabaseUnavailable):
            if self.dialogs.retry(parent, task.title, exc.user_text()):
                self._launch(task)
                return True
            return False
        if isinstance(exc, AlkoError):
            self.dialogs.error(parent, task.title, exc.user_text())
        else:
            self.reporter.report(exc, parent)
        return False

    def _ask_password(self, task: Task, exc: AlkoError, error: str) -> bool:
        password = self.dialogs.password(
            task.parent_widget, self.tr("Confirm with your password"), exc.user_text(), error
        )
        if password is None:
            return False
        confirm = self._confirm_password
        assert confirm is not None
        state = {"continued": False}

        def confirmed(_: object) -> None:
            state["continued"] = True
            task.reauth_rounds += 1
            self._launch(task)

        def refused(err: BaseException) -> bool:
            if isinstance(err, AuthenticationError):
                state["continued"] = self._ask_password(task, exc, err.user_text())
                return True
            return False

        def over() -> None:
            if not state["continued"]:
                self._finish(task)

        self.run(
            lambda: confirm(password),
            on_success=confirmed,
            on_failure=refused,
            on_finished=over,
            parent=task.parent_widget,
            title=task.title,
        )
        return True

    def _finish(self, task: Task) -> None:
        if task.done:
            return
        task.done = True
        self._tasks.discard(task)
        if task.key is not None and self._latest.get(task.key) is task:
            del self._latest[task.key]
        try:
            if task.parent_alive() and not task.superseded:
                task.finished.emit()
                if task.on_finished:
                    task.on_finished()
        finally:
            task.release()
            # on_finished may close the window that owns this runner: then there is no one to tell
            if not self._tasks and shiboken6.isValid(self):
                self.busy_changed.emit(False)
