"""What the built-in backends' factories share: argument and name helpers."""

from __future__ import annotations

from kedro_airflow_k8s.naming import dns_label
from kedro_airflow_k8s.source import neutralise_template
from kedro_airflow_k8s.spark.base import FactoryContext, SparkGroup
from kedro_airflow_k8s.spark.spec import Template


def project_path_args(context: FactoryContext, default: str | None) -> list[str]:
    """``--project-path``: run_config.spark.project_path, else ``default`` (if any)."""
    path = getattr(context.spark, "project_path", None) or default
    return ["--project-path", path] if path else []


def k8s_name(text: str, limit: int = 50) -> str:
    """A DNS-1123 label from ``text`` (Spark application and pod names)."""
    return dns_label(text, limit, fallback="kedro-spark")


def application_args(group: SparkGroup, extra: list[str] | None = None) -> list[str]:
    """For string factories: the entry script's arguments as text for a templated field, the
    ``--params`` macros and the trigger params template rendering, the rest as written."""
    return [
        arg.text if isinstance(arg, Template) else neutralise_template(arg)
        for arg in group.application_args(extra or [])
    ]
