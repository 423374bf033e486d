"""The variables every Spark driver gets (the MLflow run's), through each backend's own mechanism.

``driver_env`` values are text for Airflow's templated fields, meant to render (the
MLflow run id is pulled from XCom for each DAG run); the user's own values beside
them are neutralised, so they reach the driver exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro_airflow_k8s.source import literal, neutralise_all


def submit_env_vars(user_env: Mapping[str, str], driver_env: Mapping[str, str]) -> str | None:
    """Source of SparkSubmitOperator's ``env_vars`` (k8s, standalone), or None when empty.

    SparkSubmitHook passes them as ``spark.kubernetes.driverEnv.*`` to a k8s master and
    as the environment of spark-submit, where the client-mode driver runs, otherwise.
    """
    merged = {**neutralise_all(dict(user_env)), **driver_env}
    return literal(merged, 4) if merged else None


def with_application_env(safe_spec: dict[str, Any], driver_env: Mapping[str, str]) -> None:
    """Add ``driver_env`` to ``spec.driver.env`` of a neutralised SparkApplication spec."""
    if not driver_env:
        return
    driver = safe_spec.setdefault("driver", {})
    env = [item for item in driver.get("env", []) if item.get("name") not in driver_env]
    driver["env"] = env + [{"name": name, "value": value} for name, value in driver_env.items()]


def with_cluster_env(safe_cluster_config: dict[str, Any], driver_env: Mapping[str, str]) -> None:
    """Add ``driver_env`` to a neutralised Dataproc ClusterConfig as ``spark-env:`` properties.

    Dataproc runs PySpark drivers in client mode on the master node, where no job field
    sets their environment; spark-env.sh, written from these cluster properties, does.
    The cluster belongs to one DAG run, so its environment can hold that run's values.
    """
    if not driver_env:
        return
    software = safe_cluster_config.setdefault("software_config", {})
    properties = software.setdefault("properties", {})
    properties.update({f"spark-env:{name}": value for name, value in driver_env.items()})
