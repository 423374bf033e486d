"""operator_args_profiles on Spark tasks: chosen when planning, applied to the group's operators."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kedro_airflow_k8s.errors import UserError
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    compile_to,
    config,
    define_spark_connection,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

TAG = "kedro-airflow-k8s.operator-args."
# score and rank form one Spark group; the tag on score picks the group's profile.
NODES = SIMPLE_NODES.replace(
    '"kedro-airflow-k8s.spark-resources.big"]',
    f'"kedro-airflow-k8s.spark-resources.big", "{TAG}heavy"]',
)
HEAVY = {"pool": "spark_pool", "priority_weight": 7, "execution_timeout": 600}
ARTIFACTS = {
    "entry": "gs://bucket/artifacts/v1/spark_run-demo-v1.py",
    "init": "gs://bucket/artifacts/v1/init-demo-v1.sh",
}
BACKENDS = {
    "standalone": {"type": "standalone", "resources": {"big": {"driver_memory": "2g"}}},
    "k8s": {
        "type": "kubernetes",
        "master": "k8s://https://10.0.0.1:6443",
        "image": "registry.example.com/spark-demo:1",
        "resources": {"big": {"driver_memory": "2g"}},
    },
    "dataproc": {
        "type": "dataproc",
        "artifacts_path": "gs://bucket/artifacts",
        "resources": {"big": {"executor_memory": "8g"}},
        "dataproc": {"project_id": "my-project"},
    },
    "spec factory": {
        "type": "custom",
        "operator_factory": "tests.factories.SpecCommandFactory",
        "resources": {"big": {}},
    },
    "string factory": {
        "type": "custom",
        "operator_factory": "tests.factories.LocalCommandFactory",
        "resources": {"big": {}},
    },
}


UNINSTALLED = "tests.factories.UninstalledProviderFactory"


def project_with(make_project, spark, profiles):
    return make_project(
        nodes=NODES,
        catalog=SIMPLE_CATALOG,
        config=config(spark, operator_args_profiles=profiles),
    )


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_spark_group_operators_run_with_the_tagged_profile(make_project, backend):
    project = project_with(make_project, BACKENDS[backend], {"heavy": HEAVY})
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    if backend in ("standalone", "k8s"):
        define_spark_connection(project, compiled.dag_id)
    dag = load_dag(folder, compiled.dag_id)
    group = task_id_of(compiled, "score")
    assert compiled.plan.task(group).profiles["operator_args_profiles"] == "heavy"
    chain = [t for t in dag.tasks if t.task_id.startswith(group)]
    assert len(chain) == (2 if backend == "spec factory" else 1)  # a submit and its check
    for task in chain:
        assert task.pool == "spark_pool"
        assert task.priority_weight == 7
        assert task.execution_timeout == dt.timedelta(seconds=600)
    others = [t for t in dag.tasks if not t.task_id.startswith(group)]
    if backend in ("dataproc", "spec factory", "string factory"):
        assert {"create_spark_cluster", "delete_spark_cluster"} <= {t.task_id for t in others}
    for task in others:  # the cluster's tasks and the pods belong to no tagged node
        assert task.pool == "default_pool"
        assert task.priority_weight == 1
        assert task.execution_timeout is None


def test_profile_wins_over_what_submit_args_set(make_project):
    submit_args = {"pool": "submit_pool", "priority_weight": 3}
    spark = {**BACKENDS["standalone"], "submit_args": submit_args}
    project = project_with(make_project, spark, {"heavy": {"pool": "spark_pool"}})
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    define_spark_connection(project, compiled.dag_id)
    task = load_dag(folder, compiled.dag_id).get_task(task_id_of(compiled, "score"))
    assert (task.pool, task.priority_weight) == ("spark_pool", 3)
    assert "submit_pool" not in compiled.source


def test_every_operator_of_the_group_must_take_the_profiles_arguments(make_project):
    # The spec factory's group runs a BashOperator, then an EmptyOperator check.
    project = project_with(make_project, BACKENDS["spec factory"], {"heavy": {"env": {}}})
    with pytest.raises(UserError, match=r"heavy\.env in .*EmptyOperator takes no argument 'env'"):
        compile_to(project)


@pytest.mark.parametrize("argument", ["namespace", "affinity", "on_finish_action"])
def test_pod_only_argument_on_a_spark_node_is_refused_naming_the_key(make_project, argument):
    project = project_with(make_project, BACKENDS["standalone"], {"heavy": {argument: "x"}})
    with pytest.raises(UserError) as error:
        compile_to(project, artifacts=ARTIFACTS)
    message = str(error.value)
    assert f"run_config.operator_args_profiles.heavy.{argument} in " in message
    assert "airflow-k8s.yml" in message
    assert "Spark task 'spark_score'" in message and "node 'score'" in message
    assert "SparkSubmitOperator takes no argument" in message
    assert "pool, pool_slots, queue, priority_weight, execution_timeout" in message
    assert not (project / "dags").exists()


def test_pod_only_argument_is_refused_by_compile_with_exit_2(make_project, cli):
    project = project_with(make_project, BACKENDS["k8s"], {"heavy": {"namespace": "other"}})
    result = cli(project, "compile")
    assert result.exit_code == 2
    assert "run_config.operator_args_profiles.heavy.namespace in " in result.output
    assert "Traceback" not in result.output
    assert not list((project / "dags").glob("*.py")) if (project / "dags").exists() else True


def test_string_factory_operators_are_checked_against_their_imported_class(make_project):
    project = project_with(make_project, BACKENDS["string factory"], {"heavy": {"image": "i"}})
    with pytest.raises(UserError, match=r"heavy\.image in .*BashOperator takes no argument"):
        compile_to(project)


def test_operator_not_importable_here_takes_only_base_operator_arguments(make_project):
    spark = {**BACKENDS["spec factory"], "operator_factory": UNINSTALLED}
    project = project_with(make_project, spark, {"heavy": {"pool": "p", "cluster_id": "c"}})
    with pytest.raises(UserError) as error:
        compile_to(project)
    assert "heavy.cluster_id in " in str(error.value)
    assert "not importable here, so checked as BaseOperator" in str(error.value)


def test_plan_shows_the_spark_tasks_operator_args_profile(make_project, cli, tmp_path):
    project = project_with(make_project, BACKENDS["dataproc"], {"heavy": HEAVY})
    target = tmp_path / "plan.json"
    assert cli(project, "plan", "--format", "json", "--output", str(target)).exit_code == 0
    tasks = {task["task_id"]: task for task in json.loads(target.read_text())["tasks"]}
    assert tasks["spark_score"]["profiles"] == {
        "spark.resources": "big",
        "operator_args_profiles": "heavy",
    }
    table = cli(project, "plan").output
    assert "  profiles: spark.resources big, operator_args_profiles heavy\n" in table


def test_spark_group_nodes_that_pick_different_profiles_are_refused(make_project, cli):
    nodes = NODES.replace('name="rank", tags=["', f'name="rank", tags=["{TAG}light", "')
    project = make_project(
        nodes=nodes,
        catalog=SIMPLE_CATALOG,
        config=config(BACKENDS["standalone"], operator_args_profiles={"heavy": HEAVY, "light": {}}),
    )
    result = cli(project, "plan")
    assert result.exit_code == 2
    assert "runs nodes with different operator_args_profiles profiles (heavy, light)" in (
        result.output
    )


def test_default_profile_applies_to_spark_groups_and_pods_alike(make_project):
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config(BACKENDS["dataproc"], operator_args_profiles={"__default__": HEAVY}),
    )
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    dag = load_dag(folder, compiled.dag_id)
    for node in ("prep", "score", "report"):
        assert dag.get_task(task_id_of(compiled, node)).pool == "spark_pool"
    assert dag.get_task("create_spark_cluster").pool == "default_pool"


def test_operator_given_as_one_expression_cannot_take_a_profile(make_project):
    spark = {
        **BACKENDS["spec factory"],
        "operator_factory": "tests.factories.BareExpressionFactory",
    }
    project = project_with(make_project, spark, {"heavy": {"pool": "p"}})
    with pytest.raises(UserError, match=r"heavy in .*is one expression \(dag\)"):
        compile_to(project)
