"""The task facility and the error hook: where work runs, and what a user sees when it fails."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QWidget

from alko_desk.models.errors import (
    AuthenticationError,
    DatabaseUnavailable,
    ReauthenticationRequired,
    ValidationError,
)
from alko_desk.ui.errors import ErrorReporter, install_excepthook, uninstall_excepthook
from alko_desk.ui.tasks import TaskRunner

pytestmark = pytest.mark.gui


@pytest.fixture
def runner(qapp, dialogs):
    runner = TaskRunner(dialogs)
    yield runner
    runner.wait_for_done(5_000)


def run_and_wait(qtbot, runner, fn, **kwargs):
    outcome = {"finished": 0}
    kwargs.setdefault("on_success", lambda result: outcome.__setitem__("result", result))
    task = runner.run(
        fn, on_finished=lambda: outcome.__setitem__("finished", outcome["finished"] + 1), **kwargs
    )
    qtbot.waitUntil(lambda: outcome["finished"] == 1, timeout=5_000)
    return task, outcome


def test_work_runs_off_the_gui_thread_and_the_result_arrives_on_it(qtbot, runner):
    seen = {}

    def work():
        seen["worker"] = threading.get_ident()
        return 42

    def done(result):
        seen["callback"] = threading.get_ident()
        seen["qt_thread_is_gui"] = QThread.currentThread() is QApplication.instance().thread()
        seen["result"] = result

    run_and_wait(qtbot, runner, work, on_success=done)
    assert seen["result"] == 42
    assert seen["worker"] != threading.get_ident()
    assert seen["callback"] == threading.get_ident() and seen["qt_thread_is_gui"]


def test_domain_errors_are_shown_with_their_user_text_never_their_repr(qtbot, runner, dialogs):
    def work():
        raise AuthenticationError("Your current password is not right.", hint="Try again.")

    run_and_wait(qtbot, runner, work)
    assert dialogs.errors == ["Your current password is not right.\n\nTry again."]
    assert dialogs.generic_errors == 0


def test_unexpected_errors_are_logged_with_traceback_and_shown_generically_once(
    qtbot, runner, dialogs, caplog
):
    def work():
        raise KeyError("internal detail")

    with caplog.at_level(logging.ERROR):
        run_and_wait(qtbot, runner, work)
        run_and_wait(qtbot, runner, work)
    assert dialogs.generic_errors == 1  # the same bug twice: one dialog
    assert dialogs.errors == []
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert len(records) == 2


def test_a_failure_handler_that_deals_with_the_error_suppresses_the_dialog(qtbot, runner, dialogs):
    handled = []

    def work():
        raise ValidationError("Please correct the highlighted fields.", {"name": "Enter a name."})

    run_and_wait(
        qtbot, runner, work, on_failure=lambda exc: handled.append(exc.field_errors) or True
    )
    assert handled == [{"name": "Enter a name."}]
    assert dialogs.errors == []


def test_lost_database_asks_to_retry_and_runs_the_same_work_again(qtbot, runner, dialogs):
    calls = []

    def work():
        calls.append(1)
        if len(calls) < 3:
            raise DatabaseUnavailable("The database cannot be reached.")
        return "saved"

    dialogs.retry_answers = [True, True]
    _, outcome = run_and_wait(qtbot, runner, work)
    assert outcome["result"] == "saved" and len(calls) == 3 and len(dialogs.retries) == 2


def test_declined_retry_ends_the_task_once_without_success(qtbot, runner, dialogs):
    dialogs.retry_answers = [False]

    def work():
        raise DatabaseUnavailable("The database cannot be reached.")

    _, outcome = run_and_wait(qtbot, runner, work)
    qtbot.wait(50)
    assert "result" not in outcome and outcome["finished"] == 1
    assert dialogs.errors == []  # the retry prompt was the message


def test_reauthentication_prompts_confirms_off_the_gui_thread_and_retries(qtbot, runner, dialogs):
    confirmed = []
    calls = []

    def confirm(password):
        if password != "right one":
            raise AuthenticationError("That password is not right.")
        confirmed.append(threading.get_ident())

    session_runner = runner.for_session(confirm)

    def sensitive():
        calls.append(1)
        if not confirmed:
            raise ReauthenticationRequired()
        return "done"

    dialogs.password_answers = ["wrong", "right one"]
    _, outcome = run_and_wait(qtbot, session_runner, sensitive)
    assert outcome["result"] == "done" and len(calls) == 2
    assert confirmed[0] != threading.get_ident()
    assert [error for _, error in dialogs.password_prompts] == ["", "That password is not right."]


def test_progress_and_cancel_reach_the_work_function(qtbot, runner):
    progress = []
    started = threading.Event()
    release = threading.Event()

    def work(control):
        control.progress(1, 3, "first")
        started.set()
        release.wait(5)
        return "cancelled" if control.cancelled else "completed"

    results = []
    finished = []
    task = runner.run(
        work,
        with_control=True,
        on_progress=lambda *a: progress.append(a),
        on_success=results.append,
        on_finished=lambda: finished.append(1),
    )
    qtbot.waitUntil(lambda: progress == [(1, 3, "first")], timeout=5_000)
    task.cancel()
    release.set()
    qtbot.waitUntil(lambda: finished == [1], timeout=5_000)
    assert results == []  # a cancelled task's result is dropped


def test_a_newer_request_with_the_same_key_drops_the_older_answer(qtbot, runner, dialogs):
    release_old = threading.Event()
    seen = []

    def old_work():
        release_old.wait(5)
        return "old"

    def old_fails():
        release_old.wait(5)
        raise DatabaseUnavailable("gone")

    old = runner.run(
        old_work,
        key="search",
        on_success=lambda r: seen.append(("success", r)),
        on_finished=lambda: seen.append("old finished"),
    )
    failing = runner.run(  # supersedes the first, and is superseded in turn
        old_fails, key="search", on_failure=lambda e: seen.append("failure") or False
    )
    new = runner.run(
        lambda: "new",
        key="search",
        on_success=lambda r: seen.append(("success", r)),
        on_finished=lambda: seen.append("new finished"),
    )
    assert old.superseded and old.cancelled and failing.superseded and not new.superseded
    qtbot.waitUntil(lambda: "new finished" in seen, timeout=5_000)
    assert runner.running("search") is False
    release_old.set()
    qtbot.waitUntil(lambda: runner.active_count == 0, timeout=5_000)
    qtbot.wait(50)
    assert seen == [("success", "new"), "new finished"]  # nothing of the older two
    assert dialogs.retries == []  # a superseded failure is not shown either


def test_tasks_under_other_keys_do_not_supersede_each_other(qtbot, runner):
    results = []
    runner.run(lambda: 1, key=("page", "open"), on_success=results.append)
    runner.run(lambda: 2, key=("page", "search"), on_success=results.append)
    runner.run(lambda: 3, on_success=results.append)
    qtbot.waitUntil(lambda: runner.active_count == 0, timeout=5_000)
    assert sorted(results) == [1, 2, 3]


def test_no_callbacks_once_the_screen_is_gone(qtbot, runner):
    widget = QWidget()
    release = threading.Event()
    results = []
    runner.run(lambda: release.wait(5), on_success=results.append, parent=widget)
    widget.deleteLater()
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(widget))
    release.set()
    qtbot.waitUntil(lambda: runner.active_count == 0, timeout=5_000)
    assert results == []


def test_excepthook_shows_one_generic_dialog_for_duplicates_and_logs_each(dialogs, caplog):
    reporter = ErrorReporter(dialogs)
    original = sys.excepthook
    install_excepthook(reporter)
    install_excepthook(reporter)  # once only
    try:
        hook = sys.excepthook
        for _ in range(2):
            try:
                raise ZeroDivisionError("division by zero in a slot")
            except ZeroDivisionError as exc:
                with caplog.at_level(logging.ERROR):
                    hook(type(exc), exc, exc.__traceback__)
        assert dialogs.generic_errors == 1
        assert sum(1 for r in caplog.records if r.exc_info) == 2
    finally:
        uninstall_excepthook()
    assert sys.excepthook is original


def test_ui_package_never_imports_pymongo_or_storage():
    import ast
    from pathlib import Path

    import alko_desk.ui

    offenders = []
    for path in Path(alko_desk.ui.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] in ("pymongo", "bson") or n.startswith("alko_desk.storage")
            ]
    assert offenders == []
