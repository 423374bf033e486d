"""Spark conf in layers, later ones winning: defaults, resources, backend, IO, python, yours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark_config import SparkApplicationConfig, SparkResources

# Credentials are named by provider class only: the cluster's identity (workload identity,
# instance profile, IRSA) supplies them, and no secret value is ever written into the DAG.
S3_CONF = {
    "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "spark.hadoop.fs.s3a.aws.credentials.provider": (
        "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"
    ),
}
GCS_CONF = {
    "spark.hadoop.fs.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS",
    "spark.hadoop.fs.gs.auth.type": "APPLICATION_DEFAULT",
}
# Spark logs at INFO unless told otherwise: most of a task log would be Spark's own chatter.
DEFAULT_CONF = {"spark.log.level": "WARN"}
FILESYSTEM_CONF = {"s3": S3_CONF, "s3a": S3_CONF, "s3n": S3_CONF, "gs": GCS_CONF, "gcs": GCS_CONF}


def resources_layer(profile: SparkResources) -> dict[str, str]:
    pairs = {
        "spark.driver.cores": profile.driver_cores,
        "spark.driver.memory": profile.driver_memory,
        "spark.executor.cores": profile.executor_cores,
        "spark.executor.memory": profile.executor_memory,
        "spark.executor.instances": profile.executor_instances,
    }
    return {key: str(value) for key, value in pairs.items() if value is not None}


def kubernetes_layer(config: RunConfig) -> dict[str, str]:
    """Spark-on-Kubernetes settings: namespace, identity, image, placement, secrets, env."""
    spark = config.spark
    conf = {
        "spark.kubernetes.namespace": spark.namespace or config.namespace,
        "spark.kubernetes.container.image": spark.image or config.image,
        "spark.kubernetes.container.image.pullPolicy": config.image_pull_policy,
    }
    account = spark.service_account_name or config.service_account_name
    if account:
        conf["spark.kubernetes.authenticate.driver.serviceAccountName"] = account
    for role in ("driver", "executor"):
        for key, value in spark.labels.items():
            conf[f"spark.kubernetes.{role}.label.{key}"] = value
    for key, value in spark.node_selectors.items():
        conf[f"spark.kubernetes.node.selector.{key}"] = value
    for position, secret in enumerate(spark.secrets):
        if secret.deploy_type == "volume":
            for role in ("driver", "executor"):
                conf[f"spark.kubernetes.{role}.secrets.{secret.secret}"] = secret.deploy_target
        elif secret.key and secret.deploy_target:
            for role in ("driver", "executor"):
                key = f"spark.kubernetes.{role}.secretKeyRef.{secret.deploy_target}"
                conf[key] = f"{secret.secret}:{secret.key}"
        else:
            raise UserError(
                f"run_config.spark.secrets[{position}]: Spark on Kubernetes exposes a secret as "
                "one variable per key; set key and deploy_target (the variable name), or mount "
                "the secret with deploy_type: volume"
            )
    for key, value in spark.env_vars.items():
        conf[f"spark.kubernetes.driverEnv.{key}"] = value
        conf[f"spark.executorEnv.{key}"] = value
    return conf


def io_layer(filepaths: Iterable[str], native: Iterable[str] = ()) -> dict[str, str]:
    """Connector settings for the object stores that ``filepaths`` point into, but for the
    ``native`` schemes, which the platform configures itself (gs on Dataproc)."""
    conf: dict[str, str] = {}
    for path in sorted(set(filepaths)):
        scheme = path.split("://", 1)[0].lower() if "://" in path else ""
        if scheme not in set(native):
            conf.update(FILESYSTEM_CONF.get(scheme, {}))
    return conf


def python_layer(spark: SparkApplicationConfig) -> dict[str, str]:
    if not spark.python:
        return {}
    return {"spark.pyspark.python": spark.python, "spark.pyspark.driver.python": spark.python}


def layered(*layers: Mapping[str, str]) -> dict[str, str]:
    """One conf from ``layers`` over the defaults every application gets; a key set by a
    later layer replaces an earlier value."""
    conf: dict[str, str] = dict(DEFAULT_CONF)
    for layer in layers:
        conf.update(layer)
    return conf
