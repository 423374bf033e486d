"""run-once, schedule, list-pipelines and ui; end to end against a real Airflow 3 on 127.0.0.1."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_server import AirflowServer, airflow, free_port  # noqa: F401 - session fixture
from click.testing import CliRunner, Result
from conftest import EXAMPLE, ProjectFactory

from kedro_airflow_k8s import airflow_api
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
    assert "kedro.double_raw_and_1_more: success" in output
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

    assert "kedro.explode: failed" in output
    assert "failed tasks: kedro.explode" in output
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
    run_config["spark"]["type"] = "none"  # the Spark group runs `kedro run`, Spark in local mode
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

    assert f"does not allow this user to trigger DAG '{dag_id}'" in output


# -- without Airflow ------------------------------------------------------------------------


def test_unreachable_host_says_to_check_host(
    make_project: ProjectFactory, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(airflow_api, "RETRY_SECONDS", 1.0)
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


def test_the_dag_carries_a_version_tag_of_its_content(make_project: ProjectFactory) -> None:
    from kedro_airflow_k8s.build import compile_project
    from kedro_airflow_k8s.project import load_project

    project_path = make_project()
    first = compile_project(load_project(project_path, "local"))
    again = compile_project(load_project(project_path, "local"))
    other = compile_project(
        load_project(project_path, "local", overrides={"run_config.image": "other:2"})
    )

    assert first.version_tag.startswith("kak_version:") and len(first.version_tag) <= 100
    assert first.version_tag in first.source
    assert again.version_tag == first.version_tag
    assert other.version_tag != first.version_tag


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
