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
        assert set(task) == {
            "task_id", "kind", "nodes", "upstream", "reasons", "tags", "datasets", "profiles"
        }  # fmt: skip
        assert task["kind"] in {"spark", "node"}
        assert set(task["reasons"]) == set(task["nodes"]) == set(task["tags"])
    spark, plain = plan["tasks"]
    assert spark["kind"] == "spark" and spark["nodes"] == ["a", "b", "c", "d"]
    assert "between Spark nodes" in spark["reasons"]["b"]
    assert spark["tags"]["a"] == ["kedro-airflow-k8s.group.pyspark"] and spark["tags"]["b"] == []
    assert list(spark["datasets"]) == ["raw", "a_out", "b_out", "c_out", "d_out"]
    assert plain == {
        "task_id": "e",
        "kind": "node",
        "nodes": ["e"],
        "upstream": [spark["task_id"]],
        "reasons": {"e": "plain node"},
        "tags": {"e": []},
        "datasets": {"d_out": "data/d_out.csv", "e_out": "data/e_out.csv"},
        "profiles": {},
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


PROFILE_NODES = """
from kedro.pipeline import Pipeline, node


def f(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(f, "raw", "scratch", name="load", tags=["kedro-airflow-k8s.resources.big"]),
            node(f, "scratch", "scored", name="score", tags=["nightly"]),
            node(f, "scored", "report", name="report"),
        ]
    )
"""
PROFILE_CATALOG = {
    "raw": {"type": "pandas.CSVDataset", "filepath": "s3://lake/raw.csv"},
    "{name}": {"type": "pandas.ParquetDataset", "filepath": "data/{name}.parquet"},
    "scratch": {"type": "kedro.io.MemoryDataset"},
}
PROFILES = {
    "run_config": {
        "image": "i",
        "namespace": "n",
        "resources": {"__default__": {"requests": {"cpu": "1"}}, "big": {"limits": {"cpu": "4"}}},
        "operator_args_profiles": {"slow": {"priority_weight": 5}},
    }
}


def test_plan_shows_each_tasks_tags_dataset_paths_and_profiles(make_project, cli, tmp_path):
    project = make_project(nodes=PROFILE_NODES, catalog=PROFILE_CATALOG, config=PROFILES)
    target = tmp_path / "plan.json"
    assert cli(project, "plan", "--format", "json", "--output", str(target)).exit_code == 0
    first, last = json.loads(target.read_text())["tasks"]
    assert first["nodes"] == ["load", "score"]  # joined by the MemoryDataset scratch
    assert first["tags"] == {"load": ["kedro-airflow-k8s.resources.big"], "score": ["nightly"]}
    # The catalog entry, the pattern resolved for this name, and no path for memory.
    assert first["datasets"] == {
        "raw": "s3://lake/raw.csv",
        "scratch": None,
        "scored": "data/scored.parquet",
    }
    assert first["profiles"] == {"resources": "big"}  # the untagged node goes with the tagged
    assert last["profiles"] == {"resources": "__default__"}

    table = cli(project, "plan").output
    assert "  profiles: resources big\n" in table
    assert "  tags: kedro-airflow-k8s.resources.big, nightly\n" in table
    assert "    raw      s3://lake/raw.csv\n" in table
    assert "    scratch  (no path)\n" in table


def test_plan_and_compile_use_the_profile_the_plan_chose(make_project, cli):
    from tests.conftest import load_dagbag

    project = make_project(nodes=PROFILE_NODES, catalog=PROFILE_CATALOG, config=PROFILES)
    assert cli(project, "compile").exit_code == 0
    dag = next(iter(load_dagbag(project / "dags").dags.values()))
    assert dag.get_task("load").container_resources.limits == {"cpu": "4"}
    assert dag.get_task("report").container_resources.requests == {"cpu": "1"}


def test_plan_refuses_nodes_of_one_task_that_pick_different_profiles(make_project, cli):
    nodes = PROFILE_NODES.replace('tags=["nightly"]', 'tags=["kedro-airflow-k8s.resources.x"]')
    config = {"run_config": {**PROFILES["run_config"], "resources": {"big": {}, "x": {}}}}
    project = make_project(nodes=nodes, catalog=PROFILE_CATALOG, config=config)
    result = cli(project, "plan")
    assert result.exit_code == 2
    assert "task 'load' runs nodes with different resources profiles (big, x)" in result.output
    assert "node 'load' kedro-airflow-k8s.resources.big" in result.output
    assert "node 'score' kedro-airflow-k8s.resources.x" in result.output
    assert "Traceback" not in result.output


def test_plan_refuses_a_node_tagged_with_two_profiles_of_one_kind(make_project, cli):
    nodes = PROFILE_NODES.replace(
        'tags=["nightly"]',
        'tags=["kedro-airflow-k8s.operator-args.slow", "kedro-airflow-k8s.operator-args.fast"]',
    )
    config = {
        "run_config": {
            **PROFILES["run_config"],
            "operator_args_profiles": {"slow": {"priority_weight": 5}, "fast": {}},
        }
    }
    project = make_project(nodes=nodes, catalog=PROFILE_CATALOG, config=config)
    result = cli(project, "plan")
    assert result.exit_code == 2
    assert "node 'score' has the tags 'kedro-airflow-k8s.operator-args.fast', " in result.output
    assert "keep one of these tags" in result.output


def test_plan_names_the_node_whose_tag_names_no_profile(make_project, cli):
    nodes = PROFILE_NODES.replace("resources.big", "resources.huge")
    project = make_project(nodes=nodes, catalog=PROFILE_CATALOG, config=PROFILES)
    result = cli(project, "plan")
    assert result.exit_code == 2
    assert (
        "node 'load' has the tag 'kedro-airflow-k8s.resources.huge' but run_config.resources "
        "has no profile 'huge'" in result.output
    )
