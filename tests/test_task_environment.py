"""run_config.env_vars: fixed values, or Airflow Variable names read when the task runs."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from tests.conftest import DEFAULT_CONFIG, compiled, pod_env


def config_with(**run_config):
    return {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], **run_config}}


def test_env_vars_listed_by_name_come_from_airflow_variables_in_pods(make_project, cli):
    dag = compiled(cli, make_project(config=config_with(env_vars=["DB_HOST", "API_KEY"])))
    for task in dag.tasks:
        env = pod_env(task)
        assert env == {"DB_HOST": "{{ var.value.DB_HOST }}", "API_KEY": "{{ var.value.API_KEY }}"}


def test_env_vars_listed_by_name_reach_local_commands(make_project, cli):
    config = config_with(
        env_vars=["DB_HOST"],
        node_runner="local",
        local_runner={"env_vars": {"KEDRO_LOGGING_CONFIG": "conf/logging.yml"}},
    )
    dag = compiled(cli, make_project(config=config))
    for task in dag.tasks:
        assert task.env == {
            "DB_HOST": "{{ var.value.DB_HOST }}",
            "KEDRO_LOGGING_CONFIG": "conf/logging.yml",
        }


def test_env_var_values_are_still_written_exactly(make_project, cli):
    dag = compiled(cli, make_project(config=config_with(env_vars={"GREETING": "{{ ds }} 'hi'"})))
    (name,) = pod_env(dag.tasks[0])
    value = pod_env(dag.tasks[0])[name]
    assert name == "GREETING" and value == "{{ '{{' }} ds }} 'hi'", "rendered as written"


@pytest.mark.parametrize("name", ["db-host", "1ST", "a b", "x}}{{"])
def test_env_var_names_that_cannot_be_variables_are_refused(name):
    with pytest.raises(ConfigError, match=r"run_config\.env_vars.*letters, digits and underscores"):
        parse_config(config_with(env_vars=[name]))
