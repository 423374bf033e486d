"""run_config.mlflow: the start and end tasks, and the MLflow variables of every task and driver."""

from __future__ import annotations

import ast

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from kedro_airflow_k8s.mlflow_run import END_TASK, START_TASK
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.render import DagContext, DagRenderer, check_source
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    compile_to,
    config,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

TRACKING = "http://mlflow.mlflow.svc:5000"
MLFLOW = {"tracking_uri": TRACKING, "experiment_name": "shop sales"}


class PushedXCom:
    """The task instance of a template's context: xcom_pull answers what the start task
    pushed (``run_id`` and ``tracking_uri``)."""

    dag_id = "demo"
    run_id = "manual__2026-01-01T00:00:00+00:00"

    def xcom_pull(self, task_ids: str, key: str) -> str:
        assert task_ids == START_TASK
        return {"run_id": "0123abcd", "tracking_uri": "http://from-connection:5000"}[key]


def rendered(dag, value):
    """``value`` of a templated field as Airflow renders it for a DAG run."""
    env = dag.get_template_env()
    if isinstance(value, dict):
        return {key: rendered(dag, item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(dag, item) for item in value]
    if isinstance(value, str):
        return env.from_string(value).render(ti=PushedXCom(), run_id=PushedXCom.run_id, dag=dag)
    return value


def render(mlflow: dict | None, node_runner: str = "kubernetes", **run_config):
    raw = {"image": "img:1", "namespace": "ns", "node_runner": node_runner, **run_config}
    if mlflow is not None:
        raw["mlflow"] = mlflow
    plan = Plan(
        "demo",
        (
            Task("prep", "node", ("prep",), (), {"prep": "plain node"}),
            Task("report", "node", ("report",), ("prep",), {"report": "plain node"}),
        ),
    )
    ctx = DagContext("proj", "proj", "prod", "__default__", "/srv/proj", "c0ffee")
    source = DagRenderer(plan, parse_config({"run_config": raw}), ctx).render()
    check_source(source, "demo.py")
    namespace: dict = {}
    exec(compile(source, "demo.py", "exec"), namespace)
    return source, namespace["dag"]


def test_start_task_opens_the_run_before_every_kedro_task_and_end_task_is_its_teardown():
    _, dag = render(MLFLOW)
    start, end = dag.get_task(START_TASK), dag.get_task(END_TASK)
    assert start.is_setup and end.is_teardown
    assert end.upstream_task_ids >= {"report", START_TASK}
    assert dag.get_task("prep").upstream_task_ids == {START_TASK}
    assert start.op_kwargs["experiment_name"] == "shop sales"


@pytest.mark.parametrize("node_runner", ["kubernetes", "local"])
def test_every_task_gets_the_tracking_uri_experiment_and_run_id(node_runner):
    _, dag = render(MLFLOW, node_runner, env_vars={"LOG_LEVEL": "{{ not a macro }}"})
    for task_id in ("prep", "report"):
        task = dag.get_task(task_id)
        env = rendered(dag, task.env_vars if node_runner == "kubernetes" else task.env)
        assert env == {
            "LOG_LEVEL": "{{ not a macro }}",
            "MLFLOW_TRACKING_URI": TRACKING,
            "MLFLOW_EXPERIMENT_NAME": "shop sales",
            "MLFLOW_RUN_ID": "0123abcd",
        }


def test_run_name_is_the_dag_id_and_run_id_by_default_and_a_template_when_set():
    _, dag = render(MLFLOW)
    kwargs = dag.get_task(START_TASK).op_kwargs
    assert rendered(dag, kwargs["run_name"]) == f"demo {PushedXCom.run_id}"
    _, dag = render({**MLFLOW, "run_name": "nightly {{ ds_nodash }}"})
    assert dag.get_task(START_TASK).op_kwargs["run_name"] == "nightly {{ ds_nodash }}"


def test_run_tags_carry_commit_plugin_version_and_the_users_tags_exactly():
    _, dag = render({**MLFLOW, "tags": {"team": "{{ shop's }}"}})
    tags = rendered(dag, dag.get_task(START_TASK).op_kwargs["tags"])
    assert tags["mlflow.source.git.commit"] == "c0ffee"
    assert tags["kedro_airflow_k8s.version"]
    assert tags["kedro.env"] == "prod"
    assert tags["team"] == "{{ shop's }}"


def test_experiment_name_defaults_to_the_dag_id():
    _, dag = render({"tracking_uri": TRACKING})
    assert dag.get_task(START_TASK).op_kwargs["experiment_name"] == "demo"


def test_an_airflow_connection_replaces_the_url_in_the_dag_file():
    source, dag = render({"conn_id": "mlflow_prod"}, "local")
    assert "AIRFLOW_CONN_" not in source
    assert "MLFLOW_CONN_ID = 'mlflow_prod'" in source
    env = rendered(dag, dag.get_task("prep").env)
    assert env["MLFLOW_TRACKING_URI"] == "http://from-connection:5000"


def test_tracking_uri_alone_is_called_directly_and_defines_no_connection():
    source, _ = render(MLFLOW)
    assert f"MLFLOW_URL = '{TRACKING}'" in source
    assert "AIRFLOW_CONN_" not in source and "MLFLOW_CONN_ID" not in source
    assert "HttpHook" not in source


@pytest.mark.parametrize("mlflow", [MLFLOW, {"conn_id": "mlflow_prod"}], ids=["url", "conn_id"])
def test_importing_the_dag_file_changes_no_environment_variable(mlflow):
    import os

    before = dict(os.environ)
    render(mlflow)
    assert dict(os.environ) == before


def test_no_mlflow_config_adds_no_mlflow_tasks_or_variables():
    source, dag = render(None)
    assert "mlflow" not in source.lower()
    assert {task.task_id for task in dag.tasks} == {"prep", "report"}


@pytest.mark.parametrize(
    ("mlflow", "expected"),
    [
        ({**MLFLOW, "conn_id": "mlflow_prod"}, {"datetime", "airflow", "kubernetes"}),
        # requests is a dependency of Airflow and of its HTTP provider.
        (MLFLOW, {"datetime", "airflow", "kubernetes", "requests"}),
    ],
    ids=["conn_id", "url"],
)
def test_dag_file_imports_only_airflow_and_what_it_depends_on(mlflow, expected):
    source, _ = render(mlflow)
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules == expected


def test_sensors_hold_back_the_mlflow_run():
    waits = {"external_dependencies": [{"dag_id": "upstream_dag"}]}
    _, dag = render(MLFLOW, **waits)
    assert dag.get_task(START_TASK).upstream_task_ids == {"wait_for_upstream_dag"}


@pytest.mark.parametrize(
    ("mlflow", "message"),
    [
        ({"experiment_name": "x"}, "set tracking_uri (the MLflow server's URL) or conn_id"),
        ({"tracking_uri": "http://me:secret@mlflow:5000"}, "put them in an Airflow HTTP conn"),
        ({"tracking_uri": "sqlite:///mlflow.db"}, "is not the http(s):// URL of an MLflow"),
        ({"tracking_uri": TRACKING, "tags": {"a:b": "c"}}, "'a:b' is not an MLflow tag key"),
        ({"tracking_uri": TRACKING, "experiment": "x"}, "did you mean 'experiment_name'"),
    ],
)
def test_wrong_mlflow_settings_name_the_key(mlflow, message):
    with pytest.raises(ConfigError) as error:
        parse_config({"run_config": {"image": "i", "namespace": "n", "mlflow": mlflow}})
    assert "run_config.mlflow" in str(error.value)
    assert message in str(error.value)


# -- Spark drivers, on every backend ---------------------------------------------------------


def spark_dag(make_project, spark: dict, artifacts: dict | None = None):
    spark = {"main_python_file": "/opt/demo/spark_run.py", **spark}
    spark["resources"] = {"big": {"driver_memory": "2g"}}
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config(spark, mlflow=MLFLOW, node_runner="kubernetes"),
    )
    folder, compiled = compile_to(project, artifacts=artifacts)
    dag = load_dag(folder, compiled.dag_id)
    return dag, dag.get_task(task_id_of(compiled, "score"))


DRIVER_ENV = {
    "MLFLOW_TRACKING_URI": TRACKING,
    "MLFLOW_EXPERIMENT_NAME": "shop sales",
    "MLFLOW_RUN_ID": "0123abcd",
}


@pytest.mark.parametrize(
    "spark",
    [
        {"type": "standalone", "master": "spark://127.0.0.1:7077", "env_vars": {"A": "{{ b }}"}},
        {"type": "k8s", "master": "k8s://https://10.0.0.1:443", "env_vars": {"A": "{{ b }}"}},
    ],
    ids=["standalone", "k8s"],
)
def test_spark_submit_drivers_get_the_mlflow_variables(make_project, spark):
    dag, task = spark_dag(make_project, spark)
    # SparkSubmitHook makes env_vars spark.kubernetes.driverEnv.* for a k8s master; the
    # k8s backend puts the user's own variables in the conf itself.
    user_env = {"A": "{{ b }}"} if spark["type"] == "standalone" else {}
    assert rendered(dag, task.env_vars) == {**user_env, **DRIVER_ENV}
    if spark["type"] == "k8s":
        assert task.conf["spark.kubernetes.driverEnv.A"] == "{{ '{{' }} b }}"
    assert START_TASK in dag.get_task("prep").upstream_task_ids


def test_spark_operator_driver_gets_the_mlflow_variables(make_project):
    dag, task = spark_dag(make_project, {"type": "spark-operator", "env_vars": {"A": "{{ b }}"}})
    driver_env = rendered(dag, task.template_spec["spec"]["driver"]["env"])
    assert driver_env == [{"name": "A", "value": "{{ b }}"}] + [
        {"name": name, "value": value} for name, value in DRIVER_ENV.items()
    ]


def test_dataproc_cluster_gives_its_drivers_the_mlflow_variables(make_project):
    spark = {"type": "dataproc", "artifacts_path": "gs://bucket/artifacts"}
    artifacts = {
        "entry": "gs://bucket/artifacts/spark_run.py",
        "init": "gs://bucket/artifacts/init.sh",
    }
    dag, _ = spark_dag(make_project, spark, artifacts)
    create = dag.get_task("create_spark_cluster")
    properties = rendered(dag, create.cluster_config)["software_config"]["properties"]
    assert {key: value for key, value in properties.items() if "MLFLOW" in key} == {
        f"spark-env:{name}": value for name, value in DRIVER_ENV.items()
    }
    # The cluster, and so its environment, exists only once the MLflow run does.
    assert START_TASK in create.upstream_task_ids


def test_any_experiment_name_and_tag_value_reach_mlflow_exactly_as_written():
    nasty = "{{ ds }} {% if %} {# #} '\"\\ \n ü 日本 $(rm -rf /)"
    _, dag = render({**MLFLOW, "experiment_name": nasty, "tags": {"note": nasty}})
    kwargs = rendered(dag, dag.get_task(START_TASK).op_kwargs)
    assert kwargs["experiment_name"] == nasty
    assert kwargs["tags"]["note"] == nasty
    env = rendered(dag, dag.get_task("prep").env_vars)
    assert env["MLFLOW_EXPERIMENT_NAME"] == nasty
