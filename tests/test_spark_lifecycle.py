"""The Spark cluster's lifecycle in the DAG: setup and teardown tasks, and per-run cluster names."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from kedro_airflow_k8s.render_spark import lifecycle_wiring
from kedro_airflow_k8s.spark import cluster
from tests.spark_projects import (
    LIFECYCLE_CATALOG,
    LIFECYCLE_NODES,
    compile_to,
    config,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

DATAPROC = {
    "type": "dataproc",
    "artifacts_path": "gs://bucket/artifacts",
    "dataproc": {"project_id": "my-project"},
}
ARTIFACTS = {
    "entry": "gs://bucket/artifacts/v1/spark_run.py",
    "init": "gs://bucket/artifacts/v1/init.sh",
}
CUSTOM = {"type": "custom", "operator_factory": "tests.factories.LocalCommandFactory"}
RUN_IDS = [
    "manual__2025-01-01T00:00:00+00:00",
    "manual__2025-01-01T00:00:00.000001+00:00",
    "scheduled__2025-01-01T00:00:00+00:00",
    "scheduled__2025-01-02T00:00:00+00:00",
    "backfill__2025-01-01T00:00:00+00:00",
    "my run with spaces & UPPER case / ünïcode",
]


@pytest.fixture(params=["dataproc", "custom"])
def lifecycle_dag(request, make_project):
    spark = DATAPROC if request.param == "dataproc" else CUSTOM
    project = make_project(nodes=LIFECYCLE_NODES, catalog=LIFECYCLE_CATALOG, config=config(spark))
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    return load_dag(folder, compiled.dag_id), compiled


def test_cluster_is_a_setup_and_its_deletion_a_teardown(lifecycle_dag):
    dag, _ = lifecycle_dag
    create = dag.get_task("create_spark_cluster")
    delete = dag.get_task("delete_spark_cluster")
    assert create.is_setup and not create.is_teardown
    assert delete.is_teardown and not delete.is_setup
    assert create.task_id in delete.upstream_task_ids


def test_cluster_is_created_after_the_first_groups_other_upstream_tasks(lifecycle_dag):
    dag, compiled = lifecycle_dag
    task = lambda node: task_id_of(compiled, node)  # noqa: E731
    create = dag.get_task("create_spark_cluster")
    assert create.upstream_task_ids == {task("prep_a"), task("prep_b")}
    assert create.downstream_task_ids == {task("spark_x"), task("spark_y"), "delete_spark_cluster"}
    # Spark groups that follow other Spark groups need no edge of their own.
    assert "create_spark_cluster" not in dag.get_task(task("spark_z")).upstream_task_ids


def test_cluster_is_deleted_after_the_last_spark_groups_not_the_end_of_the_dag(lifecycle_dag):
    dag, compiled = lifecycle_dag
    task = lambda node: task_id_of(compiled, node)  # noqa: E731
    delete = dag.get_task("delete_spark_cluster")
    assert delete.upstream_task_ids == {task("spark_z"), task("spark_w"), "create_spark_cluster"}
    assert delete.downstream_task_ids == set()
    report = dag.get_task(task("report"))
    assert report.upstream_task_ids == {task("spark_z"), task("spark_w")}
    assert dag.get_task(task("mid_x")).upstream_task_ids == {task("spark_x")}
    assert dag.get_task(task("side")).upstream_task_ids == {task("prep_a")}


def test_spark_tasks_are_the_backends_operators(lifecycle_dag):
    dag, compiled = lifecycle_dag
    kinds = {type(dag.get_task(t.task_id)).__name__ for t in compiled.plan.spark_tasks}
    assert len(compiled.plan.spark_tasks) == 4
    assert kinds in ({"DataprocSubmitJobOperator"}, {"BashOperator"})


def render(dag, task, field: str, run_id: str) -> str:
    env = dag.get_template_env()
    return task.render_template(getattr(task, field), {"run_id": run_id, "dag": dag}, env)


def test_cluster_name_is_unique_per_run_and_valid_for_dataproc(lifecycle_dag):
    dag, _ = lifecycle_dag
    create = dag.get_task("create_spark_cluster")
    field = "cluster_name" if hasattr(create, "cluster_name") else "bash_command"
    names = []
    for run_id in RUN_IDS:
        rendered = render(dag, create, field, run_id)
        name = rendered if field == "cluster_name" else rendered.rsplit("/created-", 1)[1]
        assert cluster.NAME_PATTERN.fullmatch(name), name
        assert len(name) <= 51
        assert name.startswith("spark-demo-")
        assert render(dag, create, field, run_id) == rendered  # retries find the same cluster
        names.append(name)
    assert len(set(names)) == len(RUN_IDS)


def test_dataproc_tasks_agree_on_the_cluster_of_a_run(make_project):
    project = make_project(
        nodes=LIFECYCLE_NODES, catalog=LIFECYCLE_CATALOG, config=config(DATAPROC)
    )
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    dag = load_dag(folder, compiled.dag_id)
    run_id = RUN_IDS[0]
    create = render(dag, dag.get_task("create_spark_cluster"), "cluster_name", run_id)
    delete = render(dag, dag.get_task("delete_spark_cluster"), "cluster_name", run_id)
    submit = dag.get_task(task_id_of(compiled, "spark_x"))
    job = submit.render_template(
        submit.job,
        {"run_id": run_id, "dag": dag, "ti": SimpleNamespace(try_number=2)},
        dag.get_template_env(),
    )
    assert create == delete == job["placement"]["cluster_name"]
    assert job["reference"]["job_id"] == f"{compiled.plan.task_of_node()['spark_x']}-{create}-2"


def test_two_dags_with_one_base_name_get_different_clusters(make_project):
    names = []
    for run_name in ("first dag", "second dag"):
        spark = {**DATAPROC, "cluster_name": "shared"}
        project = make_project(
            nodes=LIFECYCLE_NODES,
            catalog=LIFECYCLE_CATALOG,
            config=config(spark, run_name=run_name),
        )
        folder, compiled = compile_to(project, artifacts=ARTIFACTS)
        dag = load_dag(folder, compiled.dag_id)
        names.append(render(dag, dag.get_task("create_spark_cluster"), "cluster_name", RUN_IDS[0]))
    assert names[0] != names[1]
    assert all(name.startswith("shared-") for name in names)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("Sales Forecast", "sales-forecast"),
        ("2025_reports", "kedro-2025-reports"),
        ("Ünïcödé--Name__", "unicode-name"),
        ("x" * 80, "x" * 40),
        ("abc-" * 20, "abc-" * 9 + "abc"),
        ("!!!", "kedro"),
    ],
)
def test_cluster_base_name_is_sanitised_for_dataproc(configured, expected):
    from kedro_airflow_k8s.spark_config import DataprocConfig

    base = cluster.base_name(DataprocConfig(type="dataproc", cluster_name=configured), "unused")
    assert base == expected
    longest = f"{base}-{'f' * cluster.HASH_LENGTH}"
    assert cluster.NAME_PATTERN.fullmatch(longest) and len(longest) <= 51


def test_backends_without_a_cluster_have_no_lifecycle_tasks(make_project):
    spark = {"type": "custom", "operator_factory": "tests.factories.NoClusterFactory"}
    project = make_project(nodes=LIFECYCLE_NODES, catalog=LIFECYCLE_CATALOG, config=config(spark))
    folder, compiled = compile_to(project)
    dag = load_dag(folder, compiled.dag_id)
    assert not {"create_spark_cluster", "delete_spark_cluster"} & set(dag.task_ids)
    assert "create_cluster" not in compiled.source
    assert not any(task.is_setup or task.is_teardown for task in dag.tasks)


def test_cluster_waits_for_external_dag_sensors(make_project):
    sensors = [{"dag_id": "ingest"}]
    project = make_project(
        nodes=LIFECYCLE_NODES,
        catalog=LIFECYCLE_CATALOG,
        config=config(CUSTOM, external_dependencies=sensors),
    )
    folder, compiled = compile_to(project)
    dag = load_dag(folder, compiled.dag_id)
    assert "wait_for_ingest" in dag.get_task("create_spark_cluster").upstream_task_ids


def test_first_spark_group_without_upstream_creates_the_cluster_at_the_start():
    from kedro_airflow_k8s.plan import Plan, Task

    plan = Plan(
        "d",
        (
            Task("s1", "spark", ("a",)),
            Task("p", "node", ("b",), ("s1",)),
            Task("s2", "spark", ("c",), ("p", "s1")),
            Task("q", "node", ("d",), ("s2",)),
        ),
    )
    lines = lifecycle_wiring(plan, {"s1": "s1", "p": "p", "s2": "s2", "q": "q"})
    assert [line for line in lines if not line.startswith("#")] == [
        "create_cluster >> s1",
        "s2 >> delete_cluster",
        "delete_cluster.as_teardown(setups=create_cluster)",
    ]
    assert all(re.fullmatch(r"[\w\[\], >.()=#-]+", line) for line in lines)
