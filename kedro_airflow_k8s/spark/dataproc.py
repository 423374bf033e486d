"""Google Dataproc backend: a cluster per DAG run, one PySpark job per Spark group."""

from __future__ import annotations

import json
import re
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.naming import ascii_slug
from kedro_airflow_k8s.source import literal, neutralise_all
from kedro_airflow_k8s.spark import cluster
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark.base import SparkGroup
from kedro_airflow_k8s.spark.builtin import (
    BuiltinFactory,
    call,
    doc_literal,
    project_path_args,
    safe_args,
    tlit,
)
from kedro_airflow_k8s.spark.driver_env import with_cluster_env
from kedro_airflow_k8s.spark.registry import BACKENDS

OPERATORS = "airflow.providers.google.cloud.operators.dataproc"
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


class DataprocFactory(BuiltinFactory):
    """Create a cluster that runs the init script, submit PySpark jobs, delete the cluster.

    The init script installs the project wheel and conf under ``$PROJECT_HOME`` on
    every node; the jobs run the uploaded entry script there.
    """

    @property
    def imports_statement(self) -> str:
        names = ("DataprocCreateClusterOperator", "DataprocDeleteClusterOperator")
        names += ("DataprocSubmitJobOperator",)
        return "\n".join([cluster.IMPORTS] + [f"from {OPERATORS} import {name}" for name in names])

    def preamble(self, project_name: str, config: RunConfig) -> str:
        return cluster.preamble(config.spark, project_name)

    def dag_arguments(self, project_name: str, config: RunConfig) -> dict[str, str]:
        return cluster.dag_arguments()

    def create_cluster_operator(
        self,
        project_name: str,
        config: RunConfig,
        init_script_path: str | None,
        cluster_config: dict[str, Any],
    ) -> str:
        settings = config.spark.dataproc
        if not init_script_path:
            raise UserError(
                "the Dataproc cluster needs the init script under run_config.spark.artifacts_path, "
                "but its URL is unknown: let compile build the Spark artifacts"
            )
        body = cluster_config_with(cluster_config, init_script_path, settings.idle_delete_ttl)
        labels = checked_labels({**config.spark.labels, **settings.labels})
        arguments = [("task_id", literal("create_spark_cluster")), *self._location(config)]
        safe_body = neutralise_all(body)
        with_cluster_env(safe_body, self.context.driver_env)
        arguments += [
            ("cluster_name", literal(cluster.CLUSTER_NAME)),
            ("cluster_config", literal(safe_body, 4)),
        ]
        if labels:
            arguments.append(("labels", tlit(labels)))
        return call("DataprocCreateClusterOperator", arguments)

    def delete_cluster_operator(self, project_name: str, config: RunConfig) -> str:
        arguments = [("task_id", literal("delete_spark_cluster")), *self._location(config)]
        arguments.append(("cluster_name", literal(cluster.CLUSTER_NAME)))
        return call("DataprocDeleteClusterOperator", arguments)

    def submit_operator(
        self,
        project_name: str,
        node: SparkGroup,
        pipeline: str,
        config: RunConfig,
        main_python_file_path: str,
    ) -> str:
        job = self.job(node, config, main_python_file_path)
        arguments = [("task_id", literal(node.task_id)), ("doc_md", doc_literal(node))]
        arguments += [*self._location(config), ("job", job)]
        return call("DataprocSubmitJobOperator", arguments)

    def job(self, group: SparkGroup, config: RunConfig, main: str) -> str:
        """The ``job`` argument: a dataproc_v1.Job mapping, checked, as template-safe source."""
        spark = config.spark
        properties = layers.layered(
            layers.resources_layer(layers.resource_profile(group, spark)),
            layers.io_layer(
                layers.group_filepaths(group, self.context.dataset_paths),
                native=BACKENDS["dataproc"].native_filesystems,
            ),
            layers.python_layer(spark),
            spark.conf,
        )
        args = group.kedro_arguments() + project_path_args(config, None)
        pyspark_job = {"main_python_file_uri": main, "args": args, "properties": properties}
        pyspark_job.update(normalised("PySparkJob", spark.submit_args, "submit_args"))
        job_id = f"{job_slug(group.task_id)}-{cluster.CLUSTER_NAME}-{{{{ ti.try_number }}}}"
        reference = {"job_id": job_id}
        if spark.dataproc.project_id:
            reference["project_id"] = spark.dataproc.project_id
        job = {
            "reference": reference,
            "placement": {"cluster_name": cluster.CLUSTER_NAME},
            "pyspark_job": pyspark_job,
        }
        validate("Job", job, "submit_args")
        # Only the run-scoped names and the --params macros are meant to render.
        safe = {**job, "pyspark_job": neutralise_all(pyspark_job)}
        safe["pyspark_job"]["args"] = safe_args(
            pyspark_job["args"], group.params, group.trigger_params
        )
        return literal(safe, 4)

    def _location(self, config: RunConfig) -> list[tuple[str, str]]:
        settings = config.spark.dataproc
        arguments = []
        if settings.project_id:
            arguments.append(("project_id", tlit(settings.project_id)))
        arguments += [
            ("region", tlit(settings.region)),
            ("gcp_conn_id", tlit(settings.gcp_conn_id)),
        ]
        if settings.impersonation_chain:
            arguments.append(("impersonation_chain", tlit(settings.impersonation_chain)))
        return arguments


def check(config: RunConfig) -> None:
    """The Dataproc section's labels, ClusterConfig and PySparkJob fields, checked with the
    Dataproc client's own message classes; UserError naming the key."""
    spark = config.spark
    checked_labels({**spark.labels, **spark.dataproc.labels})
    normalised("ClusterConfig", spark.cluster_config, "cluster_config")
    normalised("PySparkJob", spark.submit_args, "submit_args")


def cluster_config_with(user: dict[str, Any], init_url: str, idle_ttl: int) -> dict[str, Any]:
    """The user's ClusterConfig (REST or Python spelling) plus our init action and idle TTL."""
    body = normalised("ClusterConfig", user, "cluster_config")
    lifecycle = body.setdefault("lifecycle_config", {})
    lifecycle.setdefault("idle_delete_ttl", f"{idle_ttl}s")
    actions = body.setdefault("initialization_actions", [])
    actions.append({"executable_file": init_url})
    validate("ClusterConfig", body, "cluster_config")
    return body


def normalised(message: str, value: dict[str, Any], key: str) -> dict[str, Any]:
    """``value`` parsed as the dataproc_v1 ``message`` and written back with Python field names.

    Unknown fields, bad enum values and wrong types are errors naming ``key``.
    """
    cls = _message_class(message)
    try:
        parsed = cls.from_json(json.dumps(value))
    except Exception as error:  # noqa: BLE001 - protobuf raises ParseError and friends
        raise UserError(_invalid(message, key, error)) from None
    options = {"preserving_proto_field_name": True, "use_integers_for_enums": False}
    try:
        return cls.to_dict(parsed, always_print_fields_with_no_presence=False, **options)
    except TypeError:  # protobuf < 5 names the option differently
        return cls.to_dict(parsed, including_default_value_fields=False, **options)


def validate(message: str, value: dict[str, Any], key: str) -> None:
    try:
        _message_class(message)(value)
    except Exception as error:  # noqa: BLE001
        raise UserError(_invalid(message, key, error)) from None


def _invalid(message: str, key: str, error: Exception) -> str:
    return (
        f"run_config.spark.{key} is not a valid Dataproc {message}: {error}".rstrip(". ")
        + "; see https://cloud.google.com/dataproc/docs/reference/rest"
    )


def _message_class(message: str) -> Any:
    try:
        from google.cloud import dataproc_v1
    except ImportError:
        raise UserError(
            "the dataproc backend checks its configuration with google-cloud-dataproc: "
            "pip install apache-airflow-providers-google"
        ) from None
    return getattr(dataproc_v1, message)


def checked_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(value):
            raise UserError(
                f"Dataproc label {key!r}: {value!r} is not valid; keys start with a lowercase "
                "letter and, like values, hold at most 63 lowercase letters, digits, _ and - "
                "(run_config.spark.labels, run_config.spark.dataproc.labels)"
            )
    return labels


def job_slug(task_id: str) -> str:
    return ascii_slug(task_id, "A-Za-z0-9_-", "-").strip("-")[:40] or "kedro"
