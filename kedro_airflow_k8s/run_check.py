"""Checks that a run holds exactly the tasks of the DAG version that was just published."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from kedro_airflow_k8s.errors import UserError


def declared_task_ids(source: str) -> set[str] | None:
    """The task ids a generated DAG file declares (TaskGroup prefixes included).

    None where an id is computed at parse time, so that only Airflow knows it.
    """
    found: set[str] = set()
    known = True

    def group_id(call: ast.expr) -> str | None:
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "TaskGroup"):
            return None
        value = next((k.value for k in call.keywords if k.arg == "group_id"), None)
        value = value or (call.args[0] if call.args else None)
        return value.value if isinstance(value, ast.Constant) else None

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal known
        if isinstance(node, ast.With):
            inner = prefix
            for item in node.items:
                visit(item.context_expr, prefix)
                group = group_id(item.context_expr)
                if group is not None:
                    inner = f"{inner}{group}."
            for child in node.body:
                visit(child, inner)
            return
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "task_id":
                    value = keyword.value
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.add(prefix + value.value)
                    else:
                        known = False
        for child in ast.iter_child_nodes(node):
            visit(child, prefix)

    visit(ast.parse(source), "")
    return found if known else None


def run_versions(run: dict[str, Any]) -> list[int]:
    return sorted(v.get("version_number") for v in run.get("dag_versions") or [])


def check_run(
    run: dict[str, Any],
    version: int,
    tasks: Iterable[dict[str, Any]],
    expected: set[str] | None,
) -> None:
    """Raise unless ``run`` uses only DAG version ``version`` and holds exactly ``expected``.

    ``tasks`` are the run's task instances; none is checked before the scheduler
    has created them.
    """
    dag_id, run_id = run.get("dag_id"), run.get("dag_run_id")
    problems = []
    versions = run_versions(run)
    if versions and versions != [version]:
        listed = ", ".join(f"v{n}" for n in versions)
        problems.append(f"it uses DAG version(s) {listed}, not v{version} that was just published")
    tasks = list(tasks)
    removed = sorted(t["task_id"] for t in tasks if t.get("state") == "removed")
    if removed:
        problems.append(f"tasks of an earlier version were removed from it: {', '.join(removed)}")
    held = {t["task_id"] for t in tasks}
    if expected is not None and held:
        missing, extra = sorted(expected - held), sorted(held - expected - set(removed))
        if missing:
            problems.append(f"it lacks published tasks: {', '.join(missing)}")
        if extra:
            problems.append(f"it holds tasks that were not published: {', '.join(extra)}")
    if problems:
        raise UserError(
            f"run '{run_id}' of DAG '{dag_id}' does not run the DAG that was just published: "
            + "; ".join(problems)
            + ". Another publish of this DAG may have raced this one; run the command again"
        )
