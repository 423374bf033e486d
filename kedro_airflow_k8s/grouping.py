"""Kedro nodes into Airflow tasks: Spark groups and MemoryDataset merges, never a cycle."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

from kedro.pipeline import Pipeline

from kedro_airflow_k8s.classify import (
    CatalogType,
    cached_catalog_type,
    classify,
    is_memory_type,
    is_parameter,
)
from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import PlanError
from kedro_airflow_k8s.namespace_grouping import (
    explain_namespaces,
    group_namespaces,
    top_level_namespace,
)
from kedro_airflow_k8s.plan import Plan, Task, topological_order
from kedro_airflow_k8s.profiles import SPARK_RESOURCES, tagged_names
from kedro_airflow_k8s.spark_merge import MergeRules, merge_adjacent_spark_tasks
from kedro_airflow_k8s.task_ids import task_id_of_name, unique_task_ids

__all__ = ["build_plan", "task_id_of_name"]


def build_plan(
    pipeline: Pipeline, catalog_type: CatalogType, run_config: RunConfig, dag_id: str
) -> Plan:
    """The task plan of ``pipeline``: every node in one task, tasks in dependency order.

    Raises ``PlanError`` when a MemoryDataset would cross tasks and
    ``run_config.group_memory_nodes`` is false or ``run_config.group_by`` is none.
    """
    type_of = cached_catalog_type(catalog_type)
    graph = _NodeGraph.of(pipeline, type_of)
    direct_spark = classify(pipeline, type_of, run_config.spark)
    is_spark = [name in direct_spark for name in graph.names]
    by_namespace = run_config.group_by == "namespace"
    merge_memory = run_config.group_memory_nodes and run_config.group_by != "none"

    task_of = _UnionFind(len(graph.names))
    namespaces = [top_level_namespace(node) for node in pipeline.nodes]
    if by_namespace:
        group_namespaces(namespaces, task_of)
    if run_config.spark.group_spark_nodes:
        for edge in graph.edges:
            if is_spark[edge.producer] and is_spark[edge.consumer]:
                # By namespace, Spark nodes of two namespaces still run in their own tasks.
                if not by_namespace or namespaces[edge.producer] == namespaces[edge.consumer]:
                    task_of.union(edge.producer, edge.consumer)
    if merge_memory:
        for edge in graph.memory_edges:
            task_of.union(edge.producer, edge.consumer)
    _merge_cycles(graph, task_of)
    if not merge_memory:
        _forbid_memory_crossings(graph, task_of)
    notes = (
        {}
        if by_namespace
        else _merge_adjacent_spark(graph, task_of, is_spark, pipeline, run_config)
    )
    plan = _assemble(graph, task_of, is_spark, direct_spark, dag_id, notes)
    if not by_namespace:
        return plan
    names = graph.names
    return explain_namespaces(
        plan,
        dict(zip(names, namespaces, strict=True)),
        [(names[e.producer], names[e.consumer], e.dataset) for e in graph.memory_edges],
        direct_spark,
    )


def _merge_adjacent_spark(
    graph: _NodeGraph,
    task_of: _UnionFind,
    is_spark: list[bool],
    pipeline: Pipeline,
    run_config: RunConfig,
) -> dict[str, str]:
    """Fewest Spark applications: the merge pass after grouping; node name -> its notes."""
    tags_of = {node.name: node.tags for node in pipeline.nodes}
    profiles = [tagged_names(tags_of[name], SPARK_RESOURCES.prefix) for name in graph.names]
    rules = MergeRules(
        group_spark_nodes=run_config.spark.group_spark_nodes,
        merge_adjacent=run_config.spark.merge_adjacent,
    )
    notes = merge_adjacent_spark_tasks(
        graph.edges, task_of, is_spark, profiles.__getitem__, graph.names.__getitem__, rules
    )
    return {graph.names[node]: "; ".join(texts) for node, texts in notes.items()}


class _Edge(NamedTuple):
    producer: int
    consumer: int
    dataset: str  # the name, as one of the two nodes spells it, that makes this a memory edge


@dataclass
class _NodeGraph:
    """Nodes by index in the pipeline's topological order; edges as ``node_dependencies``."""

    names: list[str]
    edges: list[_Edge]
    memory_edges: list[_Edge]

    @classmethod
    def of(cls, pipeline: Pipeline, type_of: CatalogType) -> _NodeGraph:
        nodes = pipeline.nodes

        @functools.cache
        def is_memory(name: str) -> bool:
            return is_memory_type(type_of(name))

        producer_of: dict[str, tuple[int, str]] = {}
        for index, node in enumerate(nodes):
            for output in node.outputs:
                producer_of[_without_transcoding(output)] = (index, output)
        edges: list[_Edge] = []
        memory_edges: list[_Edge] = []
        for consumer, node in enumerate(nodes):
            for input_name in node.inputs:
                found = producer_of.get(_without_transcoding(input_name))
                if found is None or is_parameter(input_name):
                    continue  # free inputs come from outside the DAG run, never across tasks
                producer, output_name = found
                memory_name = next((n for n in (output_name, input_name) if is_memory(n)), None)
                edge = _Edge(producer, consumer, memory_name or input_name)
                edges.append(edge)
                if memory_name is not None:
                    memory_edges.append(edge)
        return cls([node.name for node in nodes], edges, memory_edges)


def _without_transcoding(name: str) -> str:
    return name.partition("@")[0]


class _UnionFind:
    def __init__(self, size: int) -> None:
        self._parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, first: int, second: int) -> None:
        # The smaller index becomes the root, so a root is its set's first node in pipeline order.
        first, second = self.find(first), self.find(second)
        if first != second:
            self._parent[max(first, second)] = min(first, second)


def _merge_cycles(graph: _NodeGraph, task_of: _UnionFind) -> None:
    """Merge every strongly connected component of the graph of tasks into one task.

    A node on a path from a group back to the same group lies on a cycle through the
    contracted group, so it lands in the group's component; groups that reach each
    other through plain nodes merge with everything between them.

    One pass is the fixpoint the merge/close loop would reach: contracting each
    component yields the condensation, which is acyclic, and the Spark and
    MemoryDataset merges all happen before this pass, which only ever joins tasks, so
    they still hold and nothing asks for another merge.
    """
    roots = sorted({task_of.find(i) for i in range(len(graph.names))})
    vertex = {root: position for position, root in enumerate(roots)}
    successors: list[list[int]] = [[] for _ in roots]
    for edge in graph.edges:
        source, target = vertex[task_of.find(edge.producer)], vertex[task_of.find(edge.consumer)]
        if source != target:
            successors[source].append(target)
    for component in _strong_components(successors):
        for member in component[1:]:
            task_of.union(roots[component[0]], roots[member])


def _strong_components(successors: list[list[int]]) -> list[list[int]]:
    """Components with more than one vertex (Tarjan's algorithm, iterative)."""
    count = len(successors)
    index = [-1] * count
    low = [0] * count
    on_stack = [False] * count
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for start in range(count):
        if index[start] != -1:
            continue
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack[start] = True
        work = [(start, 0)]
        while work:
            vertex, position = work[-1]
            if position < len(successors[vertex]):
                work[-1] = (vertex, position + 1)
                nxt = successors[vertex][position]
                if index[nxt] == -1:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[vertex] = min(low[vertex], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
            if low[vertex] == index[vertex]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                    if member == vertex:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def _forbid_memory_crossings(graph: _NodeGraph, task_of: _UnionFind) -> None:
    crossing = [
        edge
        for edge in graph.memory_edges
        if task_of.find(edge.producer) != task_of.find(edge.consumer)
    ]
    if not crossing:
        return
    first = crossing[0]
    more = f" ({len(crossing) - 1} more such datasets)" if len(crossing) > 1 else ""
    raise PlanError(
        f"MemoryDataset '{first.dataset}' is written by node '{graph.names[first.producer]}' "
        f"and read by node '{graph.names[first.consumer]}', which run in different "
        f"Airflow tasks, where the data would not exist{more}. Declare '{first.dataset}' "
        "in the catalog as a persisted dataset (e.g. a file or table), or set "
        "run_config.group_memory_nodes: true to run both nodes in one task."
    )


def _assemble(
    graph: _NodeGraph,
    task_of: _UnionFind,
    is_spark: list[bool],
    direct_spark: dict[str, str],
    dag_id: str,
    notes: dict[str, str],
) -> Plan:
    members: dict[int, list[int]] = {}
    for node in range(len(graph.names)):
        members.setdefault(task_of.find(node), []).append(node)
    roots = list(members)  # by first node in pipeline order
    spark_roots = {root for root in roots if any(is_spark[n] for n in members[root])}
    task_ids = unique_task_ids(graph.names, members, spark_roots)
    upstream: dict[int, set[int]] = {root: set() for root in roots}
    for edge in graph.edges:
        source, target = task_of.find(edge.producer), task_of.find(edge.consumer)
        if source != target:
            upstream[target].add(source)
    reasons = _reasons(graph, task_of, members, is_spark, direct_spark, spark_roots)
    for name, note in notes.items():
        reasons[name] = f"{reasons[name]}; {note}"
    upstream_ids = {task_ids[root]: sorted(task_ids[up] for up in upstream[root]) for root in roots}
    root_of = {task_ids[root]: root for root in roots}
    tasks = []
    for task_id in topological_order([task_ids[root] for root in roots], upstream_ids):
        root = root_of[task_id]
        names = tuple(graph.names[n] for n in members[root])
        tasks.append(
            Task(
                task_id=task_id,
                kind="spark" if root in spark_roots else "node",
                nodes=names,
                upstream=tuple(upstream_ids[task_id]),
                reasons={name: reasons[name] for name in names},
            )
        )
    return Plan(dag_id=dag_id, tasks=tuple(tasks))


def _reasons(
    graph: _NodeGraph,
    task_of: _UnionFind,
    members: dict[int, list[int]],
    is_spark: list[bool],
    direct_spark: dict[str, str],
    spark_roots: set[int],
) -> dict[str, str]:
    """Why each node is in its task: classifier reason, MemoryDataset, or lying between."""
    names = graph.names
    reasons: dict[str, str] = {}
    for edge in graph.memory_edges:
        if task_of.find(edge.producer) != task_of.find(edge.consumer):
            continue
        for node, other in ((edge.producer, edge.consumer), (edge.consumer, edge.producer)):
            reasons.setdefault(
                names[node], f"joined by MemoryDataset '{edge.dataset}' with node '{names[other]}'"
            )
    reasons.update(direct_spark)
    anchors = [is_spark[n] or names[n] in reasons for n in range(len(names))]
    before, after = _nearest_anchors(graph, task_of, anchors)
    for root, nodes in members.items():
        for node in nodes:
            if names[node] in reasons:
                continue
            if len(nodes) == 1:
                reasons[names[node]] = "plain node"
            elif before[node] is None or after[node] is None:
                reasons[names[node]] = "merged to keep the task graph acyclic"
            else:
                kind = "Spark nodes" if root in spark_roots else "nodes"
                reasons[names[node]] = (
                    f"between {kind} '{names[before[node]]}' and '{names[after[node]]}'"
                )
    return reasons


def _nearest_anchors(
    graph: _NodeGraph, task_of: _UnionFind, anchors: list[bool]
) -> tuple[list[int | None], list[int | None]]:
    """For each node, an anchor of its own task reaching it and one it reaches, inside the task.

    Node indices are a topological order, so one sweep each way over the edges suffices.
    """
    count = len(graph.names)
    before: list[int | None] = [None] * count
    after: list[int | None] = [None] * count
    inside = [e for e in graph.edges if task_of.find(e.producer) == task_of.find(e.consumer)]
    for edge in sorted(inside, key=lambda e: (e.consumer, e.producer)):
        if before[edge.consumer] is None:
            source = edge.producer
            before[edge.consumer] = source if anchors[source] else before[source]
    for edge in sorted(inside, key=lambda e: (-e.producer, e.consumer)):
        if after[edge.producer] is None:
            target = edge.consumer
            after[edge.producer] = target if anchors[target] else after[target]
    return before, after
