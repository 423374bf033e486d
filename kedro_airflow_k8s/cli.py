"""The `kedro airflow-k8s` commands: the group, with every command added to it."""

from __future__ import annotations

from kedro_airflow_k8s import cli_airflow, cli_compile
from kedro_airflow_k8s.cli_group import airflow_k8s, commands, report_user_error

__all__ = ["airflow_k8s", "cli_airflow", "cli_compile", "commands", "report_user_error"]
