"""kedro-airflow-k8s: Kedro pipelines as Airflow 3 DAGs of pods and Spark applications."""

__version__ = "0.1.0"
