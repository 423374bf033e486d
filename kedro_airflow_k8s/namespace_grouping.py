"""``run_config.group_by: namespace``: each top-level Kedro namespace runs as one task."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from kedro_airflow_k8s.plan import Plan, Task


class Partition(Protocol):
    """The node-to-task assignment being built (grouping's union-find)."""

    def find(self, item: int) -> int: ...

    def union(self, first: int, second: int) -> None: ...


def top_level_namespace(node: Any) -> str | None:
    """``data_processing`` for a node in ``data_processing`` or ``data_processing.cleaning``."""
    namespace = getattr(node, "namespace", None)
    return namespace.split(".", 1)[0] if namespace else None


def group_namespaces(namespaces: Sequence[str | None], partition: Partition) -> None:
    """Put the nodes of each top-level namespace in one task (nodes by pipeline index).

    This runs before every other merge; the cycle pass after it merges whatever a
    namespace's task would otherwise put on a cycle.
    """
    first: dict[str, int] = {}
    for node, namespace in enumerate(namespaces):
        if namespace is None:
            continue
        if namespace in first:
            partition.union(first[namespace], node)
        else:
            first[namespace] = node


def explain_namespaces(
    plan: Plan,
    namespace_of: dict[str, str | None],
    memory_edges: Sequence[tuple[str, str, str]],
    spark_reasons: dict[str, str],
) -> Plan:
    """Name each task after its namespace and say why each node is where it is.

    A task that holds one namespace and nothing else is called after it and records
    it (the task then runs ``kedro run --namespaces <ns>``). A task that had to take
    more (a MemoryDataset between namespaces, or a cycle through the namespace)
    keeps a generated id, and each of its nodes says what it was merged with and why.
    ``memory_edges`` are (producer, consumer, dataset) of the pipeline's MemoryDatasets.
    """
    taken = {task.task_id for task in plan.tasks}
    renamed: dict[str, str] = {}
    tasks: list[Task] = []
    for task in plan.tasks:
        groups = list(dict.fromkeys(_group(namespace_of.get(node), node) for node in task.nodes))
        reasons = dict(task.reasons)
        for node in task.nodes:
            namespace = namespace_of.get(node)
            if namespace is None:
                continue
            reasons[node] = f"namespace '{namespace}'"
            if node in spark_reasons:
                reasons[node] += f"; {spark_reasons[node]}"
        namespace = None
        if len(groups) == 1 and groups[0].startswith("namespace "):
            namespace = namespace_of[task.nodes[0]]
        elif len(groups) > 1:
            why = _merge_cause(task.nodes, namespace_of, memory_edges)
            for node in task.nodes:
                others = [g for g in groups if g != _group(namespace_of.get(node), node)]
                reasons[node] += f"; in one task with {_listed(others)} {why}"
        task_id = task.task_id
        if namespace is not None:
            from kedro_airflow_k8s.task_ids import task_id_of_name

            wanted = task_id_of_name(namespace)
            if wanted == task_id or wanted not in taken:
                taken.discard(task_id)
                taken.add(wanted)
                renamed[task_id] = wanted
                task_id = wanted
        tasks.append(
            dataclasses.replace(task, task_id=task_id, reasons=reasons, namespace=namespace)
        )
    tasks = [
        dataclasses.replace(task, upstream=tuple(sorted(renamed.get(u, u) for u in task.upstream)))
        for task in tasks
    ]
    return dataclasses.replace(plan, tasks=tuple(tasks))


def _group(namespace: str | None, node: str) -> str:
    return f"namespace '{namespace}'" if namespace else f"node '{node}'"


def _listed(groups: list[str]) -> str:
    shown = ", ".join(groups[:3])
    return shown + (f" and {len(groups) - 3} more" if len(groups) > 3 else "")


def _merge_cause(
    nodes: Sequence[str],
    namespace_of: dict[str, str | None],
    memory_edges: Sequence[tuple[str, str, str]],
) -> str:
    members = set(nodes)
    for producer, consumer, dataset in memory_edges:
        if producer in members and consumer in members:
            if _group(namespace_of.get(producer), producer) != _group(
                namespace_of.get(consumer), consumer
            ):
                return f"because MemoryDataset '{dataset}' goes from '{producer}' to '{consumer}'"
    return "to keep the task graph acyclic"
