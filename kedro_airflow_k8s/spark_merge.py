"""Fewer Spark applications: merge Spark tasks joined by an edge while no cycle can form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# A node's Spark resource profiles: the names of its kedro-airflow-k8s.spark-resources.* tags.
Profiles = frozenset[str]


class Partition(Protocol):
    """The node-to-task assignment being built (grouping's union-find)."""

    def find(self, item: int) -> int: ...

    def union(self, first: int, second: int) -> None: ...


@dataclass(frozen=True)
class MergeRules:
    """When two adjacent Spark tasks may share one application."""

    group_spark_nodes: bool = True
    merge_adjacent: bool = True

    def blocker(self, first: Profiles, second: Profiles) -> str | None:
        """Why tasks with these profiles stay apart, or None when they may merge."""
        if not self.group_spark_nodes:
            return "run_config.spark.group_spark_nodes is false"
        if first != second:
            return f"their Spark resource profiles differ ({_names(first)} and {_names(second)})"
        if not self.merge_adjacent:
            return "run_config.spark.merge_adjacent is false"
        return None


def merge_adjacent_spark_tasks(
    edges: Sequence[tuple[int, int, str]],
    partition: Partition,
    is_spark: Sequence[bool],
    profiles_of: Callable[[int], Profiles],
    node_name: Callable[[int], str],
    rules: MergeRules,
) -> dict[int, list[str]]:
    """Contract every edge between two Spark tasks whose contraction keeps the task graph
    acyclic, until none is left; return notes on the nodes that explain each merge, and
    each edge left alone only because of ``rules``.

    ``edges`` are (producer node, consumer node, dataset) with node indices in a
    topological order of the pipeline; ``partition`` already holds the acyclic grouping
    and is updated in place. Contracting u -> v creates a cycle exactly when another path
    leads from u to v, so each candidate costs one search bounded by v's position in a
    topological order, which every contraction keeps valid (see ``_TaskGraph.contract``).
    """
    graph = _TaskGraph.of(edges, partition, is_spark, profiles_of)
    notes: dict[int, list[str]] = {}
    if rules.group_spark_nodes and rules.merge_adjacent:
        changed = True
        while changed:  # a merge can remove the detour that kept another pair apart
            changed = False
            for task in list(graph.order):
                while task in graph.alive:
                    target = graph.mergeable_successor(task)
                    if target is None:
                        break
                    producer, consumer, dataset = graph.witness[task, target]
                    notes.setdefault(consumer, []).append(
                        f"merged with the Spark task of node '{node_name(producer)}': "
                        f"dataset '{dataset}' joins them and no other path does"
                    )
                    graph.contract(task, target)
                    partition.union(task, target)
                    changed = True
    for (source, target), (producer, consumer, _) in sorted(graph.witness.items()):
        if not (graph.spark[source] and graph.spark[target]):
            continue
        blocker = rules.blocker(graph.profiles[source], graph.profiles[target])
        if blocker and not graph.has_other_path(source, target):
            notes.setdefault(consumer, []).append(
                f"not merged with the Spark task of node '{node_name(producer)}': {blocker}"
            )
    return notes


_GONE = -1  # the order slot of a task merged into another


def _names(profiles: Profiles) -> str:
    return "+".join(sorted(profiles)) if profiles else "none"


@dataclass
class _TaskGraph:
    """Tasks by root node, their edges, and a topological order kept valid under contraction."""

    successors: dict[int, set[int]]
    predecessors: dict[int, set[int]]
    spark: dict[int, bool]
    profiles: dict[int, Profiles]
    witness: dict[tuple[int, int], tuple[int, int, str]]
    order: list[int]
    position: dict[int, int] = field(default_factory=dict)
    alive: set[int] = field(default_factory=set)

    @classmethod
    def of(
        cls,
        edges: Sequence[tuple[int, int, str]],
        partition: Partition,
        is_spark: Sequence[bool],
        profiles_of: Callable[[int], Profiles],
    ) -> _TaskGraph:
        roots = sorted({partition.find(node) for node in range(len(is_spark))})
        successors: dict[int, set[int]] = {root: set() for root in roots}
        predecessors: dict[int, set[int]] = {root: set() for root in roots}
        spark = dict.fromkeys(roots, False)
        profiles: dict[int, Profiles] = dict.fromkeys(roots, frozenset())
        for node, node_is_spark in enumerate(is_spark):
            root = partition.find(node)
            spark[root] = spark[root] or node_is_spark
            profiles[root] = profiles[root] | profiles_of(node)
        witness: dict[tuple[int, int], tuple[int, int, str]] = {}
        for producer, consumer, dataset in sorted(edges, key=lambda e: (e[1], e[0], e[2])):
            source, target = partition.find(producer), partition.find(consumer)
            if source != target:
                successors[source].add(target)
                predecessors[target].add(source)
                witness.setdefault((source, target), (producer, consumer, dataset))
        graph = cls(successors, predecessors, spark, profiles, witness, _order(roots, successors))
        graph.position = {task: i for i, task in enumerate(graph.order)}
        graph.alive = set(roots)
        return graph

    def mergeable_successor(self, task: int) -> int | None:
        """The first successor (in order) that is a Spark task of the same profiles and
        that ``task`` reaches by no other path."""
        if not self.spark[task]:
            return None
        for target in sorted(self.successors[task], key=self.position.__getitem__):
            if (
                self.spark[target]
                and self.profiles[target] == self.profiles[task]
                and not self.has_other_path(task, target)
            ):
                return target
        return None

    def has_other_path(self, source: int, target: int) -> bool:
        """Whether ``target`` is reachable from ``source`` other than by their direct edge."""
        return self._reach_before(source, target) is None

    def _reach_before(self, source: int, target: int) -> set[int] | None:
        """Tasks reachable from ``source`` (other than via the direct edge) that sit before
        ``target`` in the order; None if ``target`` itself is reachable that way."""
        limit = self.position[target]
        seen: set[int] = set()
        todo = [t for t in self.successors[source] if t != target]
        while todo:
            task = todo.pop()
            if task == target:
                return None
            if task in seen or self.position[task] > limit:
                continue
            seen.add(task)
            todo.extend(self.successors[task])
        return seen

    def contract(self, source: int, target: int) -> None:
        """Merge ``target`` into ``source`` (the only path between them is their edge).

        In the stretch of the order between them, the tasks ``source`` reaches move after
        the merged task and the rest before it: the rest cannot depend on what ``source``
        reaches, and none of ``target``'s other predecessors is reachable from ``source``.
        """
        reached = self._reach_before(source, target)
        assert reached is not None
        start, end = self.position[source], self.position[target]
        between = self.order[start + 1 : end]
        stretch = [t for t in between if t not in reached] + [source]
        stretch += [t for t in between if t in reached]
        self.order[start:end] = stretch
        self.order[end] = _GONE  # keeps every later position valid
        for offset, task in enumerate(stretch):
            self.position[task] = start + offset
        del self.position[target]
        self.alive.discard(target)

        self.successors[source].discard(target)
        self.predecessors[target].discard(source)
        for successor in self.successors.pop(target):
            self.predecessors[successor].discard(target)
            self.predecessors[successor].add(source)
            self.successors[source].add(successor)
            self._move_witness((target, successor), (source, successor))
        for predecessor in self.predecessors.pop(target):
            self.successors[predecessor].discard(target)
            self.successors[predecessor].add(source)
            self.predecessors[source].add(predecessor)
            self._move_witness((predecessor, target), (predecessor, source))
        del self.witness[source, target]
        self.profiles[source] |= self.profiles.pop(target)
        self.spark.pop(target)

    def _move_witness(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        edge = self.witness.pop(old)
        current = self.witness.get(new)
        if current is None or (edge[1], edge[0], edge[2]) < (current[1], current[0], current[2]):
            self.witness[new] = edge


def _order(roots: list[int], successors: dict[int, set[int]]) -> list[int]:
    """A topological order of the tasks, ties broken by root (the smaller node index first)."""
    import heapq

    indegree = dict.fromkeys(roots, 0)
    for targets in successors.values():
        for target in targets:
            indegree[target] += 1
    ready = [root for root in roots if indegree[root] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        task = heapq.heappop(ready)
        order.append(task)
        for target in successors[task]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    return order
