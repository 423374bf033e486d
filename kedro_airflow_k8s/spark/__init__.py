"""Spark backends: one module per backend, each a SparkOperatorFactoryBase."""

from __future__ import annotations

from kedro_airflow_k8s.spark.base import SparkGroup, SparkOperatorFactoryBase

__all__ = ["SparkGroup", "SparkOperatorFactoryBase"]
