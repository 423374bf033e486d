"""Public home of the operator-factory API, at the import path the seed plugin used."""

from kedro_airflow_k8s.spark.base import SparkGroup, SparkOperatorFactoryBase

__all__ = ["SparkGroup", "SparkOperatorFactoryBase"]
