"""Public home of the operator-factory API, at the import path the seed plugin used."""

from kedro_airflow_k8s.spark import *  # noqa: F403 - the factory API, re-exported
from kedro_airflow_k8s.spark import __all__  # noqa: F401
