"""SparkSubmitOperator source for the k8s and standalone backends, and its master connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.source import identifier, literal
from kedro_airflow_k8s.spark.base import SparkGroup
from kedro_airflow_k8s.spark.builtin import (
    BuiltinFactory,
    args_literal,
    call,
    doc_literal,
    k8s_name,
    tlit,
)
from kedro_airflow_k8s.spark.driver_env import submit_env_vars

IMPORTS = "from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator"
# Keyword arguments of SparkSubmitOperator (provider 5.x-6.x) a user may set in submit_args.
SUBMIT_ARGUMENTS = frozenset(
    {
        "application", "conf", "files", "py_files", "archives", "driver_class_path", "jars",
        "java_class", "packages", "exclude_packages", "repositories", "total_executor_cores",
        "executor_cores", "executor_memory", "driver_memory", "keytab", "principal",
        "proxy_user", "name", "num_executors", "status_poll_interval", "application_args",
        "env_vars", "verbose", "spark_binary", "properties_file", "yarn_queue", "deploy_mode",
        "use_krb5ccache", "post_submit_commands", "track_driver_via_k8s_api", "durable",
        "queue", "pool", "retries", "priority_weight",
    }
)  # fmt: skip


def connection_id(config: RunConfig, dag_id: str) -> str:
    """The user's ``spark.conn_id``, else the connection the deployment defines for this DAG."""
    return config.spark.conn_id or f"kedro_spark_{identifier(dag_id, prefix='dag')}"


def connection_env(config: RunConfig, dag_id: str, master: str) -> tuple[str, str] | None:
    """The variable and value that define this DAG's Spark connection in the Airflow
    deployment's environment, when run_config.spark.conn_id does not name one."""
    if config.spark.conn_id:
        return None
    variable = f"AIRFLOW_CONN_{connection_id(config, dag_id).upper()}"
    return variable, json.dumps({"conn_type": "spark", "host": master})


def connection_notes(config: RunConfig, dag_id: str, master: str) -> list[str]:
    """How to provide the connection the DAG reads the Spark master from (the DAG file has
    no side effects, so it does not define the connection itself)."""
    env = connection_env(config, dag_id, master)
    if env is None:
        return []
    variable, value = env
    return [
        f"the Spark tasks read their master from the Airflow connection "
        f"'{connection_id(config, dag_id)}': define it where Airflow runs, e.g. "
        f"{variable}='{value}', or set run_config.spark.conn_id to a connection you have"
    ]


def check(config: RunConfig, checked_master: Callable[[RunConfig], str]) -> None:
    """What a spark-submit backend's section must satisfy; UserError naming the key."""
    spark = config.spark
    if spark.conn_id and spark.master:
        raise UserError(
            "run_config.spark.master and run_config.spark.conn_id are both set; the master "
            "comes from one of them: keep master (the DAG defines its connection) or conn_id"
        )
    checked_master(config)
    check_submit_args(spark.submit_args)
    if not isinstance(spark.submit_args.get("conf", {}), dict):
        raise UserError("run_config.spark.submit_args.conf must be a mapping; or use spark.conf")


def check_submit_args(submit_args: dict[str, Any]) -> None:
    for key in submit_args:
        if key not in SUBMIT_ARGUMENTS:
            raise UserError(
                f"run_config.spark.submit_args.{key}: not an argument of SparkSubmitOperator "
                f"(known: {', '.join(sorted(SUBMIT_ARGUMENTS))})"
            )


def submit_source(
    group: SparkGroup,
    config: RunConfig,
    *,
    dag_id: str,
    application: str,
    extra_args: list[str],
    conf: dict[str, str],
    deploy_mode: str,
    env_vars: dict[str, str] | None = None,
    driver_env: Mapping[str, str] | None = None,
) -> str:
    """``SparkSubmitOperator(...)`` for one group; ``run_config.spark.submit_args`` win."""
    submit_args = dict(config.spark.submit_args)
    check_submit_args(submit_args)
    user_conf = submit_args.pop("conf", {})
    if not isinstance(user_conf, dict):
        raise UserError("run_config.spark.submit_args.conf must be a mapping; or use spark.conf")
    conf = {**conf, **{str(key): str(value) for key, value in user_conf.items()}}
    arguments = [
        ("task_id", literal(group.task_id)),
        ("doc_md", doc_literal(group)),
        ("conn_id", literal(connection_id(config, dag_id))),
        ("deploy_mode", literal(deploy_mode)),
        ("name", tlit(k8s_name(group.task_id))),
        ("application", tlit(application)),
        ("application_args", args_literal(group, extra_args)),
        ("conf", tlit(conf)),
    ]
    env_source = submit_env_vars(env_vars or {}, driver_env or {})
    if env_source:
        arguments.append(("env_vars", env_source))
    chosen = dict(arguments)
    chosen.update((key, tlit(value)) for key, value in submit_args.items())
    return call("SparkSubmitOperator", list(chosen.items()))


class SparkSubmitFactory(BuiltinFactory):
    """What the backends built on SparkSubmitOperator share: their imports."""

    @property
    def imports_statement(self) -> str:
        return IMPORTS
