"""Spark Operator backend: one SparkApplication (v1beta2) per Spark group."""

from __future__ import annotations

from typing import Any

from kedro_airflow_k8s.config import RunConfig, SparkResources
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark.base import FactoryContext, SparkFactory, SparkGroup
from kedro_airflow_k8s.spark.builtin import k8s_name, project_path_args
from kedro_airflow_k8s.spark.driver_env import with_application_env
from kedro_airflow_k8s.spark.spec import OperatorSpec

API_VERSION = "sparkoperator.k8s.io/v1beta2"
OPERATOR = "airflow.providers.cncf.kubernetes.operators.spark_kubernetes.SparkKubernetesOperator"


class SparkOperatorFactory(SparkFactory):
    """One SparkKubernetesOperator per Spark group; the Spark Operator runs the application.

    The image holds the project under ``/opt/<package>`` as for the k8s backend.
    """

    def submit(self, context: FactoryContext, group: SparkGroup) -> OperatorSpec:
        config = context.run_config
        settings = config.spark.spark_operator
        main = config.spark.main_python_file or f"local://{context.image_project_home}/spark_run.py"
        manifest = application(group, context, main)
        with_application_env(manifest["spec"], context.driver_env)
        kwargs = {
            "task_id": group.task_id,
            "doc_md": group.doc(),
            "name": manifest["metadata"]["name"],
            "namespace": manifest["metadata"]["namespace"],
            "kubernetes_conn_id": settings.kubernetes_conn_id,
            "delete_on_termination": settings.delete_on_termination,
            "startup_timeout_seconds": config.startup_timeout,
            "template_spec": manifest,
        }
        return OperatorSpec(OPERATOR, kwargs)


def application(group: SparkGroup, context: FactoryContext, main: str) -> dict[str, Any]:
    """The SparkApplication manifest of ``group``, as spec values."""
    config = context.run_config
    spark = config.spark
    settings = spark.spark_operator
    spec: dict[str, Any] = {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "image": spark.image or config.image,
        "imagePullPolicy": config.image_pull_policy,
        "mainApplicationFile": main,
        "arguments": group.application_args(project_path_args(context, context.image_project_home)),
        "sparkVersion": settings.spark_version,
        "restartPolicy": {"type": settings.restart_policy},
        "sparkConf": layers.layered(
            layers.io_layer(group.dataset_paths.values()),
            layers.python_layer(spark),
            spark.conf,
        ),
    }
    profile = group.profile
    account = spark.service_account_name or config.service_account_name
    spec["driver"] = {**driver_size(profile), **({"serviceAccount": account} if account else {})}
    spec["driver"].update(pod_settings(config))
    spec["executor"] = {**executor_size(profile), **pod_settings(config)}
    spec = deep_merge(spec, spark.submit_args)
    metadata = {"name": k8s_name(group.task_id), "namespace": spark.namespace or config.namespace}
    if spark.labels:
        metadata["labels"] = dict(spark.labels)
    return {
        "apiVersion": API_VERSION,
        "kind": "SparkApplication",
        "metadata": metadata,
        "spec": spec,
    }


def pod_settings(config: RunConfig) -> dict[str, Any]:
    """Labels, node selector, env and secrets shared by the driver and the executors."""
    spark = config.spark
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in spark.env_vars.items()]
    env_from: list[dict[str, Any]] = []
    secrets: list[dict[str, Any]] = []
    for secret in spark.secrets:
        if secret.deploy_type == "volume":
            secrets.append(
                {"name": secret.secret, "path": secret.deploy_target, "secretType": "Generic"}
            )
        elif secret.key:
            ref = {"secretKeyRef": {"name": secret.secret, "key": secret.key}}
            env.append({"name": secret.deploy_target, "valueFrom": ref})
        else:
            env_from.append({"secretRef": {"name": secret.secret}})
    settings: dict[str, Any] = {}
    optional = {
        "labels": dict(spark.labels),
        "nodeSelector": dict(spark.node_selectors),
        "env": env,
        "envFrom": env_from,
        "secrets": secrets,
    }
    settings.update((key, value) for key, value in optional.items() if value)
    return settings


def driver_size(profile: SparkResources) -> dict[str, Any]:
    size = {"cores": profile.driver_cores, "memory": profile.driver_memory}
    return {key: value for key, value in size.items() if value is not None}


def executor_size(profile: SparkResources) -> dict[str, Any]:
    size = {
        "cores": profile.executor_cores,
        "memory": profile.executor_memory,
        "instances": profile.executor_instances,
    }
    return {key: value for key, value in size.items() if value is not None}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
