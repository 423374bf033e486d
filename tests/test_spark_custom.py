"""custom backend: the user's operator factory, and a clear error for each way it can be wrong."""

from __future__ import annotations

import pytest

from tests.factories import LocalCommandFactory
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    config,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
)


def custom(factory: str, **spark) -> dict:
    spark = {"type": "custom", "operator_factory": factory, "resources": {"big": {}}, **spark}
    return config(spark, macro_params=["ds"])


def compile_cli(cli, make_project, factory: str, **spark):
    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=custom(factory, **spark)
    )
    return project, cli(project, "compile")


def test_custom_factory_through_type_custom(cli, make_project):
    project, result = compile_cli(cli, make_project, "tests.factories.LocalCommandFactory")
    assert result.exit_code == 0, result.output
    dag = load_dag(project / "dags", "spark_demo")
    kinds = {task.task_id: type(task).__name__ for task in dag.tasks}
    assert kinds == {
        "create_spark_cluster": "BashOperator",
        "prep": "KubernetesPodOperator",
        "spark_score": "BashOperator",
        "report": "KubernetesPodOperator",
        "delete_spark_cluster": "BashOperator",
    }
    assert dag.get_task("create_spark_cluster").is_setup
    assert dag.get_task("delete_spark_cluster").is_teardown


def test_factory_receives_the_spark_group(cli, make_project):
    LocalCommandFactory.calls.clear()
    spark = {"runner": "SequentialRunner", "options": {"size": "small"}}
    project, result = compile_cli(cli, make_project, "tests.factories.LocalCommandFactory", **spark)
    assert result.exit_code == 0, result.output
    calls = dict(LocalCommandFactory.calls)
    # Without artifacts_path a custom factory gets the artifacts compile built locally.
    project_name, init_script, cluster_config = calls["create"]
    assert (project_name, cluster_config) == ("spark_demo", {"size": "small"})
    assert init_script.startswith(str(project / "dags" / ".kedro-airflow-k8s"))
    assert init_script.endswith(".sh")
    project_name, group, pipeline, main = calls["submit"]
    assert (project_name, pipeline) == ("spark_demo", "__default__")
    assert main.endswith(".py") and "spark_run-" in main
    assert group.task_id == "spark_score"
    assert group.nodes == ("score", "rank")
    assert (group.env, group.pipeline, group.runner) == ("local", "__default__", "SequentialRunner")
    assert group.tags == {
        "kedro-airflow-k8s.group.pyspark",
        "kedro-airflow-k8s.spark-resources.big",
    }
    assert group.datasets == ("clean", "events", "scores", "ranked")
    assert group.params == "ds={{ ds }}"
    assert group.kedro_arguments() == [
        "run",
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--nodes",
        "score,rank",
        "--runner",
        "SequentialRunner",
        "--params",
        "ds={{ ds }}",
    ]


@pytest.mark.parametrize(
    ("factory", "problem"),
    [
        ("tests.no_such_module.Factory", "cannot import module 'tests.no_such_module'"),
        ("tests.factories.NoSuchFactory", "has no attribute 'NoSuchFactory'"),
        ("tests.factories.NotAFactory", "is not a subclass of"),
        ("tests.factories.Incomplete", "could not be created"),
        ("tests.factories.RaisingFactory", "submit_operator() raised RuntimeError: no cluster"),
        ("tests.factories.BrokenSourceFactory", "submit_operator() returned source that is not"),
        ("tests.factories.StatementFactory", "submit_operator() returned source that is not"),
        ("tests.factories.ForgetfulFactory", "use BashOperator, which the factory's imports"),
        ("tests.factories.KedroImportingFactory", "imports 'kedro.framework.session'"),
        ("tests.factories.HalfClusterFactory", "must both return"),
    ],
)
def test_broken_factory_is_a_clear_error_and_writes_no_dag(cli, make_project, factory, problem):
    project, result = compile_cli(cli, make_project, factory)
    assert result.exit_code == 2, result.output
    assert "run_config.spark.operator_factory" in result.output
    assert factory in result.output
    assert problem in result.output
    assert not (project / "dags").exists()


def test_operator_factory_is_required_for_type_custom(cli, make_project):
    project = make_project(config=config({"type": "custom"}))
    result = cli(project, "compile")
    assert result.exit_code == 2
    assert "operator_factory" in result.output
