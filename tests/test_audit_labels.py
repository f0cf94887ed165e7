"""Every action the services write to the audit log has a Swedish label.

The case window's Historik tab, the review screen and the CSV export for the
logguppföljning show :data:`services.audit.ACTION_LABELS`; an action without a
label would show its code. The actions are found by reading the services' source:
the third argument of every ``record(...)`` call (a string literal or a
module-level constant) and every ``action=`` keyword.
"""

from __future__ import annotations

import ast
from pathlib import Path

import services
from services import audit

SERVICES = Path(services.__file__).parent


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def _value(node: ast.expr, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return names.get(node.attr)
    return None


def recorded_actions() -> dict[str, str]:
    """Action code → the file that records it."""
    names: dict[str, str] = {}
    trees: dict[Path, ast.Module] = {}
    for path in sorted(SERVICES.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        trees[path] = tree
        names.update(_constants(tree))
    actions: dict[str, str] = {}
    for path, tree in trees.items():
        local = {**names, **_constants(tree)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "record" and len(node.args) >= 3:
                action = _value(node.args[2], local)
                if action is not None:
                    actions.setdefault(action, path.name)
            if name in {"record", "AuditEvent"}:
                for kw in node.keywords:
                    if kw.arg == "action":
                        action = _value(kw.value, local)
                        if action is not None:
                            actions.setdefault(action, path.name)
    return actions


def test_the_scan_finds_the_known_actions() -> None:
    found = recorded_actions()
    # A scan that finds nothing would pass the next test vacuously.
    for known in ("case_created", "note_signed", "login_failure", audit.CASE_OPENED):
        assert known in found, known
    assert len(found) >= 30


def test_every_recorded_action_has_a_swedish_label() -> None:
    missing = {
        action: where
        for action, where in recorded_actions().items()
        if action not in audit.ACTION_LABELS
    }
    assert missing == {}, f"audit actions without a label in ACTION_LABELS: {missing}"
