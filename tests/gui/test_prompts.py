"""The real DialogService prompts (not the scripted stand-in the flows use)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from alko_desk.ui.dialogs import DialogService, TextPromptDialog

pytestmark = pytest.mark.gui


def answer_prompt(qtbot, steps) -> list:
    """Runs `steps(dialog)` on the prompt once it is open (it blocks in its own loop)."""
    seen: list = []

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, TextPromptDialog):
            QTimer.singleShot(20, act)
            return
        seen.append(steps(dialog))

    QTimer.singleShot(0, act)
    return seen


def test_a_required_reason_cannot_be_sent_empty_and_enter_sends_a_typed_one(qtbot, qapp):
    def steps(dialog):
        state = [dialog.ok_button.isEnabled(), dialog.focusWidget() is dialog.edit]
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)  # empty: stays open
        state.append(dialog.isVisible())
        qtbot.keyClicks(dialog.edit, "   ")
        state.append(dialog.ok_button.isEnabled())
        qtbot.keyClicks(dialog.edit, "client bought elsewhere ")
        state.append(dialog.ok_button.isEnabled())
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
        return state

    seen = answer_prompt(qtbot, steps)
    answer = DialogService().text(None, "Cancel deal D-1", "Why is the deal cancelled?", True)
    [(ok_at_first, focus, open_after_empty_enter, ok_after_spaces, ok_after_text)] = seen
    assert not ok_at_first and focus  # typing goes straight into the reason
    assert open_after_empty_enter and not ok_after_spaces and ok_after_text
    assert answer == "client bought elsewhere"


def test_an_optional_reason_may_be_empty_and_cancel_gives_none(qtbot, qapp):
    seen = answer_prompt(qtbot, lambda d: qtbot.keyClick(d.edit, Qt.Key.Key_Return))
    assert DialogService().text(None, "Approve", "Reason (optional):") == ""
    assert seen
    answer_prompt(qtbot, lambda d: qtbot.keyClick(d.edit, Qt.Key.Key_Escape))
    assert DialogService().text(None, "Reject", "Why?", True) is None


def test_a_prompt_that_names_its_action_offers_back_beside_it(qtbot, qapp):
    seen = answer_prompt(
        qtbot,
        lambda d: (
            d.ok_button.text(),
            d.buttons.button(d.buttons.StandardButton.Cancel).text(),
            d.reject(),
        ),
    )
    DialogService().text(None, "Cancel deal D-1", "Why?", True, ok_text="Cancel the deal")
    assert seen[0][:2] == ("Cancel the deal", "Back")
