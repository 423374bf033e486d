"""Generated task commands use the option spelling of the installed Kedro."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from kedro_airflow_k8s.kedro_run import (
    kedro_run_arguments,
    namespace_option,
    pipeline_option,
    run_options,
)
from tests.conftest import DEFAULT_CONFIG, load_dagbag

KEDRO = str(Path(sys.executable).with_name("kedro"))


def test_installed_kedro_selects_pipelines_with_the_plural_option():
    assert "--pipelines" in run_options()
    assert pipeline_option() == "--pipelines"
    assert namespace_option() == "--namespaces"


def test_older_kedro_spellings_are_used_where_the_plural_is_missing():
    older = frozenset({"--pipeline", "--env", "--nodes", "--namespace"})
    args = kedro_run_arguments("training", "prod", ["a"], namespace="ns", options=older)
    assert args == ["run", "--pipeline", "training", "--env", "prod", "--namespace", "ns"]
    without_namespaces = frozenset({"--pipeline", "--env", "--nodes"})
    args = kedro_run_arguments("p", "e", ["a", "b"], namespace="ns", options=without_namespaces)
    assert args == ["run", "--pipeline", "p", "--env", "e", "--nodes", "a,b"]


def test_local_task_command_runs_without_a_deprecation_warning(make_project, cli):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["node_runner"] = "local"
    config["run_config"]["local_runner"] = {"kedro_command": KEDRO}
    project = make_project(config=config)
    (project / "data" / "raw.csv").write_text("x\n1\n2\n")
    result = cli(project, "-p", "main", "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    (dag,) = bag.dags.values()
    command = dag.get_task("double_raw").bash_command
    assert " run --pipelines main --env local --nodes double_raw" in command

    env = {**os.environ, "PYTHONWARNINGS": "default", "KEDRO_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (project / "data" / "doubled.csv").read_text() == "x\n2\n4\n"
    # Rich wraps long log lines: compare with the whitespace squeezed out.
    logs = "".join((done.stdout + done.stderr).split())
    assert "KedroDeprecationWarning" not in logs, logs[-3000:]
    assert "Option'--pipeline'isdeprecated" not in logs
