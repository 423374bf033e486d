"""Spark applications per pipeline: minimal grouping, today's grouping, one per Spark node."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

from kedro.pipeline import Pipeline, node  # noqa: E402

from kedro_airflow_k8s.config import SPARK_TAG, RunConfig  # noqa: E402
from kedro_airflow_k8s.grouping import build_plan  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CSV = "kedro_datasets.pandas.csv_dataset.CSVDataset"
SPARK = "kedro_datasets.spark.spark_dataset.SparkDataset"
PIPELINES = 400
MODES = {
    "minimal": {"merge_adjacent": True},
    "today": {"merge_adjacent": False},
    "one per node": {"group_spark_nodes": False},
}


def step(*frames):
    return frames[0] if frames else None


@dataclass
class Case:
    name: str
    pipeline: Pipeline
    types: dict[str, str | None]


def random_case(seed: int) -> Case:
    """20-300 nodes, 10-60 % of them Spark; inputs mostly recent, sometimes old; about one
    dataset in ten undeclared (a MemoryDataset)."""
    rng = random.Random(seed)
    size, spark_ratio = rng.randint(20, 300), rng.uniform(0.1, 0.6)
    nodes, outputs, types = [], [], {}
    for index in range(size):
        inputs = {"raw"}
        if outputs:
            window = min(len(outputs), 12)
            inputs = {outputs[-rng.randint(1, window)] for _ in range(rng.randint(1, 3))}
            if rng.random() < 0.15:
                inputs.add(rng.choice(outputs))
        written = [f"d{index}_{k}" for k in range(rng.randint(1, 2))]
        for name in written:
            types[name] = None if rng.random() < 0.1 else CSV
        outputs += written
        tags = [SPARK_TAG] if rng.random() < spark_ratio else []
        nodes.append(node(step, sorted(inputs), written, name=f"n{index}", tags=tags))
    return Case(f"random {seed}", Pipeline(nodes), types)


def spaceflights_pyspark_case() -> Case:
    """The shape of Kedro's spaceflights-pyspark starter: Spark preprocessing into a model
    input table, then scikit-learn nodes, and a report reading both sides."""

    def spark(inputs, output, name):
        return node(step, inputs, output, name=name, tags=[SPARK_TAG])

    def plain(inputs, output, name):
        return node(step, inputs, output, name=name)

    pipeline = Pipeline(
        [
            spark("companies", "preprocessed_companies", "preprocess_companies"),
            spark("shuttles", "preprocessed_shuttles", "preprocess_shuttles"),
            plain("reviews", "clean_reviews", "clean_reviews"),
            spark(
                ["preprocessed_shuttles", "preprocessed_companies", "clean_reviews"],
                "model_input_table",
                "create_model_input_table",
            ),
            plain(["model_input_table", "params:split"], ["x_train", "x_test"], "split_data"),
            plain("x_train", "regressor", "train_model"),
            plain(["regressor", "x_test"], "metrics", "evaluate_model"),
            spark("model_input_table", "shuttle_stats", "compare_shuttle_prices"),
            spark(["shuttle_stats", "metrics"], "report", "create_report"),
        ]
    )
    types = {name: CSV for name in pipeline.datasets()}
    for name in ("preprocessed_companies", "preprocessed_shuttles", "model_input_table"):
        types[name] = SPARK
    return Case("spaceflights-pyspark shape", pipeline, types)


def issue_minimal_case() -> Case:
    """a (Spark) -> p -> b (Spark), a -> b, and p -> c (Spark)."""
    pipeline = Pipeline(
        [
            node(step, "raw", ["a_out", "a_side"], name="a", tags=[SPARK_TAG]),
            node(step, "a_out", ["p_out", "p_side"], name="p"),
            node(step, ["p_out", "a_side"], "b_out", name="b", tags=[SPARK_TAG]),
            node(step, "p_side", "c_out", name="c", tags=[SPARK_TAG]),
        ]
    )
    return Case("fan-out through a plain node", pipeline, dict.fromkeys(pipeline.datasets(), CSV))


def mixed_demo_case() -> Case:
    """examples/mixed-demo, loaded as compile loads it."""
    from kedro_airflow_k8s.project import load_project

    project = load_project(REPO / "examples" / "mixed-demo")
    types = {name: project.catalog_type(name) for name in project.pipeline.datasets()}
    return Case("examples/mixed-demo", project.pipeline, types)


def applications(case: Case) -> dict[str, int]:
    """Spark tasks (one application each) of the case's plan in each mode."""
    counts = {}
    for mode, spark in MODES.items():
        run_config = RunConfig(image="image", namespace="ns", spark=spark)
        plan = build_plan(case.pipeline, case.types.get, run_config, "bench")
        counts[mode] = len(plan.spark_tasks)
    return counts


def random_cases(count: int = PIPELINES) -> Iterator[Case]:
    return (random_case(seed) for seed in range(count))


def run(count: int = PIPELINES) -> list[str]:
    totals = dict.fromkeys(MODES, 0)
    fewer = 0
    for case in random_cases(count):
        counts = applications(case)
        for mode, value in counts.items():
            totals[mode] += value
        fewer += counts["minimal"] < counts["today"]
    lines = [
        f"{count:,} random pipelines (seeds 0-{count - 1}; 20-300 nodes, 10-60 % Spark nodes by "
        "tag, about 10 % undeclared datasets), and example projects. One Spark task is one "
        "Spark application.",
        "",
        "| pipelines | minimal (this plugin) | today's grouping (`merge_adjacent: false`) "
        "| one per Spark node (`group_spark_nodes: false`) |",
        "|---|---:|---:|---:|",
        f"| {count:,} random, total | {totals['minimal']:,} | {totals['today']:,} "
        f"| {totals['one per node']:,} |",
        f"| random, mean per pipeline | {totals['minimal'] / count:.2f} "
        f"| {totals['today'] / count:.2f} | {totals['one per node'] / count:.2f} |",
    ]
    for case in (mixed_demo_case(), spaceflights_pyspark_case(), issue_minimal_case()):
        counts = applications(case)
        lines.append(
            f"| {case.name} | {counts['minimal']} | {counts['today']} | {counts['one per node']} |"
        )
    saved = totals["today"] - totals["minimal"]
    lines += [
        "",
        f"Minimal grouping starts {saved:,} fewer applications than today's grouping on the "
        f"random pipelines ({saved / max(totals['today'], 1):.1%}), fewer in {fewer:,} of "
        f"{count:,} pipelines; every plan is acyclic and keeps MemoryDatasets inside tasks "
        "(tests/test_grouping_properties.py checks both, and that no mergeable pair is left).",
    ]
    return lines


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else PIPELINES
    print("\n".join(run(count)))
