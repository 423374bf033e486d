"""run-once, schedule, list-pipelines and ui; end to end against a real Airflow 3 on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import shutil
import sys
import threading
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_server import (  # noqa: F401 - session fixture
    AirflowServer,
    LoopbackProxy,
    airflow,
    free_port,
)
from click.testing import CliRunner, Result
from conftest import EXAMPLE, ProjectFactory

from kedro_airflow_k8s import airflow_settings, run_follow
from kedro_airflow_k8s.cli import commands

KEDRO = str(Path(sys.executable).parent / "kedro")
ADMIN = {"AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": "admin", "AIRFLOW_API_TOKEN": None}
VIEWER = {"AIRFLOW_USERNAME": "viewer", "AIRFLOW_PASSWORD": "viewer", "AIRFLOW_API_TOKEN": None}

# Two nodes joined by a MemoryDataset: one Airflow task, one `kedro run`.
ONE_TASK_NODES = """
from kedro.pipeline import Pipeline, node


def double(frame):
    return frame * 2


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(double, "raw", "doubled", name="double_raw"),
            node(double, "doubled", "quadrupled", name="double_again"),
        ]
    )
"""
ONE_TASK_CATALOG = {
    "raw": {"type": "pandas.CSVDataset", "filepath": "data/raw.csv"},
    "quadrupled": {"type": "pandas.CSVDataset", "filepath": "data/quadrupled.csv"},
}
FAILING_NODES = """
from kedro.pipeline import Pipeline, node


def explode(frame):
    raise ValueError("this node fails on purpose")


def create_pipeline(**kwargs):
    return Pipeline([node(explode, "raw", "never_written", name="explode")])
"""
# The same pipeline after a change: other node names, so another task id.
CHANGED_NODES = ONE_TASK_NODES.replace("double_raw", "halve_raw").replace(
    "double_again", "halve_again"
)
# Runs until the test writes data/release: the test decides when the run ends.
HELD_NODES = """
import time
from pathlib import Path

from kedro.pipeline import Pipeline, node


def held_copy(frame):
    for _ in range(1200):
        if Path("data/release").exists():
            return frame
        time.sleep(0.5)
    raise TimeoutError("data/release never appeared")


def create_pipeline(**kwargs):
    return Pipeline([node(held_copy, "raw", "quadrupled", name="held_copy")])
"""
FLAKY_NODES = """
from pathlib import Path

from kedro.pipeline import Pipeline, node


def flaky(frame):
    marker = Path("data/tried-once")
    if not marker.exists():
        marker.write_text("yes")
        raise RuntimeError("the first try fails on purpose")
    return frame


def create_pipeline(**kwargs):
    return Pipeline([node(flaky, "raw", "quadrupled", name="flaky")])
"""
NOT_OURS = """
import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="not_ours", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
    EmptyOperator(task_id="nothing")
"""


def local_config(host: str, dags: Path, **run_config: Any) -> dict[str, Any]:
    """Tasks run `kedro run` on the Airflow worker, i.e. this machine."""
    return {
        "host": host,
        "output": f"{dags}/",
        "run_config": {
            "image": "unused",
            "namespace": "unused",
            "node_runner": "local",
            "local_runner": {"kedro_command": KEDRO},
            **run_config,
        },
    }


def make(factory: ProjectFactory, server: AirflowServer, nodes: str, **run_config: Any) -> Path:
    path = factory(
        nodes=nodes,
        catalog=ONE_TASK_CATALOG,
        config=local_config(server.url, server.dags_folder, **run_config),
    )
    (path / "data" / "raw.csv").write_text("x\n1\n2\n")
    return path


def rest(server: AirflowServer, method: str, path: str, body: Any = None) -> dict | None:
    """The admin's view through the REST API; None where the answer is 404."""
    try:
        return server.api(method, path, body)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def runs_of(server: AirflowServer, dag_id: str, state: str | None = None) -> list[dict]:
    query = f"?state={state}" if state else ""
    return (rest(server, "GET", f"/dags/{dag_id}/dagRuns{query}") or {}).get("dag_runs", [])


def run_id_in(output: str) -> str:
    return re.search(r"triggered run '([^']+)'", output).group(1)


def task_ids_of_run(server: AirflowServer, dag_id: str, run_id: str) -> set[str]:
    page = rest(server, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    return {task["task_id"] for task in page["task_instances"]}


def unpause_and_trigger(server: AirflowServer, dag_id: str, run_id: str) -> None:
    server.wait_for(f"DAG {dag_id}", lambda: rest(server, "GET", f"/dags/{dag_id}"))
    rest(server, "PATCH", f"/dags/{dag_id}?update_mask=is_paused", {"is_paused": False})
    rest(server, "POST", f"/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None})


def forget_modules(package: str) -> None:
    """Drop a test project's modules, so that the next command imports its changed files."""
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def quick_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_follow, "RUN_POLL", 1.0)


def invoke(project: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        return CliRunner().invoke(commands, ["airflow-k8s", *args], env=env)


def expect(result: Result, code: int, server: AirflowServer | None = None) -> str:
    """The command's output, once its exit code is ``code``; Airflow's logs if not."""
    if result.exit_code != code:
        logs = server.log_tail() if server else ""
        raise AssertionError(
            f"exit code {result.exit_code}, expected {code}\n{result.output}\n{result.exception!r}"
            f"\n{logs}"
        )
    return result.output


@pytest.fixture(scope="module")
def deployed(airflow: AirflowServer, tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    """A one-task project (with a cron schedule) after `run-once --wait-for-completion`."""
    (airflow.dags_folder / "not_ours.py").write_text(NOT_OURS)
    factory = ProjectFactory(tmp_path_factory.mktemp("deployed"))
    project = make(factory, airflow, ONE_TASK_NODES, cron_expression="0 3 * * *")
    result = invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN)
    return project, project.name, result


# -- end to end -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_run_once_runs_the_pipeline_and_waits_for_success(
    deployed,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    project, dag_id, result = deployed
    output = expect(result, 0, airflow)

    assert f"published DAG '{dag_id}'" in output
    assert "double_raw: success" in output
    assert f"of DAG '{dag_id}' succeeded" in output
    assert (project / "data" / "quadrupled.csv").read_text().split() == ["x", "4", "8"]


@pytest.mark.e2e
def test_list_pipelines_shows_only_the_generated_dags(
    deployed,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    project, dag_id, _ = deployed
    output = expect(invoke(project, "list-pipelines", env=ADMIN), 0, airflow)

    header, *rows = output.splitlines()
    assert header.split() == ["NAME", "DAG", "ID", "SCHEDULE", "PAUSED", "LAST", "RUN"]
    row = next(row.split() for row in rows if dag_id in row)
    # run-once drops the schedule, so unpausing started no run of the cron interval.
    assert row[:5] == [dag_id, dag_id, "None", "no", "success"]
    assert "INFO" not in output and "register_new_resolver" not in output
    assert "not_ours" not in output
    # -p keeps the DAGs of the chosen pipelines of this project: `main` was never published.
    assert dag_id in expect(invoke(project, "list-pipelines", "-p", "__default__", env=ADMIN), 0)
    only_main = expect(invoke(project, "list-pipelines", "-p", "main", env=ADMIN), 0)
    assert "No DAGs generated by kedro-airflow-k8s" in only_main


@pytest.mark.e2e
def test_run_once_exits_non_zero_with_the_failing_task_and_its_log(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
) -> None:
    project = make(make_project, airflow, FAILING_NODES)

    output = expect(
        invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN), 2, airflow
    )

    assert "explode: failed" in output
    assert "failed tasks: explode" in output
    assert "ValueError: this node fails on purpose" in output
    assert f"{airflow.url}/dags/{project.name}/runs/" in output


@pytest.mark.e2e
def test_run_once_runs_the_example_project(
    airflow: AirflowServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = tmp_path / "mixed-demo"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "dags")
    )
    config_file = project / "conf" / "base" / "airflow-k8s.yml"
    config = yaml.safe_load(config_file.read_text())
    config["host"], config["output"] = airflow.url, f"{airflow.dags_folder}/"
    run_config = config["run_config"]
    run_config.update(retries=0, local_runner={"kedro_command": KEDRO})
    # The Spark group runs `kedro run`, Spark in local mode; the standalone keys go with it.
    run_config["spark"] = {"type": "none"}
    config_file.write_text(yaml.safe_dump(config))

    output = expect(
        invoke(project, "run-once", "--wait-for-completion", "8", env=ADMIN), 0, airflow
    )

    assert "of DAG 'mixed-demo' succeeded" in output
    assert (project / "data" / "08_reporting" / "region_report.csv").is_file()


@pytest.mark.e2e
def test_wrong_password_says_which_variables_to_check(
    deployed,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    project = deployed[0]
    env = ADMIN | {"AIRFLOW_PASSWORD": "wrong"}

    output = expect(invoke(project, "list-pipelines", env=env), 2, airflow)

    assert "Invalid credentials" in output
    assert "check the user name and password in AIRFLOW_USERNAME and AIRFLOW_PASSWORD" in output
    assert "Traceback" not in output


@pytest.mark.e2e
def test_bad_token_says_to_renew_it(deployed, airflow: AirflowServer) -> None:  # noqa: F811
    env = {"AIRFLOW_API_TOKEN": "not-a-jwt", "AIRFLOW_USERNAME": None, "AIRFLOW_PASSWORD": None}

    output = expect(invoke(deployed[0], "list-pipelines", env=env), 2, airflow)

    assert "the token in AIRFLOW_API_TOKEN is not valid here" in output


@pytest.mark.e2e
def test_a_viewer_may_list_but_not_trigger(deployed, airflow: AirflowServer) -> None:  # noqa: F811
    project, dag_id, _ = deployed
    expect(invoke(project, "list-pipelines", env=VIEWER), 0, airflow)

    output = expect(invoke(project, "run-once", env=VIEWER), 2, airflow)

    assert f"trigger runs of DAG '{dag_id}'" in output


@pytest.mark.e2e
def test_a_read_only_user_publishes_nothing_and_is_told_the_missing_permissions(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
) -> None:
    project = make(make_project, airflow, ONE_TASK_NODES)

    output = expect(invoke(project, "run-once", env=VIEWER), 2, airflow)

    dag_id = project.name
    assert f"does not allow this user to edit DAG '{dag_id}'" in output
    assert f"or to trigger runs of DAG '{dag_id}' (POST on DAG Runs)" in output
    assert "Nothing was built or published" in output
    assert "Traceback" not in output
    assert not (airflow.dags_folder / f"{dag_id}.py").exists()
    assert not (project / "dags").exists()


@pytest.mark.e2e
def test_run_once_right_after_a_change_runs_the_new_version(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
    quick_follow: None,
) -> None:
    project = make(make_project, airflow, ONE_TASK_NODES)
    dag_id = project.name
    expect(invoke(project, "upload-pipeline", env=ADMIN), 0, airflow)
    airflow.wait_for(
        "the first version",
        lambda: (rest(airflow, "GET", f"/dags/{dag_id}/dagVersions") or {}).get("dag_versions"),
    )
    # Airflow stored a version just now, so it will not store the next one for up to 30 s,
    # though it parses the changed file (and shows its tags) within seconds.
    (project / "src" / dag_id / "pipelines" / "main.py").write_text(CHANGED_NODES)
    forget_modules(dag_id)

    output = expect(
        invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN), 0, airflow
    )

    assert task_ids_of_run(airflow, dag_id, run_id_in(output)) == {"halve_raw"}
    assert "halve_raw: success" in output
    assert "double_raw" not in output


@pytest.mark.e2e
def test_schedule_starts_no_run_nobody_asked_for(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
) -> None:
    project = make(make_project, airflow, ONE_TASK_NODES)
    dag_id = project.name
    expect(invoke(project, "upload-pipeline", env=ADMIN), 0, airflow)
    airflow.wait_for(f"DAG {dag_id}", lambda: rest(airflow, "GET", f"/dags/{dag_id}"))
    # As run-once leaves it: unpaused, no schedule.
    rest(airflow, "PATCH", f"/dags/{dag_id}?update_mask=is_paused", {"is_paused": False})
    # Hourly, half an hour away from now: its latest time passed long ago, its next is far.
    minute = (dt.datetime.now(dt.timezone.utc).minute + 30) % 60
    cron = f"{minute} * * * *"

    output = expect(invoke(project, "schedule", "--cron-expression", cron, env=ADMIN), 0, airflow)

    assert "The DAG is not paused, as it was" in output
    assert "no run of an earlier time" in output
    dag = airflow.wait_for(
        "the scheduled version",
        lambda: (
            (d := rest(airflow, "GET", f"/dags/{dag_id}"))["timetable_summary"] == cron
            and d["next_dagrun_run_after"]
            and d
        ),
    )
    time.sleep(5)  # the scheduler loops every 0.5 s: a surprise run would exist by now
    assert runs_of(airflow, dag_id) == []
    assert not dag["is_paused"]
    assert dag["next_dagrun_run_after"] > dt.datetime.now(dt.timezone.utc).isoformat()

    output = expect(
        invoke(project, "schedule", "--cron-expression", cron, "--catch-up", env=ADMIN),
        0,
        airflow,
    )

    assert "no run of an earlier time" not in output
    caught_up = airflow.wait_for("the catch-up run", lambda: runs_of(airflow, dag_id))
    assert [run["run_type"] for run in caught_up] == ["scheduled"]


def in_background(action) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


@pytest.mark.e2e
def test_an_api_outage_while_following_says_the_run_goes_on_and_resumes(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
    monkeypatch: pytest.MonkeyPatch,
    quick_follow: None,
) -> None:
    monkeypatch.setattr(airflow_settings, "RETRY_SECONDS", 1.0)
    proxy = LoopbackProxy(airflow.port)  # the command reaches Airflow through it; tasks do not
    project = make_project(
        nodes=HELD_NODES,
        catalog=ONE_TASK_CATALOG,
        config=local_config(proxy.url, airflow.dags_folder),
    )
    (project / "data" / "raw.csv").write_text("x\n1\n")
    dag_id = project.name

    def outage_while_running() -> None:
        airflow.wait_for("the run", lambda: runs_of(airflow, dag_id, "running"), timeout=600)
        proxy.cut()
        time.sleep(6)  # the command polls every second
        proxy.restore()
        time.sleep(3)
        (project / "data" / "release").write_text("")

    outage = in_background(outage_while_running)
    try:
        output = expect(
            invoke(project, "run-once", "--wait-for-completion", "8", env=ADMIN), 0, airflow
        )
    finally:
        (project / "data" / "release").write_text("")
        outage.join(30)
        proxy.close()

    run_url = f"{proxy.url}/dags/{dag_id}/runs/{run_id_in(output)}"
    assert f"The run goes on in Airflow: {run_url}" in output
    assert "answers again" in output
    assert f"of DAG '{dag_id}' succeeded" in output


@pytest.mark.e2e
def test_a_queued_run_says_which_run_it_waits_for(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
    quick_follow: None,
) -> None:
    project = make(make_project, airflow, HELD_NODES, max_active_runs=1)
    dag_id = project.name
    expect(invoke(project, "upload-pipeline", env=ADMIN), 0, airflow)
    unpause_and_trigger(airflow, dag_id, "first")
    airflow.wait_for("the first run", lambda: runs_of(airflow, dag_id, "running"))

    def release_once_queued() -> None:
        airflow.wait_for("a queued run", lambda: runs_of(airflow, dag_id, "queued"), timeout=600)
        time.sleep(4)  # the command polls every second
        (project / "data" / "release").write_text("")

    release = in_background(release_once_queued)
    try:
        output = expect(
            invoke(project, "run-once", "--wait-for-completion", "8", env=ADMIN), 0, airflow
        )
    finally:
        (project / "data" / "release").write_text("")
        release.join(30)

    assert "run is queued (max_active_runs=1, waiting for first)" in output
    assert "no status" not in output


@pytest.mark.e2e
def test_up_for_retry_says_when_the_next_try_starts(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
    quick_follow: None,
) -> None:
    project = make(make_project, airflow, FLAKY_NODES, retries=1, retry_delay=8)

    output = expect(
        invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN), 0, airflow
    )

    assert re.search(
        r"flaky: up_for_retry \(try 1 of 2 failed; next try at \d\d:\d\d:\d\d UTC\)",
        output,
    )
    assert "flaky: success" in output


@pytest.mark.e2e
def test_list_pipelines_shows_the_last_finished_run_not_a_newer_queued_one(
    airflow: AirflowServer,  # noqa: F811
    make_project: ProjectFactory,
    quick_follow: None,
) -> None:
    project = make(make_project, airflow, FAILING_NODES)
    dag_id = project.name
    expect(invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN), 2, airflow)
    rest(airflow, "PATCH", f"/dags/{dag_id}?update_mask=is_paused", {"is_paused": True})
    rest(airflow, "POST", f"/dags/{dag_id}/dagRuns", {"dag_run_id": "waits", "logical_date": None})

    output = expect(invoke(project, "list-pipelines", env=ADMIN), 0, airflow)

    row = next(line.split() for line in output.splitlines() if line.startswith(dag_id))
    assert row[3:5] == ["yes", "failed"]


# -- without Airflow ------------------------------------------------------------------------


def test_unreachable_host_says_to_check_host(
    make_project: ProjectFactory, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(airflow_settings, "RETRY_SECONDS", 1.0)
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    project = make_project(config=local_config(host, Path("dags")))

    result = cli(project, "list-pipelines", env=ADMIN)

    assert result.exit_code == 2
    assert f"cannot reach the Airflow API server at {host}" in result.output
    assert "check `host`" in result.output


def test_missing_host_is_named(make_project: ProjectFactory, cli) -> None:
    config = local_config("", Path("dags"))
    del config["host"]

    result = cli(make_project(config=config), "list-pipelines", env=ADMIN)

    assert result.exit_code == 2
    assert "host is not set in conf/base/airflow-k8s.yml" in result.output


@pytest.mark.parametrize("browser", [True, False])
def test_ui_opens_the_dag_page_and_prints_its_address(
    make_project: ProjectFactory, cli, monkeypatch: pytest.MonkeyPatch, browser: bool
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or browser)
    project = make_project()

    result = cli(project, "ui", "--dag-name", "sales report")

    assert result.exit_code == 0, result.output
    assert opened == ["http://127.0.0.1:8080/dags/sales_report"]
    assert result.output.splitlines()[0] == opened[0]
    assert ("No browser available" in result.output) is not browser


def test_schedule_publishes_the_dag_with_the_cron_expression(
    make_project: ProjectFactory, cli, tmp_path: Path
) -> None:
    project = make_project()
    dags = tmp_path / "airflow-dags"

    result = cli(
        project, "schedule", "--cron-expression", "0 3 * * 1", "--dag-name", "weekly", "--output",
        f"{dags}/",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"with schedule '0 3 * * 1' to {dags}/weekly.py" in result.output
    assert "schedule='0 3 * * 1'" in (dags / "weekly.py").read_text().replace('"', "'")


def test_schedule_without_a_cron_expression_says_how_to_give_one(
    make_project: ProjectFactory, cli
) -> None:
    result = cli(make_project(), "schedule")

    assert result.exit_code == 2
    assert "pass --cron-expression" in result.output
    assert "run_config.cron_expression" in result.output


def test_the_dag_doc_names_a_version_of_its_content(make_project: ProjectFactory) -> None:
    from kedro_airflow_k8s.build import compile_project
    from kedro_airflow_k8s.dag_version import version_in_doc
    from kedro_airflow_k8s.project import load_project

    project_path = make_project()
    first = compile_project(load_project(project_path, "local"))
    again = compile_project(load_project(project_path, "local"))
    other = compile_project(
        load_project(project_path, "local", overrides={"run_config.image": "other:2"})
    )

    assert version_in_doc(first.source) == first.version
    assert again.version == first.version
    assert other.version != first.version


def test_a_spark_backend_without_artifacts_path_is_refused_before_building(
    make_project: ProjectFactory, cli
) -> None:
    nodes = ONE_TASK_NODES.replace(
        'name="double_raw"', 'name="double_raw", tags=["kedro-airflow-k8s.group.pyspark"]'
    )
    # A published standalone DAG must not point at files on the machine that built it.
    spark = {"type": "standalone", "master": "local[2]"}
    config = local_config("http://127.0.0.1:8080", Path("dags"), spark=spark)
    project = make_project(nodes=nodes, catalog=ONE_TASK_CATALOG, config=config)

    result = cli(project, "schedule", "--cron-expression", "@daily")

    assert result.exit_code == 2
    assert "set run_config.spark.artifacts_path" in result.output
    assert not (project / "dags").exists()
