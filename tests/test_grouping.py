"""Task plans for named pipeline shapes: Spark groups, detours, MemoryDatasets, task ids."""

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from kedro_airflow_k8s.classify import catalog_types
from kedro_airflow_k8s.config import SPARK_TAG, RunConfig
from kedro_airflow_k8s.errors import PlanError
from kedro_airflow_k8s.grouping import build_plan, task_id_of_name

REPO = Path(__file__).resolve().parent.parent
CSV = "kedro_datasets.pandas.csv_dataset.CSVDataset"
SPARK = "kedro_datasets.spark.spark_dataset.SparkDataset"
MEMORY = "kedro.io.memory_dataset.MemoryDataset"


def anything(*args):
    return None


def spark_node(inputs, outputs, name):
    return node(anything, inputs, outputs, name=name, tags=[SPARK_TAG])


def plain_node(inputs, outputs, name):
    return node(anything, inputs, outputs, name=name)


def plan_of(
    nodes,
    memory=(),
    types=None,
    group_memory_nodes=True,
    group_spark_nodes=True,
    merge_adjacent=True,
):
    """Plan with every dataset persisted as CSV, except ``memory`` (undeclared) and ``types``."""
    pipeline = Pipeline(nodes)
    catalog = {name: CSV for name in pipeline.datasets()}
    catalog.update(types or {})
    for name in memory:
        catalog.pop(name, None)
    run_config = RunConfig(
        image="image",
        namespace="ns",
        group_memory_nodes=group_memory_nodes,
        spark={"group_spark_nodes": group_spark_nodes, "merge_adjacent": merge_adjacent},
    )
    return build_plan(pipeline, catalog.get, run_config, "dag")


def tasks_by_node(plan):
    return {name: task for task in plan.tasks for name in task.nodes}


def assert_topological(plan):
    seen = set()
    for task in plan.tasks:
        assert set(task.upstream) <= seen, f"{task.task_id} listed before its upstream"
        seen.add(task.task_id)


def test_two_hop_detour_does_not_create_cycle():
    plan = plan_of(
        [
            spark_node("raw", ["a_out", "a_side"], "A"),
            plain_node("a_out", "b_out", "B"),
            plain_node("b_out", "c_out", "C"),
            spark_node(["c_out", "a_side"], "d_out", "D"),
            plain_node("d_out", "report", "E"),
        ]
    )
    assert_topological(plan)
    spark = plan.task("spark_A")
    assert spark.kind == "spark"
    assert spark.nodes == ("A", "B", "C", "D")
    assert spark.reasons["B"] == "between Spark nodes 'A' and 'D'"
    assert spark.reasons["C"] == "between Spark nodes 'A' and 'D'"
    assert spark.reasons["A"] == f"tag {SPARK_TAG}"
    assert plan.task("E").upstream == ("spark_A",)
    assert [t.task_id for t in plan.tasks] == ["spark_A", "E"]


def test_groups_that_would_close_a_cycle_through_each_other_merge():
    # G1 = {S1a, S1b} and G2 = {S2a, S2b}: G1 -> x -> G2 -> y -> G1.
    plan = plan_of(
        [
            spark_node("raw", ["s1a_out", "s1a_side"], "S1a"),
            plain_node("s1a_out", "x_out", "x"),
            spark_node("x_out", "s2a_out", "S2a"),
            spark_node("s2a_out", "s2b_out", "S2b"),
            plain_node("s2b_out", "y_out", "y"),
            spark_node(["y_out", "s1a_side"], "s1b_out", "S1b"),
            plain_node("raw", "unrelated_out", "unrelated"),
        ]
    )
    assert_topological(plan)
    assert [t.task_id for t in plan.spark_tasks] == ["spark_S1a"]
    assert set(plan.task("spark_S1a").nodes) == {"S1a", "x", "S2a", "S2b", "y", "S1b"}
    assert plan.task("unrelated").kind == "node"


def test_unconnected_spark_nodes_stay_in_separate_spark_tasks():
    plan = plan_of(
        [
            spark_node("raw", "left_out", "left"),
            plain_node("left_out", "middle_out", "middle"),
            spark_node("middle_out", "right_out", "right"),
        ]
    )
    assert [t.task_id for t in plan.tasks] == ["spark_left", "middle", "spark_right"]
    assert plan.task("spark_right").upstream == ("middle",)


def test_transcoded_dataset_edges_follow_the_base_name():
    types = {
        "table@spark": SPARK,
        "table@pandas": "kedro_datasets.pandas.parquet_dataset.ParquetDataset",
    }
    plan = plan_of(
        [
            plain_node("raw", "clean", "prepare"),
            plain_node("clean", "table@spark", "write_table"),
            plain_node("table@pandas", "report", "read_table"),
        ],
        types=types,
    )
    assert [t.task_id for t in plan.tasks] == ["prepare", "spark_write_table", "read_table"]
    assert plan.task("read_table").upstream == ("spark_write_table",)
    assert (
        plan.task("spark_write_table").reasons["write_table"] == f"dataset 'table@spark' is {SPARK}"
    )


def test_undeclared_transcoded_side_is_a_memory_dataset():
    plan = plan_of(
        [
            plain_node("raw", "table@spark", "write_table"),
            plain_node("table@pandas", "report", "read_table"),
        ],
        types={"table@spark": SPARK},
        memory=["table@pandas"],
    )
    (task,) = plan.tasks
    assert task.kind == "spark"
    assert task.reasons["read_table"] == (
        "joined by MemoryDataset 'table@pandas' with node 'write_table'"
    )


def test_dataset_factory_pattern_marks_spark_nodes(tmp_path):
    catalog = DataCatalog.from_config(
        {
            "{name}_spark": {"type": "spark.SparkDataset", "filepath": str(tmp_path / "{name}")},
            "{name}_csv": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "{name}.csv")},
        }
    )
    pipeline = Pipeline(
        [
            plain_node("raw_csv", "features_spark", "featurize"),
            plain_node("features_spark", "model_csv", "train"),
            plain_node("model_csv", "scores_csv", "score"),
        ]
    )
    run_config = RunConfig(image="image", namespace="ns")
    plan = build_plan(pipeline, catalog_types(catalog), run_config, "dag")
    assert [t.task_id for t in plan.tasks] == ["spark_featurize", "score"]
    assert plan.task("spark_featurize").nodes == ("featurize", "train")
    assert plan.task("score").upstream == ("spark_featurize",)


def scale(df: "pyspark.sql.DataFrame", factor: float) -> "pyspark.sql.DataFrame":  # noqa: F821
    return df


def summarise(df: "DataFrame") -> "pandas.DataFrame":  # noqa: F821
    return df


def test_string_annotations_and_partial_nodes_make_spark_tasks():
    plan = plan_of(
        [
            node(functools.partial(scale, factor=2.0), "raw", "scaled", name="scale"),
            node(summarise, "scaled", "summary", name="summarise"),
        ]
    )
    assert [(t.task_id, t.kind) for t in plan.tasks] == [
        ("spark_scale", "spark"),
        ("summarise", "node"),
    ]
    assert plan.task("spark_scale").reasons["scale"] == (
        "annotation: input 'df' is pyspark.sql.DataFrame"
    )


def test_spark_connect_annotation_makes_spark_task():
    def connect(df: "pyspark.sql.connect.dataframe.DataFrame"):  # noqa: F821
        return df

    plan = plan_of([node(connect, "raw", "out", name="connect")])
    assert plan.tasks[0].kind == "spark"


def fan_out_through_plain_node(c_tags=()):
    """a (Spark) -> p -> b (Spark) with a -> b, and p -> c (Spark)."""
    return [
        spark_node("raw", ["a_out", "a_side"], "a"),
        plain_node("a_out", ["p_out", "p_side"], "p"),
        spark_node(["p_out", "a_side"], "b_out", "b"),
        node(anything, "p_side", "c_out", name="c", tags=[SPARK_TAG, *c_tags]),
    ]


def test_spark_task_after_a_group_joins_it_when_no_detour_exists():
    plan = plan_of(fan_out_through_plain_node())
    (task,) = plan.tasks
    assert task.nodes == ("a", "p", "b", "c")
    assert task.reasons["c"] == (
        f"tag {SPARK_TAG}; merged with the Spark task of node 'p': "
        "dataset 'p_side' joins them and no other path does"
    )


def test_merge_adjacent_false_keeps_todays_groups_and_says_so():
    plan = plan_of(fan_out_through_plain_node(), merge_adjacent=False)
    assert [t.nodes for t in plan.tasks] == [("a", "p", "b"), ("c",)]
    assert plan.task("spark_c").reasons["c"] == (
        f"tag {SPARK_TAG}; not merged with the Spark task of node 'p': "
        "run_config.spark.merge_adjacent is false"
    )


def test_spark_tasks_of_different_resource_profiles_stay_apart():
    plan = plan_of(fan_out_through_plain_node(c_tags=["kedro-airflow-k8s.spark-resources.big"]))
    assert [t.nodes for t in plan.tasks] == [("a", "p", "b"), ("c",)]
    assert (
        plan.task("spark_c")
        .reasons["c"]
        .endswith(
            "not merged with the Spark task of node 'p': "
            "their Spark resource profiles differ (none and big)"
        )
    )


def test_merge_that_would_close_a_cycle_is_not_made():
    # spark_a = {a, a2} (MemoryDataset), spark_c = {c}: a2 -> c directly, a -> q -> c too.
    plan = plan_of(
        [
            spark_node("raw", ["scratch", "a_out"], "a"),
            plain_node("scratch", "a2_out", "a2"),
            plain_node("a_out", "q_out", "q"),
            spark_node(["a2_out", "q_out"], "c_out", "c"),
        ],
        memory=["scratch"],
    )
    assert [t.nodes for t in plan.tasks] == [("a", "a2"), ("q",), ("c",)]
    assert plan.task("spark_c").upstream == ("q", "spark_a")
    assert "merged" not in plan.task("spark_c").reasons["c"]


def test_chain_of_spark_tasks_merges_to_one_application():
    # Each Spark task hangs off the previous one through a MemoryDataset-joined plain node.
    nodes, memory = [], []
    for i in range(4):
        nodes.append(spark_node(f"in{i}", f"s{i}", f"spark{i}"))
        nodes.append(plain_node(f"s{i}", f"in{i + 1}", f"tail{i}"))
        memory.append(f"s{i}")
    assert len(plan_of(nodes, memory=memory, merge_adjacent=False).spark_tasks) == 4
    (task,) = plan_of(nodes, memory=memory).tasks
    assert task.kind == "spark" and len(task.nodes) == 8


def test_memory_dataset_between_pandas_nodes_merges_them():
    plan = plan_of(
        [
            plain_node("raw", "scratch", "make"),
            plain_node("scratch", "result", "use"),
            plain_node("result", "report", "publish"),
        ],
        memory=["scratch"],
    )
    assert [t.task_id for t in plan.tasks] == ["make", "publish"]
    merged = plan.task("make")
    assert merged.kind == "node"
    assert merged.nodes == ("make", "use")
    assert merged.reasons == {
        "make": "joined by MemoryDataset 'scratch' with node 'use'",
        "use": "joined by MemoryDataset 'scratch' with node 'make'",
    }
    assert plan.task("publish").reasons == {"publish": "plain node"}


@pytest.mark.parametrize(
    "memory_type", [MEMORY, "kedro.io.shared_memory_dataset.SharedMemoryDataset"]
)
def test_declared_memory_datasets_do_not_cross_tasks(memory_type):
    plan = plan_of(
        [plain_node("raw", "scratch", "make"), plain_node("scratch", "result", "use")],
        types={"scratch": memory_type},
    )
    assert [t.nodes for t in plan.tasks] == [("make", "use")]


def test_memory_dataset_between_spark_and_pandas_node_joins_spark_task():
    plan = plan_of(
        [
            spark_node("raw", "frame", "spark_job"),
            plain_node("frame", "summary", "to_pandas"),
            plain_node("summary", "report", "publish"),
        ],
        memory=["frame"],
    )
    assert [t.task_id for t in plan.tasks] == ["spark_spark_job", "publish"]
    spark = plan.task("spark_spark_job")
    assert spark.nodes == ("spark_job", "to_pandas")
    assert spark.reasons["to_pandas"] == "joined by MemoryDataset 'frame' with node 'spark_job'"


def test_group_memory_nodes_false_names_dataset_and_nodes():
    nodes = [plain_node("raw", "scratch", "make"), plain_node("scratch", "result", "use")]
    with pytest.raises(PlanError) as error:
        plan_of(nodes, memory=["scratch"], group_memory_nodes=False)
    message = str(error.value)
    assert "'scratch'" in message and "'make'" in message and "'use'" in message
    assert "persisted dataset" in message
    assert "group_memory_nodes: true" in message


def test_group_memory_nodes_false_allows_memory_inside_one_spark_task():
    plan = plan_of(
        [spark_node("raw", "frame", "first"), spark_node("frame", "out", "second")],
        memory=["frame"],
        group_memory_nodes=False,
    )
    assert [t.nodes for t in plan.tasks] == [("first", "second")]


def test_group_spark_nodes_false_gives_each_spark_node_its_own_task():
    nodes = [
        spark_node("raw", ["a_out", "a_side"], "A"),
        plain_node("a_out", "b_out", "B"),
        spark_node(["b_out", "a_side"], "c_out", "C"),
        spark_node("c_out", "d_out", "D"),
    ]
    plan = plan_of(nodes, group_spark_nodes=False)
    assert [(t.task_id, t.nodes) for t in plan.tasks] == [
        ("spark_A", ("A",)),
        ("B", ("B",)),
        ("spark_C", ("C",)),
        ("spark_D", ("D",)),
    ]
    assert plan.task("spark_C").upstream == ("B", "spark_A")


def test_group_spark_nodes_false_still_merges_for_memory_and_cycles():
    nodes = [
        spark_node("raw", ["a_out", "a_side"], "A"),
        plain_node("a_out", "b_out", "B"),
        spark_node(["b_out", "a_side"], "c_out", "C"),
    ]
    plan = plan_of(nodes, memory=["a_side"], group_spark_nodes=False)
    (task,) = plan.tasks
    assert task.nodes == ("A", "B", "C")
    assert task.reasons["B"] == "between Spark nodes 'A' and 'C'"


def test_free_inputs_and_parameters_never_cross_tasks():
    plan = plan_of(
        [
            plain_node(["raw", "params:alpha", "parameters"], "a_out", "a"),
            plain_node(["raw", "params:alpha", "a_out"], "b_out", "b"),
        ],
        memory=["raw", "params:alpha", "parameters"],
        group_memory_nodes=False,
    )
    assert [t.task_id for t in plan.tasks] == ["a", "b"]


def test_task_ids_are_safe_for_unicode_and_long_names():
    long_name = "step_" + "x" * 300
    plan = plan_of(
        [
            plain_node("raw", "a_out", "Größe.berechnen"),
            plain_node("a_out", "b_out", long_name),
            node(anything, "b_out", "c_out"),
            spark_node("c_out", "d_out", "数据"),
        ]
    )
    ids = [t.task_id for t in plan.tasks]
    assert len(set(ids)) == len(ids)
    for task_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,200}", task_id), task_id
    assert ids[0].startswith("Groe.berechnen_")
    assert task_id_of_name("Größe.berechnen") == ids[0]
    assert task_id_of_name("plain.name-1") == "plain.name-1"


def test_task_ids_do_not_collide_with_node_names():
    plan = plan_of(
        [
            spark_node("raw", "a_out", "A"),
            plain_node("a_out", "b_out", "spark_A"),
            plain_node("b_out", "scratch", "m"),
            plain_node("scratch", "c_out", "n"),
            plain_node("c_out", "d_out", "spark_B"),
            spark_node("d_out", "e_out", "B"),
        ],
        memory=["scratch"],
    )
    ids = {t.nodes: t.task_id for t in plan.tasks}
    assert ids[("spark_A",)] == "spark_A"
    assert ids[("spark_B",)] == "spark_B"
    assert ids[("A",)].startswith("spark_A_")
    assert ids[("B",)].startswith("spark_B_")
    assert ids[("m", "n")] == "m"
    assert len(set(ids.values())) == len(ids)


def test_empty_pipeline_gives_empty_plan():
    assert plan_of([]).tasks == ()


def test_plan_does_not_depend_on_node_order():
    nodes = [
        spark_node("raw", "a_out", "A"),
        plain_node("a_out", "b_out", "B"),
        plain_node("raw", "c_out", "C"),
        spark_node(["b_out", "c_out"], "d_out", "D"),
    ]
    assert plan_of(nodes).to_json() == plan_of(list(reversed(nodes))).to_json()


PLAN_OF_RANDOM_PIPELINE = """
import random
from kedro.pipeline import Pipeline, node
from kedro_airflow_k8s.config import SPARK_TAG, RunConfig
from kedro_airflow_k8s.grouping import build_plan

def anything(*args):
    return None

rng = random.Random(11)
nodes, datasets, types = [], [], {}
for i in range(300):
    inputs = sorted(set(rng.sample(datasets, min(len(datasets), rng.randint(0, 3)))))
    outputs = [f"d{i}_{k}" for k in range(rng.randint(1, 2))]
    for name in outputs:
        kind = rng.random()
        if kind < 0.1:
            types[name] = "kedro_datasets.spark.SparkDataset"
        elif kind < 0.8:
            types[name] = "kedro_datasets.pandas.CSVDataset"
    datasets += outputs
    tags = [SPARK_TAG] if rng.random() < 0.15 else []
    nodes.append(node(anything, inputs or ["raw"], outputs, name=f"n{i}", tags=tags))
plan = build_plan(Pipeline(nodes), types.get, RunConfig(image="i", namespace="n"), "dag")
print(plan.to_json())
"""


def test_plan_is_identical_under_different_hash_seeds():
    outputs = []
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "KEDRO_DISABLE_TELEMETRY": "true"}
        completed = subprocess.run(
            [sys.executable, "-c", PLAN_OF_RANDOM_PIPELINE],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert completed.returncode == 0, completed.stderr
        outputs.append(completed.stdout)
    assert '"kind": "spark"' in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]


def test_task_id_stays_the_same_when_its_group_gains_a_node():
    before = plan_of(
        [plain_node("raw", "scratch", "make"), plain_node("scratch", "out", "use")],
        memory=["scratch"],
    )
    after = plan_of(
        [
            plain_node("raw", "scratch", "make"),
            plain_node("scratch", "more", "use"),
            plain_node("more", "out", "polish"),
        ],
        memory=["scratch", "more"],
    )
    assert [t.task_id for t in before.tasks] == [t.task_id for t in after.tasks] == ["make"]
    assert after.tasks[0].nodes == ("make", "use", "polish")


def test_spark_task_id_stays_the_same_when_its_group_loses_a_node():
    big = plan_of([spark_node("raw", "a", "load"), spark_node("a", "b", "score")])
    small = plan_of([spark_node("raw", "a", "load")])
    assert [t.task_id for t in big.tasks] == [t.task_id for t in small.tasks] == ["spark_load"]
