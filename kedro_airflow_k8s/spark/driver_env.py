"""The variables every Spark driver gets (the MLflow run's), through each backend's own mechanism.

``driver_env`` values are Templates, meant to render (the MLflow run id is pulled from
XCom for each DAG run); the user's own values beside them are plain text, which reaches
the driver exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro_airflow_k8s.spark.spec import Template


def submit_env_vars(
    user_env: Mapping[str, str], driver_env: Mapping[str, Template]
) -> dict[str, Any]:
    """SparkSubmitOperator's ``env_vars`` (k8s, standalone).

    SparkSubmitHook passes them as ``spark.kubernetes.driverEnv.*`` to a k8s master and
    as the environment of spark-submit, where the client-mode driver runs, otherwise.
    """
    return {**user_env, **driver_env}


def with_application_env(spec: dict[str, Any], driver_env: Mapping[str, Template]) -> None:
    """Add ``driver_env`` to ``spec.driver.env`` of a SparkApplication spec."""
    if not driver_env:
        return
    driver = spec.setdefault("driver", {})
    env = [item for item in driver.get("env", []) if item.get("name") not in driver_env]
    driver["env"] = env + [{"name": name, "value": value} for name, value in driver_env.items()]


def with_cluster_env(cluster_config: dict[str, Any], driver_env: Mapping[str, Template]) -> None:
    """Add ``driver_env`` to a Dataproc ClusterConfig as ``spark-env:`` properties.

    Dataproc runs PySpark drivers in client mode on the master node, where no job field
    sets their environment; spark-env.sh, written from these cluster properties, does.
    The cluster belongs to one DAG run, so its environment can hold that run's values.
    """
    if not driver_env:
        return
    software = cluster_config.setdefault("software_config", {})
    properties = software.setdefault("properties", {})
    properties.update({f"spark-env:{name}": value for name, value in driver_env.items()})
