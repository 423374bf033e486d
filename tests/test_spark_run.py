"""A real Airflow 3 run (`dag.test()`) of a DAG whose Spark group fails: the cluster still goes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.factories import FAIL_TAG, MARKER_DIR_KEY
from tests.spark_projects import SPARK, compile_to, config, csv

NODES = f'''
from kedro.pipeline import Pipeline, node


def same(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(same, "raw", "a", name="prep"),
            node(same, "a", "f", name="spark_fail", tags=["{SPARK}", "{FAIL_TAG}"]),
            node(same, "f", "g", name="after_fail"),
            node(same, "a", "o", name="spark_ok", tags=["{SPARK}"]),
            node(same, "o", "h", name="after_ok"),
        ]
    )
'''
# Runs in a fresh interpreter: Airflow's metadata database and settings are process-wide.
RUN_DAG = """
import json, sys
from airflow.utils.db import resetdb
resetdb()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
run = bag.dags[sys.argv[2]].test()
state = lambda value: getattr(value, "value", value)
tasks = {ti.task_id: state(ti.state) for ti in run.get_task_instances()}
print("RESULT " + json.dumps({"state": state(run.state), "tasks": tasks}))
"""


def run_dag(dags: Path, dag_id: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        KEDRO_DISABLE_TELEMETRY="true",
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(dags), dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_failing_spark_group_fails_the_run_and_still_deletes_the_cluster(make_project, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    spark = {
        "type": "custom",
        "operator_factory": "tests.factories.LocalCommandFactory",
        "conf": {MARKER_DIR_KEY: str(markers)},
    }
    catalog = {name: csv(name) for name in ["raw", "a", "f", "g", "o", "h"]}
    project = make_project(
        nodes=NODES,
        catalog=catalog,
        # Plain nodes run `true run ...` on the worker: they succeed at once.
        config=config(spark, node_runner="local", local_runner={"kedro_command": "true"}),
    )
    dags, compiled = compile_to(project, dags=tmp_path / "dags")
    task = {node: t for node, t in compiled.plan.task_of_node().items()}

    result = run_dag(dags, compiled.dag_id, tmp_path / "airflow-home")

    assert result["state"] == "failed"
    assert result["tasks"] == {
        "create_spark_cluster": "success",
        task["prep"]: "success",
        task["spark_fail"]: "failed",
        task["after_fail"]: "upstream_failed",
        task["spark_ok"]: "success",
        task["after_ok"]: "success",
        "delete_spark_cluster": "success",
    }
    created = sorted(p.name.removeprefix("created-") for p in markers.glob("created-*"))
    deleted = sorted(p.name.removeprefix("deleted-") for p in markers.glob("deleted-*"))
    assert len(created) == 1 and created == deleted
    assert created[0].startswith("spark-demo-")
