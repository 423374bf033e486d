"""Plan invariants on random pipelines: coverage, Spark placement, acyclicity, MemoryDatasets."""

import re
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kedro.pipeline import Pipeline, node

from kedro_airflow_k8s.classify import classify, is_memory_type, is_parameter
from kedro_airflow_k8s.config import SPARK_RESOURCES_TAG_PREFIX, SPARK_TAG, RunConfig
from kedro_airflow_k8s.errors import PlanError
from kedro_airflow_k8s.grouping import build_plan

DATASET_TYPES = {
    "csv": "kedro_datasets.pandas.csv_dataset.CSVDataset",
    "spark": "kedro_datasets.spark.spark_dataset.SparkDataset",
    "spark_short": "kedro_datasets.spark.SparkDataset",
    "memory": "kedro.io.memory_dataset.MemoryDataset",
    "undeclared": None,
}
TASK_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")


def anything(*args):
    return None


def spark_annotated(*frames: "pyspark.sql.DataFrame"):  # noqa: F821
    return None


@dataclass
class Case:
    pipeline: Pipeline
    types: dict[str, str | None]
    run_config: RunConfig

    def catalog_type(self, name: str) -> str | None:
        return self.types.get(name)


KIND_WEIGHTS = ["csv"] * 5 + ["spark", "spark_short", "memory", "undeclared"]
BIG = f"{SPARK_RESOURCES_TAG_PREFIX}big"
TAG_CHOICES = [[], [], [], [SPARK_TAG], ["custom.spark"], ["other"], [SPARK_TAG, BIG], [BIG]]


@st.composite
def cases(draw) -> Case:
    """A random DAG: each node reads earlier outputs (some transcoded) and writes new ones."""
    count = draw(st.integers(1, 24))
    types: dict[str, str | None] = {}
    produced: list[tuple[str, str]] = []  # (name the producer writes, name consumers read)
    nodes = []
    for index in range(count):
        # Mostly recent outputs, so paths are long and detours between Spark nodes common.
        recent = max(len(produced) - 6, 0)
        picks = draw(st.lists(st.integers(recent, max(len(produced) - 1, 0)), max_size=3))
        picks += draw(st.lists(st.integers(0, max(len(produced) - 1, 0)), max_size=1))
        inputs = [produced[i][1] for i in picks if produced]
        if draw(st.integers(0, 3)) == 0:
            inputs.append(draw(st.sampled_from(["raw", "params:alpha", "parameters"])))
        outputs = []
        for k in range(draw(st.integers(1, 2))):
            base = f"d{index}_{k}"
            if draw(st.integers(0, 5)) == 0:
                written, read = f"{base}@spark", f"{base}@pandas"
                types[read] = draw(st.sampled_from([DATASET_TYPES["csv"]] * 3 + [None]))
            else:
                written = read = base
            types[written] = DATASET_TYPES[draw(st.sampled_from(KIND_WEIGHTS))]
            outputs.append(written)
            produced.append((written, read))
        tags = draw(st.sampled_from(TAG_CHOICES))
        func = draw(st.sampled_from([anything, anything, anything, anything, spark_annotated]))
        nodes.append(node(func, sorted(set(inputs)) or None, outputs, name=f"n{index}", tags=tags))
    run_config = RunConfig(
        image="image",
        namespace="ns",
        group_memory_nodes=draw(st.sampled_from([True, True, True, False])),
        spark={
            "group_spark_nodes": draw(st.sampled_from([True, True, False])),
            "merge_adjacent": draw(st.sampled_from([True, True, True, False])),
            "tags": ["custom.spark"],
        },
    )
    return Case(Pipeline(nodes), types, run_config)


def edges(case: Case):
    """(producer, consumer, memory dataset or None) per node dependency, computed directly."""
    writer = {}
    for producer in case.pipeline.nodes:
        for output in producer.outputs:
            writer[output.split("@")[0]] = (producer.name, output)
    for consumer in case.pipeline.nodes:
        for input_name in consumer.inputs:
            if is_parameter(input_name) or input_name.split("@")[0] not in writer:
                continue
            producer, output = writer[input_name.split("@")[0]]
            memory = [n for n in (output, input_name) if is_memory_type(case.catalog_type(n))]
            yield producer, consumer.name, memory[0] if memory else None


def reachable(start: str, successors: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in successors[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def reference_partition(case: Case, spark: set[str]) -> set[frozenset[str]]:
    """Grouping before the merge pass, computed the slow obvious way: Spark and memory edges
    join their nodes, then any two tasks on a cycle merge."""
    task = {n.name: frozenset([n.name]) for n in case.pipeline.nodes}

    def merge(first: str, second: str) -> None:
        joined = task[first] | task[second]
        for name in joined:
            task[name] = joined

    all_edges = list(edges(case))
    for producer, consumer, memory in all_edges:
        both_spark = producer in spark and consumer in spark
        if (both_spark and case.run_config.spark.group_spark_nodes) or (
            memory and case.run_config.group_memory_nodes
        ):
            merge(producer, consumer)
    while True:
        successors = {t: set() for t in set(task.values())}
        for producer, consumer, _ in all_edges:
            if task[producer] != task[consumer]:
                successors[task[producer]].add(task[consumer])
        on_cycle = [t for t in successors if t in reachable(t, successors)]
        if not on_cycle:
            return set(task.values())
        first = on_cycle[0]
        for other in on_cycle:
            if first in reachable(other, successors) and other in reachable(first, successors):
                merge(next(iter(first)), next(iter(other)))


def task_successors(case: Case, partition: set[frozenset[str]]) -> dict[frozenset, set]:
    task = {name: members for members in partition for name in members}
    successors = {members: set() for members in partition}
    for producer, consumer, _ in edges(case):
        if task[producer] != task[consumer]:
            successors[task[producer]].add(task[consumer])
    return successors


def profiles(case: Case, members: frozenset[str]) -> set[str]:
    return {
        tag
        for n in case.pipeline.nodes
        if n.name in members
        for tag in n.tags
        if tag.startswith(SPARK_RESOURCES_TAG_PREFIX)
    }


def mergeable_adjacent_pairs(case: Case, spark: set[str], partition: set[frozenset[str]]):
    """Spark tasks joined by an edge, with equal resource profiles, whose contraction keeps
    the task graph acyclic: no other path leads from the first to the second."""
    successors = task_successors(case, partition)
    pairs = []
    for first, targets in successors.items():
        for second in targets:
            if not (first & spark and second & spark):
                continue
            if profiles(case, first) != profiles(case, second):
                continue
            detours = {
                reached
                for other in targets - {second}
                for reached in reachable(other, successors) | {other}
            }
            if second not in detours:
                pairs.append((first, second))
    return pairs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plan_invariants_hold_on_random_pipelines(case):
    spark = set(classify(case.pipeline, case.catalog_type, case.run_config.spark))
    try:
        plan = build_plan(case.pipeline, case.catalog_type, case.run_config, "dag")
    except PlanError as error:
        assert not case.run_config.group_memory_nodes
        assert any(
            memory and f"'{memory}'" in str(error) and f"'{producer}'" in str(error)
            for producer, _, memory in edges(case)
        )
        return

    task_of = plan.task_of_node()
    all_nodes = [n.name for n in case.pipeline.nodes]
    assert sorted(name for task in plan.tasks for name in task.nodes) == sorted(all_nodes)
    assert set(task_of) == set(all_nodes)

    by_id = {task.task_id: task for task in plan.tasks}
    assert len(by_id) == len(plan.tasks)
    assert all(TASK_ID.fullmatch(task_id) for task_id in by_id)

    for task in plan.tasks:
        assert (task.kind == "spark") == any(name in spark for name in task.nodes)
        assert set(task.reasons) == set(task.nodes) and all(task.reasons.values())
        assert "acyclic" not in " ".join(task.reasons.values())  # the fallback never fires
        order = [all_nodes.index(name) for name in task.nodes]
        assert order == sorted(order)

    position = {task.task_id: i for i, task in enumerate(plan.tasks)}
    expected_upstream = {task.task_id: set() for task in plan.tasks}
    for producer, consumer, memory in edges(case):
        if task_of[producer] != task_of[consumer]:
            assert memory is None, f"MemoryDataset {memory} crosses tasks"
            expected_upstream[task_of[consumer]].add(task_of[producer])
    for task in plan.tasks:
        assert set(task.upstream) == expected_upstream[task.task_id]
        assert list(task.upstream) == sorted(task.upstream)
        assert all(position[up] < position[task.task_id] for up in task.upstream)

    partition = {frozenset(task.nodes) for task in plan.tasks}
    before_merges = reference_partition(case, spark)
    spark_config = case.run_config.spark
    if not (spark_config.group_spark_nodes and spark_config.merge_adjacent):
        assert partition == before_merges
    else:
        assert mergeable_adjacent_pairs(case, spark, partition) == []
        for members in partition:
            parts = [t for t in before_merges if t <= members]
            assert frozenset().union(*parts) == members  # merges only join whole tasks
            if len(parts) > 1:
                assert all(t & spark for t in parts), "only Spark tasks merge"
                assert len({frozenset(profiles(case, t)) for t in parts}) == 1
                reasons = " ".join(plan.task(task_of[min(members)]).reasons.values())
                assert "merged with the Spark task of node" in reasons

    again = build_plan(
        Pipeline(list(reversed(case.pipeline.nodes))), case.catalog_type, case.run_config, "dag"
    )
    assert again.to_json() == plan.to_json()


@settings(max_examples=100, deadline=None)
@given(cases())
def test_without_memory_datasets_or_grouping_every_task_is_one_node(case):
    case.types = {
        name: DATASET_TYPES["csv"] if is_memory_type(t) else t for name, t in case.types.items()
    }
    case.run_config.spark.group_spark_nodes = False
    plan = build_plan(case.pipeline, case.catalog_type, case.run_config, "dag")
    assert all(len(task.nodes) == 1 for task in plan.tasks)
