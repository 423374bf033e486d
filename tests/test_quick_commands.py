"""`kedro-airflow-k8s list-pipelines` and `ui` start without Kedro's CLI and session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DEFAULT_CONFIG, ProjectFactory
from test_airflow_api import FakeAirflow, dag

REPO = Path(__file__).resolve().parents[1]
# Runs the console script's main() and reports which heavy modules it imported.
SCRIPT = """
import sys
from kedro_airflow_k8s.__main__ import main

sys.argv = ["kedro-airflow-k8s", *sys.argv[1:]]
try:
    main()
finally:
    heavy = ("kedro.framework.project", "kedro.framework.cli", "kedro.framework.session",
             "dynaconf", "kedro.io")
    print("IMPORTED", *sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


@pytest.fixture
def airflow_stub() -> Iterator[FakeAirflow]:
    server = FakeAirflow()
    server.reply("POST", "/auth/token", (200, {"access_token": "t"}, {}))
    listed = {"dags": [dag("sales", tags=("kedro",))], "total_entries": 1}
    server.reply("GET", "/api/v2/dags", (200, listed, {}))
    finished = {"dag_runs": [{"state": "success", "end_date": "2026-01-01T03:10:00Z"}]}
    server.reply("GET", "/api/v2/dags/sales/dagRuns", (200, finished | {"total_entries": 1}, {}))
    yield server
    server.close()


def run_script(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "PYTHONPATH": str(REPO),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "AIRFLOW_USERNAME": "admin",
        "AIRFLOW_PASSWORD": "admin",
        "BROWSER": "true",  # `ui` "opens" the page with /bin/true
    }
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def config_for(host: str) -> dict:
    return {**DEFAULT_CONFIG, "host": host}


def test_list_pipelines_prints_only_its_table_without_loading_kedros_session(
    make_project: ProjectFactory, airflow_stub: FakeAirflow
) -> None:
    project = make_project(config=config_for(airflow_stub.url))

    done = run_script(project, "list-pipelines")

    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["NAME", "DAG", "ID", "SCHEDULE", "PAUSED", "LAST", "RUN"]
    assert row.split()[:2] == ["sales", "sales"] and "success (2026-01-01 03:10)" in row
    assert done.stderr == "IMPORTED\n", "no Kedro log line, no OmegaConf warning"


def test_ui_prints_only_the_address_without_loading_kedros_session(
    make_project: ProjectFactory,
) -> None:
    project = make_project(config=config_for("http://airflow.example:8080"))

    done = run_script(project, "-e", "local", "ui", "--dag-name", "sales report")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "http://airflow.example:8080/dags/sales_report\n"
    assert done.stderr == "IMPORTED\n"


def test_quick_commands_read_the_config_as_kedro_does(make_project: ProjectFactory) -> None:
    """settings.py's conf folder and resolvers, the env's file over base, ${oc.env:...}."""
    project = make_project(config=config_for("${airflow_host:}"))
    package = next((project / "src").iterdir())
    (package / "settings.py").write_text(
        textwrap.dedent(
            """
            from kedro.config import OmegaConfigLoader

            CONF_SOURCE = "settings_conf"
            CONFIG_LOADER_CLASS = OmegaConfigLoader
            CONFIG_LOADER_ARGS = {
                "base_env": "base",
                "default_run_env": "local",
                "custom_resolvers": {"airflow_host": lambda: "http://from-settings:8080"},
            }
            """
        )
    )
    (project / "conf").rename(project / "settings_conf")
    prod = project / "settings_conf" / "prod"
    prod.mkdir()
    (prod / "airflow-k8s.yml").write_text("run_config:\n  run_name: ${oc.env:RUN_NAME}\n")

    base = run_script(project, "ui")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RUN_NAME", "nightly")
        in_prod = run_script(project, "ui", "-e", "prod")

    assert base.stdout.splitlines()[0] == f"http://from-settings:8080/dags/{package.name}"
    assert in_prod.stdout.splitlines()[0] == "http://from-settings:8080/dags/nightly"
    assert base.stderr == in_prod.stderr == "IMPORTED\n"


def test_a_broken_settings_file_is_named_without_a_traceback(
    make_project: ProjectFactory,
) -> None:
    project = make_project()
    package = next((project / "src").iterdir())
    (package / "settings.py").write_text("import no_such_module_here\n")

    done = run_script(project, "ui")

    assert done.returncode == 2
    assert "cannot load the Kedro project" in done.stderr
    assert "no_such_module_here" in done.stderr and "Traceback" not in done.stderr


def test_other_commands_still_load_the_project_with_kedro(make_project: ProjectFactory) -> None:
    done = run_script(make_project(), "plan", "--format", "json")

    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith("{")
    assert "kedro.framework.project" in done.stderr.splitlines()[-1]
