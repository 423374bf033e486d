"""End to end: the example project compiled and run by a real Airflow 3, its Spark group by Spark.

Three DAG runs with `airflow dags test` against one AIRFLOW_HOME on SQLite: the example as
is (Spark local[2]), the example against a Spark standalone master and worker on 127.0.0.1,
and a copy whose Spark node raises. Each run has a copy of the example of its own, so that
no run's outputs can satisfy another run's checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.e2e_support import (
    REPO,
    Airflow,
    DagRun,
    SparkStandalone,
    airflow_home,
    airflow_task_id,
    compile_dag,
    demo,
    markers_dir,
    node_processes,
    pipeline_datasets,
    plant_failure,
    prepare_example,
    run_dag,
    spark_standalone,
)
from tests.spaceflights import NAMESPACE_NODES, make_spaceflights

pytestmark = pytest.mark.e2e

FAILING_NODE = "join_shop_targets"
CUSTOM_BACKEND = "tests.e2e_support.SparkSubmitWithLocalCluster"
# Small enough for a 1g worker on a 2-core machine.
SMALL_SPARK = {"__default__": {"driver_memory": "512m", "executor_memory": "512m"}}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    demo.check_java()
    return airflow_home(tmp_path_factory.mktemp("e2e") / "airflow")


@pytest.fixture(scope="module")
def green_run(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> DagRun:
    """The example as it is: plain tasks as `kedro run`, its Spark group on local[2]."""
    project = prepare_example(tmp_path_factory.mktemp("green") / "mixed-demo")
    plan = compile_dag(project, airflow, "mixed-demo")
    return run_dag(project, airflow, "mixed-demo", plan)


@dataclass
class StandaloneRun:
    run: DagRun
    spark: SparkStandalone
    master_status: dict[str, Any]  # the master's JSON, read after the run


@pytest.fixture(scope="module")
def standalone_run(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> StandaloneRun:
    """The example against a master and a worker that exist only inside this fixture."""
    work = tmp_path_factory.mktemp("standalone")
    with spark_standalone(work / "spark") as spark:
        settings = {"run_config": {"spark": {"resources": SMALL_SPARK}}}
        project = prepare_example(work / "mixed-demo", settings)
        # The deployment's connection points the DAG at this master; the DAG is unchanged.
        connection = {"AIRFLOW_CONN_SPARK_LOCAL": demo.spark_connection(spark.master_url)}
        airflow = Airflow(airflow.home, {**airflow.env, **connection})
        plan = compile_dag(project, airflow, "mixed-demo-standalone")
        spark.wait_until_ready()
        run = run_dag(project, airflow, "mixed-demo-standalone", plan)
        status = spark.status()
    return StandaloneRun(run, spark, status)


@pytest.fixture(scope="module")
def failing_run(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> DagRun:
    """A copy whose Spark node `join_shop_targets` raises, with a cluster lifecycle
    (create and delete tasks) from a custom backend. No retries: the failure is final."""
    settings = {
        "run_config": {
            "retries": 0,
            "spark": {"type": "standalone", "operator_factory": CUSTOM_BACKEND},
        }
    }
    project = prepare_example(tmp_path_factory.mktemp("failing") / "mixed-demo", settings)
    plant_failure(project, FAILING_NODE)
    # Compile imports the factory from this repository; the DAG must run without it.
    plan = compile_dag(project, airflow, "mixed-demo-failing", pythonpath=REPO)
    return run_dag(project, airflow, "mixed-demo-failing", plan)


def assert_green(run: DagRun) -> None:
    failed = {task: state for task, state in run.task_states.items() if state != "success"}
    assert run.state == "success" and not failed, f"{failed}; see {run.log}"
    assert set(run.task_states) == {airflow_task_id(task) for task in run.plan["tasks"]}
    outputs = demo.expected_outputs(run.project)
    missing = [str(path) for path in outputs if not path.exists() or demo.size_of(path) == 0]
    assert outputs and not missing


def assert_spark_submit_ran_the_group(run: DagRun, master: str) -> str:
    """The Spark task's log shows spark-submit to ``master``, a SparkContext, and Kedro
    completing each node of the group inside it; returns the application's name."""
    log = run.task_log(airflow_task_id(run.spark_task))
    (command,) = [line for line in log.splitlines() if "Spark-Submit cmd: " in line]
    assert f"Spark-Submit cmd: spark-submit --master {master} " in command
    assert "SparkContext: Running Spark version" in log
    # Spark logs at WARN unless configured: its INFO lines stay out of the task log.
    assert 'Setting Spark log level to "WARN"' in log
    assert " INFO DAGScheduler: " not in log
    for node in run.spark_task["nodes"]:
        assert f"Completed node: {node}" in log
    arguments = command.split("Spark-Submit cmd: ", 1)[1].split()
    return arguments[arguments.index("--name") + 1]


def test_example_dag_runs_green_with_spark_in_local_mode(green_run: DagRun):
    assert_green(green_run)
    assert_spark_submit_ran_the_group(green_run, "local[2]")


def test_example_dag_runs_green_on_a_standalone_master_and_worker(
    standalone_run: StandaloneRun,
):
    run, spark = standalone_run.run, standalone_run.spark
    assert_green(run)
    application = assert_spark_submit_ran_the_group(run, spark.master_url)
    # The master ran the application to its end (Spark's own INFO lines say so no longer).
    status = standalone_run.master_status
    assert status["aliveworkers"] >= 1 and status["activeapps"] == []
    assert [(app["name"], app["state"]) for app in status["completedapps"]] == [
        (application, "FINISHED")
    ]


def test_standalone_master_and_worker_are_stopped_after_their_run(
    standalone_run: StandaloneRun,
):
    spark = standalone_run.spark
    assert [process.returncode is not None for process in spark.processes] == [True, True]
    assert not spark.is_listening()


def downstream_of(plan: dict[str, Any], task_id: str) -> set[str]:
    below: set[str] = set()
    for task in plan["tasks"]:  # the plan lists tasks in dependency order
        if task_id in task["upstream"] or below & set(task["upstream"]):
            below.add(task["task_id"])
    return below


def test_failing_spark_node_fails_the_run_and_nothing_after_it_runs(failing_run: DagRun):
    run = failing_run
    spark_id = run.spark_task["task_id"]
    assert FAILING_NODE in run.spark_task["nodes"]
    assert run.state == "failed"
    assert run.task_states[airflow_task_id(run.spark_task)] == "failed"
    after = downstream_of(run.plan, spark_id)
    assert after, "the example has pandas tasks after its Spark task"
    for task_id in after:
        assert run.task_states[task_id] in ("upstream_failed", None)

    # In the Spark application the nodes before the failing one ran, and none that needs its
    # output (rank_shops, collect_shop_ranking); nor did any node of the tasks after it.
    ran = set(node_processes(run.project))
    assert {"aggregate_shop_sales", "set_shop_targets"} <= ran
    later = {
        node for task in run.plan["tasks"] if task["task_id"] in after for node in task["nodes"]
    }
    assert not ran & {FAILING_NODE, "rank_shops", "collect_shop_ranking", *later}, ran
    reports = run.project / "data" / "08_reporting"
    assert not (reports / "shop_ranking.csv").exists()
    assert not (reports / "region_report.csv").exists()


def test_cluster_teardown_runs_after_the_failed_spark_task(failing_run: DagRun):
    run = failing_run
    assert run.task_states["create_spark_cluster"] == "success"
    assert run.task_states["delete_spark_cluster"] == "success"
    markers = sorted(path.name for path in markers_dir(run.project).iterdir())
    assert len(markers) == 2, markers
    created, deleted = markers
    assert created.startswith("created-") and deleted.startswith("deleted-")
    assert created.removeprefix("created-") == deleted.removeprefix("deleted-")  # one cluster


def test_generated_dag_does_not_need_the_factory_that_wrote_it(
    failing_run: DagRun, airflow: Airflow
):
    """Compile imported the custom factory; Airflow ran the DAG without this repository."""
    source = (airflow.dags / f"{failing_run.dag_id}.py").read_text()
    assert "e2e_support" not in source
    assert "import tests" not in source and "from tests" not in source
    assert "PYTHONPATH" not in airflow.env
    assert failing_run.task_states["create_spark_cluster"] == "success"  # so the DAG loaded


def test_failure_message_reaches_the_spark_task_log(failing_run: DagRun):
    log = failing_run.task_log(airflow_task_id(failing_run.spark_task))
    assert f"ValueError: planted failure in {FAILING_NODE}" in log
    assert "Cannot execute: spark-submit" in log  # and Airflow says which command failed


def test_report_task_reads_what_the_spark_task_wrote(green_run: DagRun):
    """The pandas report's numbers are those of the Spark outputs it read from disk."""
    data = green_run.project / "data"
    shop_sales = pd.read_parquet(data / "03_primary" / "shop_sales.parquet")  # Spark wrote it
    ranking = pd.read_csv(data / "08_reporting" / "shop_ranking.csv")  # Spark wrote it
    shops = pd.read_csv(data / "01_raw" / "shops.csv")
    report = pd.read_csv(data / "08_reporting" / "region_report.csv").set_index("region")

    sales = shops.merge(shop_sales, on="shop_id")
    by_region = sales.groupby("region")[["orders", "units", "revenue"]].sum()
    assert len(shop_sales) > 0 and set(by_region.index) <= set(report.index)
    for region, row in by_region.iterrows():
        assert report.loc[region, "orders"] == row["orders"]
        assert report.loc[region, "units"] == row["units"]
        assert report.loc[region, "revenue"] == pytest.approx(row["revenue"], abs=0.01)
    best = ranking[ranking["rank"] == 1].set_index("region")["shop_name"]
    assert report.loc[best.index, "best_shop"].to_dict() == best.to_dict()


def test_each_task_runs_kedro_in_a_process_of_its_own(green_run: DagRun):
    """Nodes of one task share a process; no two tasks, and not Airflow itself, do."""
    pids = node_processes(green_run.project)
    tasks = green_run.plan["tasks"]
    assert not [node for task in tasks for node in task["nodes"] if node not in pids]
    task_pids = {task["task_id"]: {pids[node] for node in task["nodes"]} for task in tasks}
    assert all(len(one) == 1 for one in task_pids.values()), task_pids
    assert len(set.union(*task_pids.values())) == len(tasks), task_pids
    assert green_run.airflow_pid not in set.union(*task_pids.values())


def test_no_memory_dataset_crosses_a_task_boundary(green_run: DagRun, airflow: Airflow):
    """Every dataset a task reads from another task is declared in the catalog (a file),
    and the Spark outputs reach the report task that way."""
    described = pipeline_datasets(green_run.project, airflow.env)
    types, nodes = described["datasets"], described["nodes"]
    task_of = {node: task["task_id"] for task in green_run.plan["tasks"] for node in task["nodes"]}

    def base(name: str) -> str:
        return name.split("@", 1)[0]  # transcoded views (x@spark, x@pandas) are one dataset

    written = {base(name): (node, name) for node, io in nodes.items() for name in io["outputs"]}
    crossing: dict[tuple[str, str], set[str]] = {}  # (from task, to task): names used
    for consumer, io in nodes.items():
        for name in io["inputs"]:
            producer, output = written.get(base(name), (None, None))
            if producer and task_of[producer] != task_of[consumer]:
                edge = (task_of[producer], task_of[consumer])
                crossing.setdefault(edge, set()).update({output, name})
    assert crossing
    for edge, names in crossing.items():
        for name in names:
            assert types[name] and not types[name].endswith("MemoryDataset"), (edge, name)
    report = task_of["build_region_report"]
    spark = green_run.spark_task["task_id"]
    assert {base(name) for name in crossing[(spark, report)]} == {"shop_sales", "shop_ranking"}


@pytest.fixture(scope="module")
def namespace_run(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> DagRun:
    """The spaceflights shape grouped by namespace: a task per namespace on this machine."""
    project = make_spaceflights(ProjectFactory(tmp_path_factory.mktemp("namespaces")))
    run_config = {
        **DEFAULT_CONFIG["run_config"],
        "group_by": "namespace",
        "node_runner": "local",
        "local_runner": {"kedro_command": str(demo.BIN / "kedro")},
    }
    ProjectFactory.write_config(project, "base", {**DEFAULT_CONFIG, "run_config": run_config})
    plan = compile_dag(project, airflow, "spaceflights-namespaces", pythonpath=REPO)
    return run_dag(project, airflow, "spaceflights-namespaces", plan)


def test_namespace_grouped_dag_runs_one_task_per_namespace(namespace_run: DagRun):
    run = namespace_run
    failed = {task: state for task, state in run.task_states.items() if state != "success"}
    assert run.state == "success" and not failed, f"{failed}; see {run.log}"
    plan = {task["task_id"]: task for task in run.plan["tasks"]}
    assert {task: plan[task]["nodes"] for task in plan} == NAMESPACE_NODES
    assert plan["reporting"]["upstream"] == ["data_processing", "data_science"]
    assert set(run.task_states) == set(NAMESPACE_NODES)
    for namespace, nodes in NAMESPACE_NODES.items():
        log = run.task_log(namespace)
        assert f"--namespaces {namespace}" in log
        for node in nodes:
            assert f"Completed node: {node}" in " ".join(log.split())
    report = json.loads((run.project / "data" / "report.json").read_text())
    assert report == {"rows": 2, "mae": 20.0}  # trained on the first shuttle, tested on the second
