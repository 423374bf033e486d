"""Configs Airflow would refuse stop compile (exit 2, key and file named, nothing written);
configs that compile give DAGs a real Airflow DagBag loads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kedro_airflow_k8s.airflow_rules import check_schedule
from tests.conftest import DEFAULT_CONFIG, load_dagbag

OK_DEP = {"dag_id": "upstream"}

# (key path under run_config, value) pairs that Airflow, Kubernetes or the plugin refuses.
MALFORMED: list[tuple[str, Any]] = [
    ("cron_expression", "99 99 99 99 99"),
    ("cron_expression", "a b c d e"),
    ("cron_expression", "0 0 LW * *"),
    ("cron_expression", "every day"),
    ("cron_expression", "* * *"),
    ("cron_expression", "*/0 * * * *"),
    ("cron_expression", "H 0 * * *"),
    ("cron_expression", "0 0 31 2 *"),
    ("cron_expression", "@fortnightly"),
    ("cron_expression", "@reboot"),
    ("cron_expression", "60 * * * *"),
    ("cron_expression", "* 24 * * *"),
    ("cron_expression", "* * 32 * *"),
    ("cron_expression", "* * * 13 *"),
    ("cron_expression", "* * * * 8"),
    ("cron_expression", "1-0/ * * * *"),
    ("cron_expression", ""),
    ("max_active_runs", 0),
    ("max_active_runs", -1),
    ("max_active_runs", "two"),
    ("tags", ["x" * 101]),
    ("tags", [""]),
    ("tags", "ok," + "y" * 150),
    ("external_dependencies", [{"dag_id": "a b"}]),
    ("external_dependencies", [{"dag_id": ""}]),
    ("external_dependencies", [{"dag_id": "d" * 251}]),
    ("external_dependencies", [{"dag_id": "ok", "task_id": "t/1"}]),
    ("external_dependencies", [{"dag_id": "ok", "task_id": "t:1"}]),
    ("external_dependencies", [{"dag_id": "ok", "timeout": 0}]),
    ("external_dependencies", [{"dag_id": "ok", "mode": "sleep"}]),
    ("external_dependencies", [{"dag_id": "ok", "unknown": 1}]),
    ("external_dependencies", [{}]),
    ("macro_params", ["not"]),
    ("macro_params", ["1abc"]),
    ("macro_params", ["a-b"]),
    ("macro_params", ["a b"]),
    ("macro_params", ["ds.none"]),
    ("variables_params", ["true"]),
    ("variables_params", ["x;y"]),
    ("start_date", "yesterday"),
    ("start_date", "2024-13-01"),
    ("start_date", "2024-02-30"),
    ("retries", -1),
    ("retries", "many"),
    ("retry_delay", -5),
    ("startup_timeout", 0),
    ("image_pull_policy", "Sometimes"),
    ("namespace", None),
    ("image", None),
    ("secrets", [{"secret": "s", "deploy_type": "volume"}]),
    ("secrets", [{"secret": "s", "deploy_type": "file"}]),
    ("secrets", [{"deploy_type": "env"}]),
    ("secrets", [{"secret": "s", "key": "k"}]),
    ("resources", {"a": {"tolerations": [{"operator": "Maybe"}]}}),
    ("resources", {"a": {"requests": ["cpu"]}}),
    ("resources", {"a": {"cpus": 1}}),
    ("kubernetes_pod_templates", {"t": {}}),
    ("kubernetes_pod_templates", {"t": {"file": "x.yml", "spec": {}}}),
    ("node_runner", "docker"),
    ("catchup", "sometimes"),
    ("group_memory_nodes", "maybe"),
    ("description", ["a", "list"]),
    ("local_runner", {"kedro_command": 5}),
    ("imagee", "typo"),
    ("spark", {"type": "yarn"}),
]


def with_run_config(key: str, value: Any) -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    if value is None:
        config["run_config"].pop(key)
    else:
        config["run_config"][key] = value
    return config


@pytest.mark.parametrize(("key", "value"), MALFORMED, ids=[f"{k}={v!r}"[:60] for k, v in MALFORMED])
def test_config_airflow_would_refuse_exits_2_naming_key_and_file(make_project, cli, key, value):
    project = make_project(config=with_run_config(key, value))

    result = cli(project, "compile")

    assert result.exit_code == 2, result.output
    assert f"run_config.{key}" in result.output
    assert "(in conf/base/airflow-k8s.yml)" in result.output
    assert "Traceback" not in result.output
    assert not (project / "dags").exists()


def test_continuous_schedule_allows_one_active_run(make_project, cli):
    config = with_run_config("cron_expression", "@continuous")
    config["run_config"]["max_active_runs"] = 2
    project = make_project(config=config)

    result = cli(project, "compile")

    assert result.exit_code == 2
    assert "run_config.max_active_runs (in conf/base/airflow-k8s.yml)" in result.output
    assert "@continuous allows one active run" in result.output


def test_a_key_set_in_the_env_file_is_blamed_on_that_file(make_project, cli):
    project = make_project(env_config={"prod": {"run_config": {"cron_expression": "0 0 LW * *"}}})

    result = cli(project, "--env", "prod", "compile")

    assert result.exit_code == 2
    assert "run_config.cron_expression (in conf/prod/airflow-k8s.yml)" in result.output


def test_a_key_set_only_in_base_is_blamed_on_base_when_an_env_file_exists(make_project, cli):
    config = with_run_config("retries", -3)
    project = make_project(config=config, env_config={"prod": {"run_config": {"retries": 1}}})
    (project / "conf" / "prod" / "airflow-k8s.yml").write_text("run_config:\n  catchup: true\n")

    result = cli(project, "--env", "prod", "compile")

    assert result.exit_code == 2
    assert "run_config.retries (in conf/base/airflow-k8s.yml)" in result.output


def test_a_command_line_value_is_blamed_on_the_command_line(make_project, cli):
    result = cli(make_project(), "schedule", "--cron-expression", "0 0 LW * *")

    assert result.exit_code == 2
    assert "run_config.cron_expression (in the command line)" in result.output


def test_a_refused_compile_keeps_the_dag_already_there(make_project, cli):
    project = make_project()
    assert cli(project, "compile").exit_code == 0
    dag = next((project / "dags").glob("*.py"))
    before = dag.read_text()
    (project / "conf" / "base" / "airflow-k8s.yml").write_text(
        "run_config:\n  image: i\n  namespace: n\n  cron_expression: '99 99 99 99 99'\n"
    )

    assert cli(project, "compile").exit_code == 2
    assert dag.read_text() == before


VALID_EDGES: list[dict[str, Any]] = [
    {"cron_expression": preset}
    for preset in ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
] + [
    {"cron_expression": "@annually"},
    {"cron_expression": "@continuous", "max_active_runs": 1},
    {"cron_expression": "0 0 L * *"},
    {"cron_expression": "0 3 * * mon-fri"},
    {"cron_expression": "0 0 1 jan *"},
    {"cron_expression": "*/5 * * * *"},
    {"cron_expression": "0 0 * * 1#2"},
    {"cron_expression": "  0 4 * * *  "},
    {"tags": ["t" * 100, "ünïcode", "with space", "a:b"]},
    {"external_dependencies": [{"dag_id": "up.stream-1", "task_id": "grp.task-1"}]},
    {"external_dependencies": [{"dag_id": "d" * 250, "task_id": "t" * 250}]},
    {"macro_params": ["ds", "logical_date", "dag_run.run_id"], "variables_params": ["my_var"]},
    {"run_name": "dåg with spaces & symbols!"},
    {"run_name": "x" * 300},
    {"description": "multi\nline {{ not a template }}"},
    {"start_date": "19700101", "catchup": True, "max_active_runs": 16},
]


def test_every_config_that_compiles_loads_in_a_dagbag(make_project, cli, tmp_path):
    dags = tmp_path / "all_dags"
    for number, extra in enumerate(VALID_EDGES):
        config = copy.deepcopy(DEFAULT_CONFIG)
        config["run_config"].update(extra)
        config["run_config"].setdefault("run_name", f"edge_{number}")
        result = cli(make_project(config=config), "compile", "--output-dir", str(dags))
        assert result.exit_code == 0, (extra, result.output)

    bag = load_dagbag(dags)

    assert bag.import_errors == {}
    assert len(bag.dags) == len(VALID_EDGES)


@pytest.mark.parametrize(
    "schedule",
    [
        value
        for key, value in MALFORMED
        if key == "cron_expression" and value and value != "0 0 31 2 *"
    ],
)
def test_schedules_refused_at_compile_are_refused_by_airflow_too(tmp_path: Path, schedule: str):
    with pytest.raises(ValueError):
        check_schedule(schedule)
    (tmp_path / "probe.py").write_text(
        "import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        f"with DAG(dag_id='probe', schedule={schedule!r},\n"
        "         start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)):\n"
        "    EmptyOperator(task_id='t')\n"
    )

    bag = load_dagbag(tmp_path)

    assert bag.import_errors, f"Airflow accepted {schedule!r}"
