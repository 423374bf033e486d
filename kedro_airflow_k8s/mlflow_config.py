"""The MLflow section of run_config: the tracking server, the experiment, the run's name."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from kedro_airflow_k8s.config_types import StrictModel, Text

MLFLOW_TAG_KEY = re.compile(r"[\w\-. /]{1,250}")


class MlflowConfig(StrictModel):
    """One MLflow run per DAG run: the tracking server, the experiment and the run's name."""

    tracking_uri: str | None = Field(
        default=None,
        description="URL of the MLflow tracking server the tasks log to, e.g. "
        "http://mlflow.mlflow.svc:5000. Without conn_id the start and end tasks use it too.",
    )
    conn_id: str | None = Field(
        default=None,
        description="Airflow HTTP connection to the tracking server for the start and end tasks, "
        "with its credentials (login and password, or headers in extra). Without tracking_uri "
        "the tasks log to the connection's URL.",
    )
    experiment_name: str | None = Field(
        default=None,
        description="MLflow experiment of the runs, created if missing; the DAG id if unset.",
    )
    run_name: str = Field(
        default="{{ dag.dag_id }} {{ run_id }}",
        description="Name of each MLflow run: an Airflow template, rendered for each DAG run.",
    )
    tags: dict[str, Text] = Field(
        default_factory=dict,
        description="Tags of every MLflow run, besides the DAG id, run id, commit and plugin "
        "version the start task sets.",
    )

    @field_validator("tracking_uri")
    @classmethod
    def _http_without_credentials(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"'{value}' is not the http(s):// URL of an MLflow tracking server; the DAG "
                "talks to MLflow over its REST API, so file, sqlite and databricks URIs cannot "
                "be used here"
            )
        if parts.username or parts.password:
            raise ValueError(
                "the URL holds credentials, which would be written into the DAG file; put them "
                "in an Airflow HTTP connection and name it with conn_id"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not MLFLOW_TAG_KEY.fullmatch(key):
                raise ValueError(
                    f"{key!r} is not an MLflow tag key (1 to 250 letters, digits, and _ - . / "
                    "or spaces)"
                )
        return value

    @model_validator(mode="after")
    def _server_known(self) -> MlflowConfig:
        if not self.tracking_uri and not self.conn_id:
            raise ValueError(
                "set tracking_uri (the MLflow server's URL) or conn_id (an Airflow HTTP "
                "connection to it), or both"
            )
        return self
