"""Spark on Kubernetes backend: the stock SparkSubmitOperator against a k8s:// master."""

from __future__ import annotations

from collections.abc import Mapping

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark.base import FactoryContext
from kedro_airflow_k8s.spark.spark_submit import SparkSubmitFactory


class KubernetesFactory(SparkSubmitFactory):
    """One spark-submit per Spark group; driver and executors are pods of the Spark image.

    The image holds the project, its conf and ``spark_run.py`` under
    ``/opt/<package>`` (the layout the Dataproc init script creates), unless
    ``run_config.spark.main_python_file`` and ``project_path`` say otherwise.
    """

    def application(self, context: FactoryContext) -> str:
        spark = context.spark
        if spark.main_python_file or spark.deploy_mode == "client":
            # In client mode the driver runs on the Airflow worker, next to the built script.
            return context.entry_script()
        return f"local://{context.image_project_home}/spark_run.py"

    def project_home(self, context: FactoryContext) -> str | None:
        # In client mode the driver runs on the Airflow worker, like the standalone backend's.
        if context.spark.deploy_mode == "client":
            return context.project_path
        return context.image_project_home

    def backend_conf(self, context: FactoryContext) -> dict[str, str]:
        return layers.kubernetes_layer(context.run_config)

    def env_vars(self, context: FactoryContext) -> Mapping[str, str]:
        return {}  # the kubernetes layer sets them as driverEnv and executorEnv conf


def checked_master(config: RunConfig) -> str:
    master = config.spark.master
    if config.spark.conn_id and not master:
        return ""
    if not master or not master.startswith("k8s://"):
        raise UserError(
            f"run_config.spark.master is {master!r}; the k8s backend needs the Kubernetes API "
            "server as k8s://https://<host>:<port> (or run_config.spark.conn_id naming an "
            "Airflow Spark connection that holds it)"
        )
    return master
