"""Spark on Kubernetes backend: the stock SparkSubmitOperator against a k8s:// master."""

from __future__ import annotations

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark import spark_submit
from kedro_airflow_k8s.spark.base import SparkGroup
from kedro_airflow_k8s.spark.builtin import project_path_args


class KubernetesFactory(spark_submit.SparkSubmitFactory):
    """One spark-submit per Spark group; driver and executors are pods of the Spark image.

    The image holds the project, its conf and ``spark_run.py`` under
    ``/opt/<package>`` (the layout the Dataproc init script creates), unless
    ``run_config.spark.main_python_file`` and ``project_path`` say otherwise.
    """

    def entry_script(self, config: RunConfig) -> str:
        spark = config.spark
        if spark.main_python_file or spark.deploy_mode == "client":
            # In client mode the driver runs on the Airflow worker, next to the built script.
            return super().entry_script(config)
        return f"local://{self.context.image_project_home}/spark_run.py"

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
            layers.kubernetes_layer(config),
            layers.io_layer(layers.group_filepaths(node, self.context.dataset_paths)),
            layers.python_layer(spark),
            spark.conf,
        )
        # In client mode the driver runs on the Airflow worker, like the standalone backend's.
        client = spark.deploy_mode == "client"
        project_home = self.context.project_path if client else self.context.image_project_home
        return spark_submit.submit_source(
            node,
            config,
            dag_id=self.context.dag_id,
            application=main_python_file_path,
            extra_args=project_path_args(config, project_home),
            conf=conf,
            deploy_mode=spark.deploy_mode,
            driver_env=self.context.driver_env,
        )


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
