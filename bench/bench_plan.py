"""Wall time of classify + build_plan on random mixed pipelines of 1k to 20k nodes."""

from __future__ import annotations

import os
import random
import time

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

from kedro.pipeline import Pipeline, node  # noqa: E402

from kedro_airflow_k8s.classify import classify  # noqa: E402
from kedro_airflow_k8s.config import SPARK_TAG, RunConfig  # noqa: E402
from kedro_airflow_k8s.grouping import build_plan  # noqa: E402

SIZES = (1_000, 5_000, 10_000, 20_000)
TYPES = {
    "csv": "kedro_datasets.pandas.csv_dataset.CSVDataset",
    "spark": "kedro_datasets.spark.spark_dataset.SparkDataset",
    "memory": None,
}


def pandas_step(*frames):
    return None


def spark_step(*frames: pyspark.sql.DataFrame):  # noqa: F821
    return None


def random_pipeline(size: int, seed: int = 0) -> tuple[Pipeline, dict[str, str | None]]:
    """Nodes read mostly recent outputs (long chains, many detours) and sometimes old ones."""
    rng = random.Random(seed)
    nodes, outputs, types = [], [], {}
    for index in range(size):
        picks = {"raw"}
        if outputs:
            window = min(len(outputs), 30)
            picks = {outputs[-rng.randint(1, window)] for _ in range(rng.randint(1, 3))}
            if rng.random() < 0.2:
                picks.add(rng.choice(outputs))
        written = [f"d{index}_{k}" for k in range(rng.randint(1, 2))]
        for name in written:
            types[name] = TYPES[rng.choices(list(TYPES), weights=(85, 5, 10))[0]]
        outputs += written
        tags = [SPARK_TAG] if rng.random() < 0.1 else []
        func = spark_step if rng.random() < 0.02 else pandas_step
        nodes.append(node(func, sorted(picks), written, name=f"node_{index}", tags=tags))
    return Pipeline(nodes), types


def measure(size: int, repeats: int = 3) -> dict[str, float | int]:
    """Seconds for build_plan on a fresh pipeline (cold), then best-of-``repeats`` warm runs."""
    pipeline, types = random_pipeline(size)
    run_config = RunConfig(image="image", namespace="ns")
    started = time.perf_counter()
    plan = build_plan(pipeline, types.get, run_config, "bench")
    cold = time.perf_counter() - started
    warm, classify_only = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        build_plan(pipeline, types.get, run_config, "bench")
        warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        classify(pipeline, types.get, run_config.spark)
        classify_only.append(time.perf_counter() - started)
    return {
        "cold": cold,
        "warm": min(warm),
        "classify": min(classify_only),
        "tasks": len(plan.tasks),
        "spark": len(plan.spark_tasks),
    }


def main() -> None:
    print("classify + build_plan on random pipelines (build_plan calls classify itself)")
    print(f"{'nodes':>7} {'cold s':>8} {'warm s':>8} {'classify s':>11} {'tasks':>7} {'spark':>6}")
    for size in SIZES:
        r = measure(size)
        print(
            f"{size:>7} {r['cold']:>8.3f} {r['warm']:>8.3f} {r['classify']:>11.3f}"
            f" {r['tasks']:>7} {r['spark']:>6}"
        )
    print("cold: first call on a fresh Pipeline, including Kedro's toposort of its nodes.")


if __name__ == "__main__":
    main()
