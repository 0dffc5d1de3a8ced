"""The audit action catalogue: every action the code records is in it, and the viewer offers it all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from alko_desk.models.audit import AuditAction, AuditCategory, AuditFilter

PACKAGE = Path(__file__).resolve().parents[1] / "alko_desk"


def recorded_actions() -> list[tuple[str, int, ast.expr]]:
    """(file, line, action argument) of every `.record(actor, action, ...)` call in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "record"
                and len(node.args) >= 2
            ):
                found.append((path.name, node.lineno, node.args[1]))
    return found


def action_values(arg: ast.expr) -> list[str] | None:
    """The action strings an argument can stand for; None when it cannot be read statically."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if (
        isinstance(arg, ast.Attribute)
        and isinstance(arg.value, ast.Name)
        and arg.value.id == "AuditAction"
    ):
        member = getattr(AuditAction, arg.attr, None)
        return [member.value] if member is not None else [f"AuditAction.{arg.attr}"]
    if isinstance(arg, ast.IfExp):
        body, orelse = action_values(arg.body), action_values(arg.orelse)
        return None if body is None or orelse is None else body + orelse
    if isinstance(arg, ast.JoinedStr):
        # f"client.{how}_viewed": every catalogue action that fits the pattern
        pattern = "".join(
            part.value if isinstance(part, ast.Constant) else "\0" for part in arg.values
        )
        fixed = pattern.split("\0")
        fits = [
            a.value
            for a in AuditAction
            if a.value.startswith(fixed[0]) and a.value.endswith(fixed[-1])
        ]
        return fits or [pattern.replace("\0", "{…}")]
    return None


def test_every_action_recorded_in_services_is_in_the_catalogue():
    calls = recorded_actions()
    assert len(calls) >= 25  # the scan found the calls (it would pass vacuously otherwise)
    catalogue = {a.value for a in AuditAction}
    missing, unreadable = [], []
    for name, line, arg in calls:
        values = action_values(arg)
        if values is None:
            if not (isinstance(arg, ast.Name) and name == "auth.py"):  # logout(reason) checks it
                unreadable.append(f"{name}:{line}")
            continue
        missing.extend(f"{name}:{line} {v}" for v in values if v not in catalogue)
    assert missing == [], "audit actions not in AuditAction"
    assert unreadable == [], "audit actions that cannot be checked against the catalogue"


def test_every_action_has_a_label_and_one_category():
    for action in AuditAction:
        assert action.label and action.label[0].isupper()
        assert action.value.startswith(action.category.value)
    for category in AuditCategory:
        assert category.label
        assert any(a.category is category for a in AuditAction), category
    assert AuditAction.LOGOUT.category is AuditCategory.LOGOUT
    assert AuditAction.LOGIN_FAILED.category is AuditCategory.LOGIN
    assert AuditAction("fraud.identity_conflict") is AuditAction.FRAUD_IDENTITY_CONFLICT


def test_logout_refuses_a_reason_outside_the_catalogue(context, admin_session):
    with pytest.raises(ValueError):
        context.auth.logout(admin_session, "logout.because_i_said_so")
    context.auth.logout(admin_session, AuditAction.LOGOUT)
    newest = context.audit_log.query(AuditFilter(action_prefix="logout"))[0]
    assert newest.action == "logout" and type(newest.action) is str
