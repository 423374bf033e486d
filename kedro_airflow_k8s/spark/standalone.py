"""Standalone backend: spark-submit from the Airflow worker to spark://host:port or local[N]."""

from __future__ import annotations

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark import spark_submit
from kedro_airflow_k8s.spark.base import SparkGroup
from kedro_airflow_k8s.spark.builtin import project_path_args

DEFAULT_MASTER = "local[2]"


class StandaloneFactory(spark_submit.SparkSubmitFactory):
    """One SparkSubmitOperator per Spark group, the driver on the worker (client mode).

    The entry script runs the project found at ``--project-path``: the directory
    compile ran in unless ``run_config.spark.project_path`` says otherwise.
    """

    def submit_operator(
        self,
        project_name: str,
        node: SparkGroup,
        pipeline: str,
        config: RunConfig,
        main_python_file_path: str,
    ) -> str:
        spark = config.spark
        conf = layers.layered(
            layers.resources_layer(layers.resource_profile(node, spark)),
            layers.io_layer(layers.group_filepaths(node, self.context.dataset_paths)),
            layers.python_layer(spark),
            spark.conf,
        )
        return spark_submit.submit_source(
            node,
            config,
            dag_id=self.context.dag_id,
            application=main_python_file_path,
            extra_args=project_path_args(config, self.context.project_path),
            conf=conf,
            deploy_mode="client",
            env_vars=dict(spark.env_vars),
            driver_env=self.context.driver_env,
        )


def checked_master(config: RunConfig) -> str:
    spark = config.spark
    value = spark.master or DEFAULT_MASTER
    if not value.startswith(("spark://", "local")):
        raise UserError(
            f"run_config.spark.master is '{value}'; the standalone backend submits to "
            "spark://host:port or local[N] (use type k8s for k8s:// masters)"
        )
    return value
