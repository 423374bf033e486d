"""`kedro airflow-k8s plan`: the task plan as a table for people and JSON for tools."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

SPARK_NODES = """
from kedro.pipeline import Pipeline, node


def f(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(f, "raw", "a_out", name="a", tags=["kedro-airflow-k8s.group.pyspark"]),
            node(f, "a_out", "b_out", name="b"),
            node(f, "b_out", "c_out", name="c"),
            node(lambda x, y: x, ["c_out", "a_out"], "d_out", name="d",
                 tags=["kedro-airflow-k8s.group.pyspark"]),
            node(f, "d_out", "e_out", name="e"),
        ]
    )
"""
CATALOG = {
    name: {"type": "pandas.CSVDataset", "filepath": f"data/{name}.csv"}
    for name in ["raw", "a_out", "b_out", "c_out", "d_out", "e_out"]
}


def test_plan_json_has_the_documented_shape(make_project, cli, tmp_path):
    project = make_project(nodes=SPARK_NODES, catalog=CATALOG)
    target = tmp_path / "plan.json"
    result = cli(project, "plan", "--format", "json", "--output", str(target))
    assert result.exit_code == 0, result.output
    plan = json.loads(target.read_text())
    assert set(plan) == {"dag_id", "tasks"}
    assert plan["dag_id"] == project.name
    for task in plan["tasks"]:
        assert set(task) == {"task_id", "kind", "nodes", "upstream", "reasons"}
        assert task["kind"] in {"spark", "node"}
        assert set(task["reasons"]) == set(task["nodes"])
    spark, plain = plan["tasks"]
    assert spark["kind"] == "spark" and spark["nodes"] == ["a", "b", "c", "d"]
    assert "between Spark nodes" in spark["reasons"]["b"]
    assert plain == {
        "task_id": "e",
        "kind": "node",
        "nodes": ["e"],
        "upstream": [spark["task_id"]],
        "reasons": {"e": "plain node"},
    }


def test_plan_json_on_stdout_matches_file(make_project, cli, tmp_path):
    project = make_project(nodes=SPARK_NODES, catalog=CATALOG)
    result = cli(project, "plan", "--format", "json")
    assert result.exit_code == 0
    start = result.output.index('{\n  "dag_id"')
    assert json.loads(result.output[start:])["tasks"][0]["kind"] == "spark"


def test_plan_table_explains_each_node(make_project, cli):
    project = make_project(nodes=SPARK_NODES, catalog=CATALOG)
    result = cli(project, "plan")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2 tasks (1 spark)" in out
    assert "[spark]" in out and "[node]" in out
    assert "tag kedro-airflow-k8s.group.pyspark" in out
    assert "between Spark nodes 'a' and 'd'" in out


def test_plan_and_compile_agree(make_project, cli, tmp_path):
    from tests.conftest import load_dagbag

    project = make_project(nodes=SPARK_NODES, catalog=CATALOG)
    target = tmp_path / "plan.json"
    cli(project, "plan", "--format", "json", "--output", str(target))
    plan = json.loads(target.read_text())
    assert cli(project, "compile").exit_code == 0
    dag = load_dagbag(project / "dags").dags[plan["dag_id"]]
    for task in plan["tasks"]:
        airflow_task = dag.get_task(task["task_id"])
        assert airflow_task.upstream_task_ids == set(task["upstream"])
        for name in task["nodes"]:
            assert f"`{name}`" in airflow_task.doc_md


def test_memory_dataset_error_names_dataset_and_nodes(make_project, cli):
    config = {"run_config": {"image": "i", "namespace": "n", "group_memory_nodes": False}}
    catalog = {k: v for k, v in CATALOG.items() if k != "d_out"}
    project = make_project(nodes=SPARK_NODES, catalog=catalog, config=config)
    result = cli(project, "compile")
    assert result.exit_code != 0
    assert "d_out" in result.output and "'d'" in result.output and "'e'" in result.output
    assert "Traceback" not in result.output
    assert not (project / "dags").exists()


def test_the_cycle_collector_runs_again_after_a_plan_fails(make_project, cli):
    config = {"run_config": {"image": "i", "namespace": "n", "group_memory_nodes": False}}
    catalog = {k: v for k, v in CATALOG.items() if k != "d_out"}
    project = make_project(nodes=SPARK_NODES, catalog=catalog, config=config)

    result = cli(project, "plan")

    assert result.exit_code == 2
    assert gc.isenabled()


CATCH_ALL_NODES = """
from kedro.pipeline import Pipeline, node


def f(*frames):
    return frames[0]


def create_pipeline(**kwargs):
    steps = [node(f, "raw", "out_0", name="step_0", tags=["kedro-airflow-k8s.group.pyspark"])]
    for i in range(1, 200):
        steps.append(node(f, [f"out_{i - 1}", "raw"], f"out_{i}", name=f"step_{i}"))
    return Pipeline(steps)
"""


def kedro_plan(project: Path, *python_options: str) -> subprocess.CompletedProcess:
    """`kedro airflow-k8s plan --format json` in its own process, as a user runs it."""
    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [sys.executable, *python_options, "-m", "kedro", "airflow-k8s", "plan", "--format", "json"],
        cwd=project,
        env={**env, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_plan_on_a_catch_all_catalog_prints_no_line_per_dataset(make_project):
    """Kedro warns once per dataset a "{name}" pattern resolves; plan must not pass that on."""
    project = make_project(
        nodes=CATCH_ALL_NODES,
        catalog={"{name}": {"type": "pandas.CSVDataset", "filepath": "data/{name}.csv"}},
    )
    completed = kedro_plan(project)
    output = completed.stdout + completed.stderr
    assert "dataset pattern" not in output
    assert not any(f"out_{i}'" in output for i in range(200))
    assert '"step_199"' in completed.stdout


def test_plan_imports_no_dataset_library(make_project):
    """Dataset types are read from source: pandas, SQLAlchemy and pyspark take seconds to
    import and say nothing about the plan."""
    project = make_project(
        nodes=CATCH_ALL_NODES,
        catalog={
            "raw": {"type": "spark.SparkDataset", "filepath": "data/raw.parquet"},
            "{name}": {"type": "pandas.CSVDataset", "filepath": "data/{name}.csv"},
        },
    )
    completed = kedro_plan(project, "-X", "importtime")

    imported = {
        line.split("|")[-1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "kedro_airflow_k8s.grouping" in imported
    for library in ("pandas", "sqlalchemy", "pyspark", "kedro_datasets.pandas"):
        assert library not in imported
    # `kedro` itself logs a line to standard output before any plugin runs.
    plan = json.loads(completed.stdout[completed.stdout.index("\n{") :])
    reasons = plan["tasks"][0]["reasons"]
    assert reasons["step_1"] == "dataset 'raw' is kedro_datasets.spark.spark_dataset.SparkDataset"
