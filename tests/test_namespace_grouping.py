"""group_by: namespace: one task per top-level namespace, Spark honoured, never a cycle."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kedro.pipeline import Pipeline, node

from kedro_airflow_k8s.classify import classify, is_memory_type
from kedro_airflow_k8s.config import SPARK_TAG, RunConfig
from kedro_airflow_k8s.errors import PlanError
from kedro_airflow_k8s.grouping import build_plan
from tests.conftest import DEFAULT_CONFIG, load_dagbag
from tests.spaceflights import NAMESPACE_NODES, make_spaceflights
from tests.test_grouping_properties import cases, edges

CSV = "kedro_datasets.pandas.csv_dataset.CSVDataset"


def anything(*args):
    return None


def plan_by_namespace(nodes, memory=(), group_by="namespace", **run_config):
    pipeline = Pipeline(nodes)
    catalog = {name: CSV for name in pipeline.datasets() if name not in memory}
    config = RunConfig(image="i", namespace="k", group_by=group_by, **run_config)
    return build_plan(pipeline, catalog.get, config, "dag")


def by_node(plan):
    return {name: task for task in plan.tasks for name in task.nodes}


def test_each_namespace_is_one_task_named_after_it():
    plan = plan_by_namespace(
        [
            node(anything, "raw", "a", name="clean", namespace="prep"),
            node(anything, "a", "b", name="join", namespace="prep.tables"),
            node(anything, "b", "m", name="fit", namespace="model"),
            node(anything, ["b", "m"], "r", name="report"),
        ]
    )
    assert [(t.task_id, t.nodes, t.upstream, t.namespace) for t in plan.tasks] == [
        ("prep", ("prep.clean", "prep.tables.join"), (), "prep"),
        ("model", ("model.fit",), ("prep",), "model"),
        ("report", ("report",), ("model", "prep"), None),
    ]
    assert plan.task("prep").reasons == {
        "prep.clean": "namespace 'prep'",
        "prep.tables.join": "namespace 'prep'",
    }
    assert plan.task("report").reasons == {"report": "plain node"}


def test_a_namespace_with_spark_nodes_is_a_spark_task_and_namespaces_stay_apart():
    plan = plan_by_namespace(
        [
            node(anything, "raw", "a", name="load", namespace="prep", tags=[SPARK_TAG]),
            node(anything, "a", "b", name="tidy", namespace="prep"),
            node(anything, "b", "c", name="features", namespace="model", tags=[SPARK_TAG]),
            node(anything, "c", "d", name="fit", namespace="model"),
        ]
    )
    assert [(t.task_id, t.kind) for t in plan.tasks] == [("prep", "spark"), ("model", "spark")]
    assert (
        plan.task("prep")
        .reasons["prep.load"]
        .startswith("namespace 'prep'; tag kedro-airflow-k8s.group.pyspark")
    )


def test_a_memory_dataset_between_namespaces_merges_them_and_says_why():
    plan = plan_by_namespace(
        [
            node(anything, "raw", "shared", name="make", namespace="prep"),
            node(anything, "shared", "out", name="use", namespace="model"),
            node(anything, "out", "rep", name="show", namespace="reporting"),
        ],
        memory={"shared"},
    )
    merged, reporting = plan.tasks
    assert merged.nodes == ("prep.make", "model.use") and merged.namespace is None
    assert merged.reasons["prep.make"] == (
        "namespace 'prep'; in one task with namespace 'model' because MemoryDataset "
        "'shared' goes from 'prep.make' to 'model.use'"
    )
    assert reporting.task_id == "reporting" and reporting.upstream == (merged.task_id,)


def test_a_detour_through_another_task_merges_it_into_the_namespace():
    # prep.first -> outside -> prep.last would make a cycle between two tasks.
    plan = plan_by_namespace(
        [
            node(anything, "raw", "a", name="first", namespace="prep"),
            node(anything, "a", "b", name="outside"),
            node(anything, "b", "c", name="last", namespace="prep"),
        ]
    )
    (task,) = plan.tasks
    assert set(task.nodes) == {"prep.first", "outside", "prep.last"}
    assert task.reasons["outside"].endswith(
        "in one task with namespace 'prep' to keep the task graph acyclic"
    )


def test_group_by_none_refuses_a_memory_dataset_between_tasks():
    nodes = [
        node(anything, "raw", "shared", name="make"),
        node(anything, "shared", "out", name="use"),
    ]
    with pytest.raises(PlanError, match="MemoryDataset 'shared'"):
        plan_by_namespace(nodes, memory={"shared"}, group_by="none")
    assert len(plan_by_namespace(nodes, memory={"shared"}, group_by="memory").tasks) == 1


NAMESPACES = [None, None, "a", "b", "c", "a.inner"]


# Random namespaces are often interrupted by other nodes, which Kedro warns about.
@pytest.mark.filterwarnings("ignore:Namespace .* is interrupted")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_namespace_plans_keep_the_invariants(case, data):
    namespaced = Pipeline(
        [n._copy(namespace=data.draw(st.sampled_from(NAMESPACES))) for n in case.pipeline.nodes]
    )
    case.pipeline = namespaced
    case.run_config.group_by = "namespace"
    try:
        plan = build_plan(namespaced, case.catalog_type, case.run_config, "dag")
    except PlanError:
        assert not case.run_config.group_memory_nodes
        return
    task_of = plan.task_of_node()
    assert sorted(task_of) == sorted(n.name for n in namespaced.nodes)
    seen: set[str] = set()
    for task in plan.tasks:  # a topological order: no cycle
        assert set(task.upstream) <= seen
        seen.add(task.task_id)
    spark = set(classify(namespaced, case.catalog_type, case.run_config.spark))
    for name in spark:
        assert plan.task(task_of[name]).kind == "spark"
    for producer, consumer, memory in edges(case):
        if task_of[producer] != task_of[consumer]:
            assert task_of[producer] in plan.task(task_of[consumer]).upstream
            assert memory is None or not is_memory_type(case.catalog_type(memory))
    top = {n.name: n.namespace.split(".")[0] for n in namespaced.nodes if n.namespace}
    for namespace in set(top.values()):
        assert len({task_of[name] for name, ns in top.items() if ns == namespace}) == 1
    for task in plan.tasks:
        if task.namespace:
            assert {top.get(name) for name in task.nodes} == {task.namespace}
        for name in task.nodes:
            if name in top:
                assert task.reasons[name].startswith(f"namespace '{top[name]}'")


def namespace_config() -> dict:
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["group_by"] = "namespace"
    return config


def test_plan_explains_placement_by_namespace(make_project, cli):
    project = make_spaceflights(make_project, namespace_config())
    table = cli(project, "plan")
    assert table.exit_code == 0, table.output
    assert "data_science  [node]  after: data_processing" in table.stdout
    assert "namespace 'data_processing'" in table.stdout
    result = cli(project, "plan", "--format", "json")
    plan = json.loads(result.stdout)
    assert [(t["task_id"], t["nodes"], t["namespace"]) for t in plan["tasks"]] == [
        (namespace, nodes, namespace) for namespace, nodes in NAMESPACE_NODES.items()
    ]


def test_namespace_tasks_run_kedro_run_namespaces(make_project, cli):
    project = make_spaceflights(make_project, namespace_config())
    assert cli(project, "compile").exit_code == 0
    # A filter that keeps part of a namespace: that task names its nodes instead.
    result = cli(project, "compile", "--to-nodes", "data_science.train_model", "--dag-name", "cut")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    whole = bag.dags[project.name].get_task("data_science")
    assert list(whole.arguments) == [
        "run",
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--namespaces",
        "data_science",
    ]
    cut = bag.dags["cut"].get_task("data_science")
    assert list(cut.arguments)[-2:] == [
        "--nodes",
        "data_science.split_data,data_science.train_model",
    ]


def test_a_namespace_with_a_spark_node_compiles_to_a_spark_application(
    make_project, cli, monkeypatch
):
    # The Spark provider is slow to import on a busy machine; parsing also sets the DAG's
    # AIRFLOW_CONN_* variable, which monkeypatch removes again.
    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "300")
    monkeypatch.setattr(os, "environ", os.environ.copy())
    config = namespace_config()
    config["run_config"]["spark"] = {"type": "k8s", "master": "k8s://https://127.0.0.1:6443"}
    project = make_spaceflights(make_project, config)
    module = next(project.glob("src/*/pipelines/main.py"))
    module.write_text(
        module.read_text().replace('tags=["training"]', f'tags=["training", "{SPARK_TAG}"]')
    )
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    dag = bag.dags[project.name]
    assert sorted(dag.task_dict) == sorted(NAMESPACE_NODES)
    spark = dag.get_task("data_science")
    assert type(spark).__name__ == "SparkSubmitOperator"
    assert "data_science.split_data,data_science.train_model,data_science.evaluate_model" in (
        spark.application_args
    )
