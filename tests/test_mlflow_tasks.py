"""The code of the MLflow start and end tasks, as a compiled DAG holds it, against a real server.

The callables run outside Airflow here, with a task instance that keeps XCom in a dict
and reports the task states a test chooses; everything MLflow sees is real.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.render import DagContext, DagRenderer
from tests.mlflow_server import MlflowServer, session_mlflow
from tests.spark_projects import restore_environ  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.slow  # starts an MLflow server: a minute or more

DAG_ID = "shop_sales"
RUN_IDS = (f"manual__2026-01-0{n}T05:00:00+00:00" for n in itertools.count(1))


@pytest.fixture(scope="module")
def mlflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    server = session_mlflow(request.config, tmp_path_factory)
    server.wait_until_ready()
    return server


class TaskInstance:
    """What the callables use of Airflow's task instance: ids, XCom and the run's task states."""

    def __init__(self, run_id: str, states: dict[str, str] | None = None) -> None:
        self.dag_id = DAG_ID
        self.run_id = run_id
        self.states = states or {}
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert task_ids == "mlflow_start_run"
        return self.xcom[key]

    def get_task_states(self, dag_id, run_ids, task_ids):
        assert (dag_id, run_ids, task_ids) == (DAG_ID, [self.run_id], ["train"])
        return {self.run_id: self.states}


def dag_module(mlflow: MlflowServer, experiment: str) -> dict[str, Any]:
    """The compiled DAG file's module namespace: its start and end callables among them."""
    raw = {
        "image": "img:1",
        "namespace": "ns",
        "mlflow": {"tracking_uri": mlflow.url, "experiment_name": experiment},
    }
    plan = Plan(DAG_ID, (Task("train", "node", ("train",), (), {"train": "plain node"}),))
    ctx = DagContext("proj", "proj", "prod", "__default__", "/srv/proj", "c0ffee")
    source = DagRenderer(plan, parse_config({"run_config": raw}), ctx).render()
    namespace: dict[str, Any] = {}
    exec(compile(source, f"{DAG_ID}.py", "exec"), namespace)
    return namespace


def start(module: dict[str, Any], ti: TaskInstance, experiment: str) -> str:
    kwargs = module["dag"].get_task("mlflow_start_run").op_kwargs
    tags = kwargs["tags"]
    return module["start_mlflow_run"](experiment, f"{DAG_ID} {ti.run_id}", tags, ti)


def run_info(mlflow: MlflowServer, run_id: str) -> dict[str, Any]:
    return mlflow.api("runs/get", {"run_id": run_id})["run"]["info"]


def test_start_task_creates_the_experiment_and_a_run_tagged_with_the_dag_run(mlflow):
    module = dag_module(mlflow, "tasks-new-experiment")
    ti = TaskInstance(next(RUN_IDS))
    run_id = start(module, ti, "tasks-new-experiment")
    (found,) = mlflow.runs("tasks-new-experiment")
    assert found["info"]["run_id"] == run_id == ti.xcom["run_id"]
    assert found["info"]["status"] == "RUNNING"
    tags = {tag["key"]: tag["value"] for tag in found["data"]["tags"]}
    assert tags["airflow.dag_id"] == DAG_ID and tags["airflow.run_id"] == ti.run_id
    assert tags["mlflow.source.git.commit"] == "c0ffee"
    assert ti.xcom["tracking_uri"] == mlflow.url


def test_a_retried_start_task_reuses_the_run_of_its_dag_run(mlflow):
    module = dag_module(mlflow, "tasks-retry")
    ti = TaskInstance(next(RUN_IDS))
    first = start(module, ti, "tasks-retry")
    mlflow.api("runs/update", {"run_id": first, "status": "FAILED"})
    again = start(module, TaskInstance(ti.run_id), "tasks-retry")
    other = start(module, TaskInstance(next(RUN_IDS)), "tasks-retry")
    assert again == first and other != first
    assert len(mlflow.runs("tasks-retry")) == 2
    assert run_info(mlflow, first)["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("states", "status"),
    [
        ({"prep": "success", "train": "success"}, "FINISHED"),
        ({"prep": "success", "train": "failed"}, "FAILED"),
        ({"prep": "failed", "train": "upstream_failed"}, "FAILED"),
    ],
)
def test_end_task_closes_the_run_from_the_kedro_tasks_states(mlflow, states, status):
    module = dag_module(mlflow, "tasks-end")
    ti = TaskInstance(next(RUN_IDS), states)
    run_id = start(module, ti, "tasks-end")
    # A task that resumed the run (kedro-mlflow does) may have renamed and closed it.
    mlflow.api("runs/update", {"run_id": run_id, "status": "FINISHED", "run_name": "__default__"})
    assert module["end_mlflow_run"](ti) == status
    info = run_info(mlflow, run_id)
    assert info["status"] == status
    assert info["run_name"] == f"{DAG_ID} {ti.run_id}"
    assert int(info["end_time"]) >= int(info["start_time"])


def test_start_task_refuses_a_deleted_experiment_and_says_what_to_do(mlflow):
    module = dag_module(mlflow, "tasks-deleted")
    start(module, TaskInstance(next(RUN_IDS)), "tasks-deleted")
    found = mlflow.api("experiments/get-by-name", {"experiment_name": "tasks-deleted"})
    mlflow.api("experiments/delete", {"experiment_id": found["experiment"]["experiment_id"]})
    with pytest.raises(RuntimeError, match="is deleted: restore it in MLflow"):
        start(module, TaskInstance(next(RUN_IDS)), "tasks-deleted")
