"""The task plan: which Airflow task runs which Kedro nodes, in what order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

TaskKind = Literal["spark", "node"]


@dataclass(frozen=True)
class Task:
    """One Airflow task of the plan.

    ``nodes`` are Kedro node names in an order that respects their dependencies;
    ``upstream`` are the task ids this task waits for; ``reasons`` says, for each
    node, why it is in this task.
    """

    task_id: str
    kind: TaskKind
    nodes: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    namespace: str | None = None
    """The top-level Kedro namespace this task runs whole (``group_by: namespace``)."""
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)
    """Each node's Kedro tags, sorted."""
    datasets: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)
    """The datasets its nodes read or write (parameters left out), in the order the nodes
    use them, each with its catalog path (patterns resolved), or None when it has none."""
    profiles: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """The profile the task runs with, by the run_config key of its kind: ``resources``,
    ``kubernetes_pod_templates``, ``operator_args_profiles`` or ``spark.resources``."""

    @property
    def is_spark(self) -> bool:
        return self.kind == "spark"

    @property
    def all_tags(self) -> frozenset[str]:
        """The tags of all its nodes."""
        return frozenset(tag for tags in self.tags.values() for tag in tags)

    def to_dict(self) -> dict:
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "nodes": list(self.nodes),
            "upstream": list(self.upstream),
            "reasons": {name: self.reasons.get(name, "") for name in self.nodes},
            "tags": {name: list(self.tags.get(name, ())) for name in self.nodes},
            "datasets": dict(self.datasets),
            "profiles": dict(self.profiles),
        } | ({"namespace": self.namespace} if self.namespace else {})


@dataclass(frozen=True)
class Plan:
    """All tasks of one DAG, in a topological order (every task after its upstream)."""

    dag_id: str
    tasks: tuple[Task, ...]

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        raise KeyError(task_id)

    @property
    def spark_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.is_spark)

    def task_of_node(self) -> dict[str, str]:
        return {node: task.task_id for task in self.tasks for node in task.nodes}

    def downstream(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {t.task_id: [] for t in self.tasks}
        for task in self.tasks:
            for up in task.upstream:
                result[up].append(task.task_id)
        return result

    def to_dict(self) -> dict:
        return {"dag_id": self.dag_id, "tasks": [t.to_dict() for t in self.tasks]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_table(self) -> str:
        return format_table(self)


def format_table(plan: Plan) -> str:
    """Human-readable listing of the plan: each task, its kind, nodes and reasons, then its
    profiles, tags and datasets with their paths."""
    lines = [f"DAG {plan.dag_id}: {len(plan.tasks)} tasks ({len(plan.spark_tasks)} spark)", ""]
    for task in plan.tasks:
        upstream = ", ".join(task.upstream) if task.upstream else "-"
        lines.append(f"{task.task_id}  [{task.kind}]  after: {upstream}")
        width = max((len(n) for n in task.nodes), default=0)
        for name in task.nodes:
            reason = task.reasons.get(name, "")
            lines.append(f"    {name.ljust(width)}  {reason}".rstrip())
        if task.profiles:
            chosen = ", ".join(f"{key} {name}" for key, name in task.profiles.items())
            lines.append(f"  profiles: {chosen}")
        if task.all_tags:
            lines.append(f"  tags: {', '.join(sorted(task.all_tags))}")
        if task.datasets:
            lines.append("  datasets:")
            width = max(len(name) for name in task.datasets)
            for name, path in task.datasets.items():
                lines.append(f"    {name.ljust(width)}  {path or '(no path)'}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def topological_order(names: Iterable[str], upstream: dict[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm, ties broken by the given order of ``names`` (stable output).

    Raises ``ValueError`` naming the tasks left on a cycle.
    """
    names = list(names)
    position = {name: i for i, name in enumerate(names)}
    indegree = {name: 0 for name in names}
    downstream: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for up in upstream.get(name, ()):
            indegree[name] += 1
            downstream[up].append(name)
    import heapq

    ready = [(position[n], n) for n in names if indegree[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for down in downstream[name]:
            indegree[down] -= 1
            if indegree[down] == 0:
                heapq.heappush(ready, (position[down], down))
    if len(order) != len(names):
        stuck = sorted(n for n in names if indegree[n] > 0)
        raise ValueError(f"cycle among: {', '.join(stuck[:10])}")
    return order
