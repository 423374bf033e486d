"""The options of `kedro run` on each command, several pipelines, and JSON-only stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from kedro_airflow_k8s import airflow_settings
from tests.conftest import DEFAULT_CONFIG, load_dagbag
from tests.spaceflights import NAMESPACE_NODES, make_spaceflights


def plan_json(cli, project, *args):
    result = cli(project, "plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def planned_nodes(plan) -> set[str]:
    return {node for task in plan["tasks"] for node in task["nodes"]}


def pod_arguments(dag, task_id):
    return list(dag.get_task(task_id).arguments)


def test_pipelines_a_b_write_two_dags_that_dagbag_loads(make_project, cli):
    project = make_spaceflights(make_project)
    result = cli(project, "compile", "--pipelines", "data_processing,reporting")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    expected = {f"{project.name}-data_processing", f"{project.name}-reporting"}
    assert set(bag.dags) == expected
    assert sorted(p.name for p in (project / "dags").glob("*.py")) == sorted(
        f"{dag_id}.py" for dag_id in expected
    )
    report = bag.dags[f"{project.name}-reporting"]
    assert pod_arguments(report, "reporting.make_report")[:3] == [
        "run",
        "--pipelines",
        "reporting",
    ]


def test_all_compiles_every_pipeline_and_default_keeps_the_run_name(make_project, cli):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["run_name"] = "flights"
    project = make_spaceflights(make_project, config)
    result = cli(project, "compile", "--all", "--output-dir", "all")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (project / "all").glob("*.py"))
    assert names == [
        "flights-data_processing.py",
        "flights-data_science.py",
        "flights-reporting.py",
        "flights.py",
    ]


def test_pipeline_sections_override_run_config_per_pipeline(make_project, cli):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["env_vars"] = {"SHARED": "1", "LEVEL": "info"}
    config["pipelines"] = {
        "data_science": {
            "cron_expression": "@weekly",
            "image": "registry.example.com/training:2",
            "env_vars": {"LEVEL": "debug"},
        },
        "reporting": {"run_name": "flight-reports"},
    }
    project = make_spaceflights(make_project, config)
    result = cli(project, "compile", "-p", "data_science,reporting,data_processing")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    science = bag.dags[f"{project.name}-data_science"]
    source = (project / "dags" / f"{project.name}-data_science.py").read_text()
    assert "schedule='@weekly'" in source
    task = science.get_task("data_science.split_data")
    assert task.image == "registry.example.com/training:2"
    env_vars = task.env_vars
    if isinstance(env_vars, list):
        env_vars = {e.name: e.value for e in env_vars}
    assert env_vars == {"SHARED": "1", "LEVEL": "debug"}
    assert "flight-reports" in bag.dags
    processing = bag.dags[f"{project.name}-data_processing"]
    assert processing.get_task("data_processing.preprocess_companies").image == (
        "registry.example.com/demo:1"
    )


def test_a_pipeline_section_key_error_names_its_path(make_project, cli):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["pipelines"] = {"reporting": {"cron_expresion": "@daily"}}
    project = make_spaceflights(make_project, config)
    result = cli(project, "compile", "-p", "reporting")
    assert result.exit_code == 2
    assert "pipelines.reporting.cron_expresion (in conf/base/airflow-k8s.yml)" in result.output
    assert "unknown key" in result.output
    assert "did you mean 'cron_expression'" in result.output


def test_env_conf_source_and_params_on_the_command(make_project, cli, tmp_path):
    project = make_spaceflights(make_project)
    (project / "conf" / "prod").mkdir()
    (project / "conf" / "prod" / "airflow-k8s.yml").write_text(
        yaml.safe_dump({"run_config": {"image": "registry.example.com/prod:3"}})
    )
    other = tmp_path / "other-conf"
    (other / "base").mkdir(parents=True)
    result = cli(project, "compile", "-p", "data_processing", "--conf-source", str(other))
    assert result.exit_code == 2
    assert f"--conf-source {other} has no 'local' directory" in result.output
    (other / "local").mkdir()
    (other / "base" / "airflow-k8s.yml").write_text(
        yaml.safe_dump({"run_config": {"image": "elsewhere:1", "namespace": "other"}})
    )
    result = cli(project, "compile", "--env", "prod", "-p", "reporting", "--params", "a=1,b.c=x")
    assert result.exit_code == 0, result.output
    result = cli(
        project, "compile", "-p", "data_processing", "--conf-source", str(other), "-o", "x"
    )
    assert result.exit_code != 0  # -o is not an option: the command keeps Kedro's spellings
    result = cli(project, "compile", "-p", "data_processing", "--conf-source", str(other))
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    report = bag.dags[f"{project.name}-reporting"].get_task("reporting.make_report")
    assert report.image == "registry.example.com/prod:3"
    assert list(report.arguments) == [
        "run",
        "--pipelines",
        "reporting",
        "--env",
        "prod",
        "--nodes",
        "reporting.make_report",
        "--params",
        "a=1,b.c=x",
    ]
    # The other configuration has no catalog: every dataset is a MemoryDataset, one task.
    (task,) = bag.dags[f"{project.name}-data_processing"].tasks
    assert task.image == "elsewhere:1" and task.namespace == "other"


def test_group_level_env_and_pipeline_keep_working(make_project, cli):
    project = make_spaceflights(make_project)
    result = cli(project, "-p", "reporting", "plan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dag_id"] == f"{project.name}-reporting"


def test_node_filters_select_nodes_as_kedro_run_does(make_project, cli):
    project = make_spaceflights(make_project)
    everything = {node for nodes in NAMESPACE_NODES.values() for node in nodes}
    assert planned_nodes(plan_json(cli, project)) == everything
    assert planned_nodes(plan_json(cli, project, "--tags", "prep,training")) == {
        "data_processing.preprocess_companies",
        "data_processing.preprocess_shuttles",
        "data_science.train_model",
    }
    assert planned_nodes(plan_json(cli, project, "--namespaces", "data_science")) == set(
        NAMESPACE_NODES["data_science"]
    )
    assert planned_nodes(
        plan_json(cli, project, "--from-nodes", "data_science.evaluate_model")
    ) == {"data_science.evaluate_model", "reporting.make_report"}
    assert planned_nodes(
        plan_json(cli, project, "--to-nodes", "data_processing.create_model_input_table")
    ) == set(NAMESPACE_NODES["data_processing"])
    assert planned_nodes(
        plan_json(cli, project, "--node-names", "reporting.make_report,data_science.split_data")
    ) == {"reporting.make_report", "data_science.split_data"}
    assert planned_nodes(plan_json(cli, project, "--to-outputs", "preprocessed_shuttles")) == {
        "data_processing.preprocess_shuttles"
    }
    assert planned_nodes(plan_json(cli, project, "--from-inputs", "metrics")) == {
        "reporting.make_report"
    }


def test_filters_over_several_pipelines_leave_out_the_emptied_ones(make_project, cli):
    project = make_spaceflights(make_project)
    plans = plan_json(cli, project, "--all", "--tags", "training")
    assert [plan["dag_id"] for plan in plans] == [
        project.name,
        f"{project.name}-data_science",
    ]
    result = cli(project, "plan", "--tags", "nope")
    assert result.exit_code == 2
    assert "--tags nope leaves no node of pipeline '__default__'" in result.output
    result = cli(project, "plan", "--nodes", "no_such_node")
    assert result.exit_code == 2
    assert "no_such_node" in result.output and "Traceback" not in result.output


def test_dag_name_names_one_dag_only(make_project, cli):
    project = make_spaceflights(make_project)
    result = cli(project, "compile", "--all", "--dag-name", "x")
    assert result.exit_code == 2
    assert "--dag-name names one DAG" in result.output
    result = cli(project, "plan", "--all", "-p", "reporting")
    assert result.exit_code == 2 and "either --pipelines or --all" in result.output


def test_plan_json_stdout_is_only_json_when_the_project_logs_to_stdout(make_project, cli):
    from kedro.framework.project import configure_logging

    project = make_spaceflights(make_project)
    settings = next(project.glob("src/*/settings.py"))
    settings.write_text(
        "import logging\nprint('settings.py prints')\nlogging.getLogger('kedro').info('hello')\n"
    )
    # What Kedro does at start-up in this project: its logging.yml, writing to stdout.
    configure_logging(yaml.safe_load((project / "conf" / "logging.yml").read_text()))
    try:
        result = cli(project, "plan", "--format", "json", "--all")
        assert result.exit_code == 0, result.output
        plans = json.loads(result.stdout)
        assert [plan["dag_id"] for plan in plans][0] == project.name
        assert "settings.py prints" in result.stderr
        table = cli(project, "plan", "-p", "reporting")
        assert table.stdout.startswith(f"DAG {project.name}-reporting: 1 tasks")
        schema = cli(project, "schema")
        assert json.loads(schema.stdout)["title"].startswith("kedro-airflow-k8s")
    finally:
        configure_logging(
            {"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}}
        )


def test_python_m_entry_point_keeps_kedro_start_up_logs_off_stdout(make_project):
    project = make_spaceflights(make_project)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "kedro_airflow_k8s", "plan", "--format", "json", "--all"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    plans = json.loads(done.stdout)
    assert len(plans) == 4
    assert "LOG kedro.framework.project Using 'conf/logging.yml'" in done.stderr


def test_plugin_script_prints_only_json_with_kedro_default_logging(make_project):
    project = make_spaceflights(make_project)
    (project / "conf" / "logging.yml").unlink()  # Kedro's rich default: stdout
    script = Path(sys.executable).parent / "kedro-airflow-k8s"
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    env.pop("KEDRO_LOGGING_CONFIG", None)
    done = subprocess.run(
        [str(script), "plan", "--format", "json", "-p", "reporting"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["dag_id"] == f"{project.name}-reporting"
    assert "as logging configuration" in " ".join(done.stderr.split())


def test_kedro_command_keeps_what_the_project_prints_while_loading_off_stdout(
    make_project, tmp_path
):
    project = make_spaceflights(make_project)
    settings = next(project.glob("src/*/settings.py"))
    settings.write_text("print('settings.py prints')\n")
    logging_config = tmp_path / "logging.yml"
    logging_config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {
                    "err": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
                },
                "root": {"level": "INFO", "handlers": ["err"]},
            }
        )
    )
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "KEDRO_LOGGING_CONFIG": str(logging_config),
    }
    kedro = Path(sys.executable).parent / "kedro"
    for args in (["plan", "--format", "json", "-p", "reporting"], ["-e", "local", "schema"]):
        done = subprocess.run(
            [str(kedro), "airflow-k8s", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)
        assert "settings.py prints" in done.stderr


def test_schedule_and_upload_pipeline_publish_one_dag_per_pipeline(
    make_project, cli, tmp_path, monkeypatch
):
    # No Airflow listens at the configured host: each command gives up on it after a second
    # rather than the default half minute.
    monkeypatch.setattr(airflow_settings, "RETRY_SECONDS", 1.0)
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["cron_expression"] = "0 3 * * *"
    config["pipelines"] = {"data_science": {"cron_expression": "@weekly"}}
    project = make_spaceflights(make_project, config)
    scheduled, uploaded = tmp_path / "scheduled", tmp_path / "uploaded"
    pipelines = "data_science,reporting"
    result = cli(project, "schedule", "-p", pipelines, "--output", f"{scheduled}/")
    assert result.exit_code == 0, result.output
    science = (scheduled / f"{project.name}-data_science.py").read_text()
    reporting = (scheduled / f"{project.name}-reporting.py").read_text()
    assert "schedule='@weekly'" in science and "schedule='0 3 * * *'" in reporting

    result = cli(project, "upload-pipeline", "--pipelines", pipelines, "--output", f"{uploaded}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in uploaded.iterdir()) == [
        f"{project.name}-data_science.py",
        f"{project.name}-reporting.py",
    ]


def test_schedule_checks_every_pipeline_has_a_schedule_before_publishing(
    make_project, cli, tmp_path
):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["pipelines"] = {"data_science": {"cron_expression": "@weekly"}}
    project = make_spaceflights(make_project, config)
    target = tmp_path / "scheduled"
    result = cli(project, "schedule", "-p", "data_science,reporting", "--output", f"{target}/")
    assert result.exit_code == 2
    assert "pipeline 'reporting' has no schedule" in result.output
    assert "pipelines.reporting.cron_expression" in result.output
    assert not target.exists()
