"""End to end: one MLflow run per DAG run, on a real MLflow server and a real Airflow 3.

The example project logs a metric from a pandas node (run by `kedro run` on the worker)
and from a Spark node (run by spark-submit on local[2]). Two DAG runs against one MLflow
server and one experiment: the example as is, and a copy whose Spark node raises.
"""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.e2e_support import (
    REPO,
    Airflow,
    DagRun,
    airflow_home,
    airflow_task_id,
    compile_dag,
    demo,
    plant_failure,
    prepare_example,
    run_dag,
)
from tests.mlflow_server import OFFLINE, MlflowServer, session_mlflow

pytestmark = pytest.mark.e2e

EXPERIMENT = "mixed-demo-e2e"
FAILING_NODE = "join_shop_targets"
# Node function, the metric it logs, and the expression of its value.
METRICS = {
    "clean_orders": ("raw_orders", "len(orders)"),  # pandas, in a `kedro run` task
    "aggregate_shop_sales": ("order_lines", "order_lines.count()"),  # Spark, in spark-submit
}


# The Airflow connection of the failing DAG run: the deployment defines it in the
# environment of its processes, and the DAG file only names it.
CONN_ID = "mlflow_e2e"


@pytest.fixture(scope="module")
def mlflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The session's server, maybe still starting: its start-up of a minute or more overlaps
    the example's compile (``tracked_run`` waits for it)."""
    return session_mlflow(request.config, tmp_path_factory)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, mlflow: MlflowServer) -> Airflow:
    demo.check_java()
    airflow = airflow_home(tmp_path_factory.mktemp("e2e-mlflow") / "airflow")
    connection = json.dumps({"conn_type": "http", "host": mlflow.url})
    env = {**airflow.env, **OFFLINE, f"AIRFLOW_CONN_{CONN_ID.upper()}": connection}
    return Airflow(airflow.home, env)


@dataclass
class TrackedRun:
    """A DAG run, its Airflow run id, and the MLflow runs its DAG made."""

    run: DagRun
    airflow_run_id: str
    mlflow_runs: list[dict[str, Any]]

    @property
    def only_run(self) -> dict[str, Any]:
        (found,) = self.mlflow_runs
        return found


def plant_metrics(project: Path) -> None:
    """Make each node of ``METRICS`` log its metric to MLflow, as a user's node would."""
    for nodes in (project / "src").rglob("nodes.py"):
        source = nodes.read_text()
        lines = source.splitlines(keepends=True)
        for node in reversed(ast.parse(source).body):
            if isinstance(node, ast.FunctionDef) and node.name in METRICS:
                metric, value = METRICS[node.name]
                after = node.body[0].end_lineno  # the docstring
                lines[after:after] = [
                    "    import mlflow\n",
                    f"    mlflow.log_metric({metric!r}, {value})\n",
                ]
        nodes.write_text("".join(lines))


def tracked_run(
    airflow: Airflow, mlflow: MlflowServer, work: Path, dag_id: str, failing: bool = False
) -> TrackedRun:
    # The green run's start and end tasks call tracking_uri; the failing run's go through
    # the connection CONN_ID.
    server = {"tracking_uri": mlflow.url, **({"conn_id": CONN_ID} if failing else {})}
    settings = {
        "run_config": {
            "retries": 0,
            "mlflow": {**server, "experiment_name": EXPERIMENT},
        }
    }
    project = prepare_example(work / "mixed-demo", settings)
    plant_metrics(project)
    if failing:
        plant_failure(project, FAILING_NODE)
    # Compile with this checkout's plugin (the environment's may be another); the DAG and
    # its tasks run without it.
    plan = compile_dag(project, airflow, dag_id, pythonpath=REPO)
    mlflow.wait_until_ready()
    run = run_dag(project, airflow, dag_id, plan)
    airflow_run_id = latest_run_id(airflow, dag_id)
    runs = [
        found for found in mlflow.runs(EXPERIMENT) if tags_of(found).get("airflow.dag_id") == dag_id
    ]
    return TrackedRun(run, airflow_run_id, runs)


def latest_run_id(airflow: Airflow, dag_id: str) -> str:
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return run_id


def tags_of(mlflow_run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in mlflow_run["data"].get("tags", [])}


def metrics_of(mlflow_run: dict[str, Any]) -> dict[str, float]:
    return {metric["key"]: metric["value"] for metric in mlflow_run["data"].get("metrics", [])}


@pytest.fixture(scope="module")
def green(mlflow: MlflowServer, airflow: Airflow, tmp_path_factory) -> TrackedRun:
    return tracked_run(airflow, mlflow, tmp_path_factory.mktemp("mlflow-green"), "mlflow-demo")


@pytest.fixture(scope="module")
def failing(mlflow: MlflowServer, airflow: Airflow, tmp_path_factory) -> TrackedRun:
    work = tmp_path_factory.mktemp("mlflow-failing")
    return tracked_run(airflow, mlflow, work, "mlflow-demo-failing", failing=True)


def test_green_dag_run_makes_exactly_one_mlflow_run(green: TrackedRun):
    run = green.run
    assert run.state == "success", f"{run.task_states}; see {run.log}"
    assert len(green.mlflow_runs) == 1, green.mlflow_runs


def test_the_mlflow_run_holds_the_metrics_of_the_pandas_and_the_spark_node(green: TrackedRun):
    project = green.run.project
    raw_orders = len(pd.read_csv(project / "data" / "01_raw" / "orders.csv"))
    order_lines = len(pd.read_csv(project / "data" / "02_intermediate" / "order_lines.csv"))
    assert raw_orders != order_lines  # so each metric can only come from its own node
    assert metrics_of(green.only_run) == {"raw_orders": raw_orders, "order_lines": order_lines}
    spark_task = green.run.spark_task
    assert "aggregate_shop_sales" in spark_task["nodes"]
    assert "clean_orders" not in spark_task["nodes"]


def test_the_mlflow_run_is_tagged_and_named_with_the_dag_and_its_run(green: TrackedRun):
    tags = tags_of(green.only_run)
    assert tags["airflow.dag_id"] == "mlflow-demo"
    assert tags["airflow.run_id"] == green.airflow_run_id
    assert green.only_run["info"]["run_name"] == f"mlflow-demo {green.airflow_run_id}"
    assert tags["kedro_airflow_k8s.version"]
    assert tags["kedro.pipeline"] == "__default__"


def test_the_mlflow_run_is_finished_after_a_green_dag_run(green: TrackedRun):
    info = green.only_run["info"]
    assert info["status"] == "FINISHED"
    assert int(info["end_time"]) >= int(info["start_time"])
    assert green.run.task_states["mlflow_end_run"] == "success"


def test_a_failing_node_makes_its_dag_runs_mlflow_run_failed(
    failing: TrackedRun, green: TrackedRun, airflow: Airflow
):
    run = failing.run
    assert run.state == "failed"
    assert run.task_states[airflow_task_id(run.spark_task)] == "failed"
    assert run.task_states["mlflow_end_run"] == "success"  # the teardown ran anyway
    found = failing.only_run  # opened and closed through the deployment's connection
    assert f"MLFLOW_CONN_ID = '{CONN_ID}'" in (airflow.dags / "mlflow-demo-failing.py").read_text()
    assert found["info"]["status"] == "FAILED"
    assert tags_of(found)["airflow.run_id"] == failing.airflow_run_id
    # The nodes before the failure logged into the same run.
    assert set(metrics_of(found)) == {"raw_orders", "order_lines"}
    # One experiment, one MLflow run per DAG run, and the green run is still FINISHED.
    assert green.only_run["info"]["run_id"] != found["info"]["run_id"]


def test_dag_file_imports_no_mlflow_at_parse_time(green: TrackedRun, airflow: Airflow):
    dag_file = airflow.dags / "mlflow-demo.py"
    tree = ast.parse(dag_file.read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
        )
    }
    assert imported <= {"datetime", "airflow", "kubernetes", "requests"}, imported
    assert "environ" not in dag_file.read_text()  # importing the file changes nothing
    # Airflow parses the file in a fresh interpreter: no mlflow module gets loaded.
    code = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dag_file)!r}, safe_mode=False)\n"
        "print(json.dumps({'errors': {str(k): v for k, v in bag.import_errors.items()},\n"
        "    'dags': sorted(bag.dag_ids),\n"
        "    'mlflow': sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow')}))\n"
    )
    parsing = subprocess.run(
        [str(demo.BIN / "python"), "-c", code],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert parsing.returncode == 0, parsing.stderr
    output = parsing.stdout
    parsed = json.loads(output.strip().splitlines()[-1])
    assert parsed == {"errors": {}, "dags": ["mlflow-demo"], "mlflow": []}
