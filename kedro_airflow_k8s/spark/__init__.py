"""Spark backends: one module per backend, each a SparkFactory returning operator specs."""

from __future__ import annotations

from kedro_airflow_k8s.spark.base import (
    ArtifactUrls,
    FactoryContext,
    SparkFactory,
    SparkGroup,
    SparkOperatorFactoryBase,
)
from kedro_airflow_k8s.spark.spec import Expression, OperatorSpec, Output, Template

__all__ = [
    "ArtifactUrls",
    "Expression",
    "FactoryContext",
    "OperatorSpec",
    "Output",
    "SparkFactory",
    "SparkGroup",
    "SparkOperatorFactoryBase",
    "Template",
]
