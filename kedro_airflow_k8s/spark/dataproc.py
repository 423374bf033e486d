"""Google Dataproc backend: a cluster per DAG run, one PySpark job per Spark group."""

from __future__ import annotations

import json
import re
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.naming import ascii_slug
from kedro_airflow_k8s.spark import conf as layers
from kedro_airflow_k8s.spark.base import FactoryContext, SparkFactory, SparkGroup
from kedro_airflow_k8s.spark.builtin import project_path_args
from kedro_airflow_k8s.spark.driver_env import with_cluster_env
from kedro_airflow_k8s.spark.registry import BACKENDS
from kedro_airflow_k8s.spark.spec import OperatorSpec, Template

OPERATORS = "airflow.providers.google.cloud.operators.dataproc"
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


class DataprocFactory(SparkFactory):
    """Create a cluster that runs the init script, submit PySpark jobs, delete the cluster.

    The init script installs the project wheel and conf under ``$PROJECT_HOME`` on
    every node; the jobs run the uploaded entry script there.
    """

    def create_cluster(self, context: FactoryContext) -> OperatorSpec:
        spark = context.spark
        init = context.artifacts.init
        if not init:
            raise UserError(
                "the Dataproc cluster needs the init script under run_config.spark.artifacts_path, "
                "but its URL is unknown: let compile build the Spark artifacts"
            )
        body: dict[str, Any] = cluster_config_with(
            spark.cluster_config, init, spark.dataproc.idle_delete_ttl
        )
        with_cluster_env(body, context.driver_env)
        labels = checked_labels({**spark.labels, **spark.dataproc.labels})
        kwargs: dict[str, Any] = {"task_id": "create_spark_cluster", **location(context)}
        kwargs |= {"cluster_name": context.cluster_name, "cluster_config": body}
        if labels:
            kwargs["labels"] = labels
        return OperatorSpec(f"{OPERATORS}.DataprocCreateClusterOperator", kwargs, "setup")

    def delete_cluster(self, context: FactoryContext) -> OperatorSpec:
        kwargs = {"task_id": "delete_spark_cluster", **location(context)}
        kwargs["cluster_name"] = context.cluster_name
        return OperatorSpec(f"{OPERATORS}.DataprocDeleteClusterOperator", kwargs, "teardown")

    def submit(self, context: FactoryContext, group: SparkGroup) -> OperatorSpec:
        kwargs = {"task_id": group.task_id, "doc_md": group.doc(), **location(context)}
        kwargs["job"] = job(context, group)
        return OperatorSpec(f"{OPERATORS}.DataprocSubmitJobOperator", kwargs)


def job(context: FactoryContext, group: SparkGroup) -> dict[str, Any]:
    """The ``job`` argument: a dataproc_v1.Job mapping, checked by the Dataproc client."""
    spark = context.spark
    properties = layers.layered(
        layers.resources_layer(group.profile),
        layers.io_layer(
            group.dataset_paths.values(), native=BACKENDS["dataproc"].native_filesystems
        ),
        layers.python_layer(spark),
        spark.conf,
    )
    extra = project_path_args(context, None)
    pyspark_job = {
        "main_python_file_uri": context.entry_script(),
        "args": group.kedro_arguments() + extra,
        "properties": properties,
    }
    pyspark_job.update(normalised("PySparkJob", spark.submit_args, "submit_args"))
    job_id = Template(job_slug(group.task_id) + "-") + context.cluster_name
    job_id += Template("-{{ ti.try_number }}")
    reference = {"job_id": job_id.text}
    if spark.dataproc.project_id:
        reference["project_id"] = spark.dataproc.project_id
    checked = {
        "reference": reference,
        "placement": {"cluster_name": context.cluster_name.text},
        "pyspark_job": pyspark_job,
    }
    validate("Job", checked, "submit_args")
    # Only the run-scoped names and the --params macros are meant to render.
    if pyspark_job["args"] == group.kedro_arguments() + extra:
        pyspark_job["args"] = group.application_args(extra)
    return {
        **checked,
        "reference": {**reference, "job_id": job_id},
        "placement": {"cluster_name": context.cluster_name},
    }


def location(context: FactoryContext) -> dict[str, Any]:
    """project_id, region, connection and impersonation of every Dataproc operator."""
    settings = context.spark.dataproc
    kwargs: dict[str, Any] = {}
    if settings.project_id:
        kwargs["project_id"] = settings.project_id
    kwargs |= {"region": settings.region, "gcp_conn_id": settings.gcp_conn_id}
    if settings.impersonation_chain:
        kwargs["impersonation_chain"] = settings.impersonation_chain
    return kwargs


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
