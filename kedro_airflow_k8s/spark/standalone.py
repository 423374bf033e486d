"""Standalone backend: spark-submit from the Airflow worker to spark://host:port or local[N]."""

from __future__ import annotations

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark.base import FactoryContext
from kedro_airflow_k8s.spark.spark_submit import SparkSubmitFactory

DEFAULT_MASTER = "local[2]"


class StandaloneFactory(SparkSubmitFactory):
    """One SparkSubmitOperator per Spark group, the driver on the worker (client mode).

    The entry script runs the project found at ``--project-path``: the directory
    compile ran in unless ``run_config.spark.project_path`` says otherwise.
    """

    def deploy_mode(self, context: FactoryContext) -> str:
        return "client"


def checked_master(config: RunConfig) -> str:
    spark = config.spark
    value = spark.master or DEFAULT_MASTER
    if not value.startswith(("spark://", "local")):
        raise UserError(
            f"run_config.spark.master is '{value}'; the standalone backend submits to "
            "spark://host:port or local[N] (use type k8s for k8s:// masters)"
        )
    return value
