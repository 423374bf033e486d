"""Fewer Spark applications: merge Spark tasks joined by an edge while no cycle can form."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

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
    leads from u to v; the search for one stays between u and v in a topological order
    of the tasks, which every contraction keeps valid (see ``_TaskGraph.contract``).
    """
    graph = _TaskGraph.of(edges, partition, is_spark, profiles_of)
    notes: dict[int, list[str]] = {}
    if rules.group_spark_nodes and rules.merge_adjacent:
        changed = True
        while changed:  # a merge can remove the detour that kept another pair apart
            changed = False
            for task in list(graph.order):
                while task in graph.alive:
                    found = graph.mergeable_successor(task)
                    if found is None:
                        break
                    target, separation = found
                    producer, consumer, dataset = graph.joining_edge[task, target]
                    notes.setdefault(consumer, []).append(
                        f"merged with the Spark task of node '{node_name(producer)}': "
                        f"dataset '{dataset}' joins them and no other path does"
                    )
                    graph.contract(task, target, separation)
                    partition.union(task, target)
                    changed = True
    for (source, target), (producer, consumer, _) in sorted(graph.joining_edge.items()):
        if not (graph.spark[source] and graph.spark[target]):
            continue
        blocker = rules.blocker(graph.profiles[source], graph.profiles[target])
        if blocker and isinstance(graph.separation(source, target), _Separation):
            notes.setdefault(consumer, []).append(
                f"not merged with the Spark task of node '{node_name(producer)}': {blocker}"
            )
    return notes


_GONE = -1  # the order slot of a task merged into another


def _names(profiles: Profiles) -> str:
    return "+".join(sorted(profiles)) if profiles else "none"


class _Separation(NamedTuple):
    """No other path: the tasks of the stretch between the two that one side reaches."""

    forward: bool  # tasks reached from the source, else tasks that reach the target
    tasks: set[int]


@dataclass
class _TaskGraph:
    """Tasks by root node, their edges, and a topological order kept valid under contraction."""

    successors: dict[int, set[int]]
    predecessors: dict[int, set[int]]
    spark: dict[int, bool]
    profiles: dict[int, Profiles]
    joining_edge: dict[tuple[int, int], tuple[int, int, str]]  # first node edge per task edge
    order: list[int]
    position: dict[int, int] = field(default_factory=dict)
    alive: set[int] = field(default_factory=set)
    absorbed_by: dict[int, int] = field(default_factory=dict)
    # (source, target) -> a task on another path between them, found earlier.
    detour: dict[tuple[int, int], int] = field(default_factory=dict)

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
        joining: dict[tuple[int, int], tuple[int, int, str]] = {}
        for producer, consumer, dataset in sorted(edges, key=lambda e: (e[1], e[0], e[2])):
            source, target = partition.find(producer), partition.find(consumer)
            if source != target:
                successors[source].add(target)
                predecessors[target].add(source)
                joining.setdefault((source, target), (producer, consumer, dataset))
        graph = cls(successors, predecessors, spark, profiles, joining, _order(roots, successors))
        graph.position = {task: i for i, task in enumerate(graph.order)}
        graph.alive = set(roots)
        return graph

    def mergeable_successor(self, task: int) -> tuple[int, _Separation] | None:
        """The first successor (in order) that is a Spark task of the same profiles and
        that ``task`` reaches by no other path, with what separates them."""
        if not self.spark[task]:
            return None
        candidates = [
            target
            for target in self.successors[task]
            if self.spark[target] and self.profiles[target] == self.profiles[task]
        ]
        for target in sorted(candidates, key=self.position.__getitem__):
            # A path through a third task stays a path through whatever absorbs that task,
            # unless the source or the target absorbs it.
            known = self.detour.get((task, target))
            if known is not None and self._representative(known) not in (task, target):
                continue
            found = self.separation(task, target)
            if isinstance(found, _Separation):
                return target, found
            self.detour[task, target] = found
        return None

    def separation(self, source: int, target: int) -> _Separation | int:
        """A task on another path from ``source`` to ``target``, or, when there is none,
        the tasks of the stretch of the order between them that ``source`` reaches
        (forward) or that reach ``target`` (backward), whichever search ran out first.

        The searches go forward from ``source`` and backward from ``target``, stay inside
        the stretch, and take turns by edges scanned: a big group with thousands of edges
        on one side costs no more than the other side needs to finish or to meet it.
        """
        successors, predecessors = self.successors[source], self.predecessors[target]
        small, large = sorted((successors, predecessors), key=len)
        for task in small:
            if task in large and task not in (source, target):
                return task  # the common case: a detour of two edges
        position, low, high = self.position, self.position[source], self.position[target]
        ahead, behind = {source}, {target}
        ahead_todo, behind_todo = [source], [target]
        ahead_work = behind_work = 0
        while True:
            if ahead_work <= behind_work:
                if not ahead_todo:
                    return _Separation(True, ahead - {source})
                task = ahead_todo.pop()
                for following in self.successors[task]:
                    ahead_work += 1
                    if following in behind:
                        if task == source and following == target:
                            continue  # the direct edge itself
                        return task if following == target else following
                    if following not in ahead and position[following] < high:
                        ahead.add(following)
                        ahead_todo.append(following)
            else:
                if not behind_todo:
                    return _Separation(False, behind - {target})
                task = behind_todo.pop()
                for preceding in self.predecessors[task]:
                    behind_work += 1
                    if preceding in ahead:
                        if task == target and preceding == source:
                            continue
                        return task if preceding == source else preceding
                    if preceding not in behind and position[preceding] > low:
                        behind.add(preceding)
                        behind_todo.append(preceding)

    def contract(self, source: int, target: int, separation: _Separation) -> None:
        """Merge ``target`` into ``source``, given what separates them (no other path).

        Within the stretch of the order between them, what ``source`` reaches moves after
        the merged task and the rest stays before it; or, from the other side, what reaches
        ``target`` moves before it and the rest after. Either keeps the order topological:
        no other path means nothing ``source`` reaches also reaches ``target``.
        """
        start, end = self.position[source], self.position[target]
        between = [t for t in self.order[start + 1 : end] if t != _GONE]
        found = separation.tasks
        if separation.forward:
            stretch = [t for t in between if t not in found] + [source]
            stretch += [t for t in between if t in found]
        else:
            stretch = [t for t in between if t in found] + [source]
            stretch += [t for t in between if t not in found]
        # Merged-away slots stay as gaps, so every position outside the stretch stays valid.
        self.order[start : end + 1] = stretch + [_GONE] * (end + 1 - start - len(stretch))
        for offset, task in enumerate(stretch):
            self.position[task] = start + offset
        del self.position[target]
        self.alive.discard(target)
        self.absorbed_by[target] = source

        self.successors[source].discard(target)
        self.predecessors[target].discard(source)
        for successor in self.successors.pop(target):
            self.predecessors[successor].discard(target)
            self.predecessors[successor].add(source)
            self.successors[source].add(successor)
            self._move_joining_edge((target, successor), (source, successor))
        for predecessor in self.predecessors.pop(target):
            self.successors[predecessor].discard(target)
            self.successors[predecessor].add(source)
            self.predecessors[source].add(predecessor)
            self._move_joining_edge((predecessor, target), (predecessor, source))
        del self.joining_edge[source, target]
        self.profiles[source] |= self.profiles.pop(target)
        self.spark.pop(target)

    def _representative(self, task: int) -> int:
        while task in self.absorbed_by:
            task = self.absorbed_by[task]
        return task

    def _move_joining_edge(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        edge = self.joining_edge.pop(old)
        current = self.joining_edge.get(new)
        if current is None or (edge[1], edge[0], edge[2]) < (current[1], current[0], current[2]):
            self.joining_edge[new] = edge


def _order(roots: list[int], successors: dict[int, set[int]]) -> list[int]:
    """A topological order of the tasks, ties broken by root (the smaller node index first)."""
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
