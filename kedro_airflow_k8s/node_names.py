"""Which Kedro node names ``kedro run --nodes a,b`` carries intact, and why the others do not."""

from __future__ import annotations

from collections.abc import Sequence

from kedro_airflow_k8s.errors import PlanError


def split_nodes_option(text: str) -> list[str]:
    """Split a ``--nodes`` value as Kedro does: at commas outside square brackets, each name
    stripped of surrounding blanks (kedro.framework.cli.utils.split_node_names)."""
    names: list[str] = []
    current, depth = "", 0
    for char in text + ",":
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0 and current:
            names.append(current.strip())
            current = ""
        else:
            current += char
    return names


def carried(nodes: Sequence[str]) -> bool:
    """Whether ``--nodes`` with ``nodes`` joined by commas gives back exactly ``nodes``."""
    return split_nodes_option(",".join(nodes)) == list(nodes)


def why_not_carried(name: str) -> str | None:
    """Why ``kedro run --nodes`` would change ``name``, or None when it carries it."""
    if carried([name]) and carried([name, "x"]) and carried(["x", name]):
        return None
    if not name.strip():
        return "it is blank"
    if name != name.strip():
        return "it starts or ends with a blank, which --nodes strips"
    depth = 0
    for char in name:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        return "its square brackets are unbalanced, so --nodes would swallow the next names"
    return "it holds a comma outside square brackets, where --nodes splits names"


def check_nodes_option(task_id: str, nodes: Sequence[str]) -> None:
    """Refuse a task whose node names ``kedro run --nodes`` cannot carry, naming each."""
    if carried(nodes):
        return
    problems = [(name, why_not_carried(name)) for name in nodes]
    named = [f"'{name}' ({reason})" for name, reason in problems if reason]
    if not named:  # each alone is fine; only together do they split wrongly
        named = [f"'{name}'" for name in nodes]
    raise PlanError(
        f"task '{task_id}' runs `kedro run --nodes`, which cannot carry the node name"
        f"{'s' if len(named) > 1 else ''} {', '.join(named)}; rename the node "
        "(node(..., name=...)), or run it in a Spark group, whose entry script takes each "
        "name whole"
    )


def nodes_arguments(nodes: Sequence[str]) -> list[str]:
    """The entry script's node selection: ``--nodes a,b`` for the names it carries, one
    ``--node NAME`` for each other name (taken whole)."""
    plain = [name for name in nodes if why_not_carried(name) is None]
    if not carried(plain):
        plain = []
    args = ["--nodes", ",".join(plain)] if plain else []
    for name in nodes:
        if name not in plain:
            args += ["--node", name]
    return args
