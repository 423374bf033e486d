"""Kedro projects with Spark nodes for the Spark backend tests; helpers to compile and load them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_dagbag

SPARK = "kedro-airflow-k8s.group.pyspark"

# Two first Spark groups (after prep_a and prep_b), plain nodes between Spark groups, two
# last Spark groups, a plain node after them and one beside them. Every dataset is a CSV
# file so that no MemoryDataset merges tasks.
LIFECYCLE_NODES = f'''
from kedro.pipeline import Pipeline, node


def same(*args):
    return args[0]


def create_pipeline(**kwargs):
    spark = ["{SPARK}"]
    return Pipeline(
        [
            node(same, "raw", "a", name="prep_a"),
            node(same, "raw", "b", name="prep_b"),
            node(same, "a", "x", name="spark_x", tags=spark),
            node(same, "b", "y", name="spark_y", tags=spark),
            node(same, "x", "mx", name="mid_x"),
            node(same, "y", "my", name="mid_y"),
            node(same, "mx", "z", name="spark_z", tags=spark),
            node(same, "my", "w", name="spark_w", tags=spark),
            node(same, ["z", "w"], "r", name="report"),
            node(same, "a", "s", name="side"),
        ]
    )
'''
LIFECYCLE_DATASETS = ["raw", "a", "b", "x", "y", "mx", "my", "z", "w", "r", "s"]

# prep, then a Spark group reading S3 and writing GCS, then a plain report.
SIMPLE_NODES = f'''
from kedro.pipeline import Pipeline, node


def same(*args):
    return args[0]


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(same, "raw", "clean", name="prep"),
            node(same, ["clean", "events", "params:day"], "scores", name="score",
                 tags=["{SPARK}", "kedro-airflow-k8s.spark-resources.big"]),
            node(same, "scores", "ranked", name="rank", tags=["{SPARK}"]),
            node(same, "ranked", "report", name="report"),
        ]
    )
'''


def csv(name: str) -> dict[str, Any]:
    return {"type": "pandas.CSVDataset", "filepath": f"data/{name}.csv"}


LIFECYCLE_CATALOG = {name: csv(name) for name in LIFECYCLE_DATASETS}
SIMPLE_CATALOG = {
    "raw": csv("raw"),
    "clean": csv("clean"),
    "events": {
        "type": "spark.SparkDataset",
        "filepath": "s3a://lake/events",
        "credentials": "aws_keys",
    },
    "scores": {"type": "spark.SparkDataset", "filepath": "gs://lake/scores"},
    "ranked": csv("ranked"),
    "report": csv("report"),
}


def config(spark: dict[str, Any], **run_config: Any) -> dict[str, Any]:
    return {
        "host": "http://127.0.0.1:8080",
        "run_config": {
            "image": "registry.example.com/demo:1",
            "namespace": "kedro",
            "run_name": "spark demo",
            **run_config,
            "spark": spark,
        },
    }


def compile_to(
    project_path: Path,
    artifacts: dict[str, str] | None = None,
    dags: Path | None = None,
) -> tuple[Path, Any]:
    """Compile the project (as `kedro airflow-k8s compile` does, with artifact URLs) into
    ``dags`` (default: <project>/dags); returns the folder and the CompiledDag."""
    from kedro_airflow_k8s.build import compile_project
    from kedro_airflow_k8s.project import load_project

    compiled = compile_project(load_project(project_path), artifacts=artifacts)
    folder = dags or project_path / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / compiled.filename).write_text(compiled.source, encoding="utf-8")
    return folder, compiled


def define_spark_connection(project_path: Path, dag_id: str) -> None:
    """What the Airflow deployment does, as compile's note says: define the connection the
    DAG's SparkSubmitOperators read the master from (one the environment has already wins)."""
    from kedro_airflow_k8s.project import load_project
    from kedro_airflow_k8s.spark import kubernetes, spark_submit, standalone

    run = load_project(project_path).config.run_config
    checked = {"k8s": kubernetes.checked_master, "standalone": standalone.checked_master}
    env = spark_submit.connection_env(run, dag_id, checked[run.spark.backend](run))
    if env is not None:
        os.environ.setdefault(*env)


def load_dag(folder: Path, dag_id: str):
    bag = load_dagbag(folder)
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def task_id_of(compiled: Any, node: str) -> str:
    """The Airflow task id of the task that runs ``node``."""
    return compiled.plan.task_of_node()[node]


@pytest.fixture(autouse=True)
def restore_environ():
    """Tests define AIRFLOW_CONN_* variables as an Airflow deployment would."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
