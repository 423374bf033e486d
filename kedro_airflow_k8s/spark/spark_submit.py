"""SparkSubmitOperator specs for the k8s and standalone backends, and their master connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.source import identifier
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark.base import FactoryContext, SparkFactory, SparkGroup
from kedro_airflow_k8s.spark.builtin import k8s_name, project_path_args
from kedro_airflow_k8s.spark.driver_env import submit_env_vars
from kedro_airflow_k8s.spark.spec import OperatorSpec

OPERATOR = "airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator"
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
    for key in spark.submit_args:
        if key not in SUBMIT_ARGUMENTS:
            raise UserError(
                f"run_config.spark.submit_args.{key}: not an argument of SparkSubmitOperator "
                f"(known: {', '.join(sorted(SUBMIT_ARGUMENTS))})"
            )
    if not isinstance(spark.submit_args.get("conf", {}), dict):
        raise UserError("run_config.spark.submit_args.conf must be a mapping; or use spark.conf")


class SparkSubmitFactory(SparkFactory):
    """One SparkSubmitOperator per Spark group; the backends differ in where the driver and
    the project are, and in the conf they add."""

    def application(self, context: FactoryContext) -> str:
        """The entry script spark-submit runs."""
        return context.entry_script()

    def project_home(self, context: FactoryContext) -> str | None:
        """Where the driver finds the project (``--project-path``)."""
        return context.project_path

    def deploy_mode(self, context: FactoryContext) -> str:
        return context.spark.deploy_mode

    def backend_conf(self, context: FactoryContext) -> dict[str, str]:
        """Conf between the resources and the IO layers."""
        return {}

    def env_vars(self, context: FactoryContext) -> Mapping[str, str]:
        """The user's variables in ``env_vars`` (k8s passes them through conf instead)."""
        return context.spark.env_vars

    def submit(self, context: FactoryContext, group: SparkGroup) -> OperatorSpec:
        """``SparkSubmitOperator`` for one group; ``run_config.spark.submit_args`` win."""
        spark = context.spark
        conf = layers.layered(
            layers.resources_layer(group.profile),
            self.backend_conf(context),
            layers.io_layer(group.dataset_paths.values()),
            layers.python_layer(spark),
            spark.conf,
        )
        submit_args: dict[str, Any] = dict(spark.submit_args)
        user_conf = submit_args.pop("conf", {})
        conf.update((str(key), str(value)) for key, value in user_conf.items())
        extra = project_path_args(context, self.project_home(context))
        kwargs: dict[str, Any] = {
            "task_id": group.task_id,
            "doc_md": group.doc(),
            "conn_id": connection_id(context.run_config, context.dag_id),
            "deploy_mode": self.deploy_mode(context),
            "name": k8s_name(group.task_id),
            "application": self.application(context),
            "application_args": group.application_args(extra),
            "conf": conf,
        }
        env = submit_env_vars(self.env_vars(context), context.driver_env)
        if env:
            kwargs["env_vars"] = env
        kwargs.update(submit_args)
        return OperatorSpec(OPERATOR, kwargs)
