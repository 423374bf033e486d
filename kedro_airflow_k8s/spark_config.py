"""The run_config.spark section: one model per Spark backend, chosen by its ``type`` key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from kedro_airflow_k8s.config_types import (
    SPARK_TAG,
    NameList,
    Quantity,
    SecretRef,
    StrictModel,
    Text,
)
from kedro_airflow_k8s.storage_options import StorageOptions

SPARK_RESOURCES_TAG_PREFIX = "kedro-airflow-k8s.spark-resources."


class SparkResources(StrictModel):
    """Driver and executor sizes of one Spark application."""

    driver_cores: int | None = Field(default=None, ge=1)
    """spark.driver.cores."""
    driver_memory: Quantity | None = None
    """spark.driver.memory, e.g. 2g."""
    executor_cores: int | None = Field(default=None, ge=1)
    """spark.executor.cores."""
    executor_memory: Quantity | None = None
    """spark.executor.memory, e.g. 4g."""
    executor_instances: int | None = Field(default=None, ge=1)
    """spark.executor.instances."""


class DataprocSettings(StrictModel):
    """Google Dataproc connection settings."""

    project_id: str | None = Field(default=None, description="GCP project; connection's if unset.")
    region: str = "europe-west1"
    """Dataproc region of the cluster."""
    gcp_conn_id: str = "google_cloud_default"
    """Airflow connection to Google Cloud."""
    idle_delete_ttl: int = Field(
        default=3600,
        ge=600,
        description="Seconds of idleness after which Dataproc deletes the cluster by itself.",
    )
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels of the cluster (lowercase keys and values)."""
    impersonation_chain: str | None = None
    """Service account to impersonate for the Dataproc calls."""


class SparkOperatorSettings(StrictModel):
    """Spark Operator (SparkApplication CRD) settings."""

    kubernetes_conn_id: str = "kubernetes_default"
    """Airflow connection to the Kubernetes cluster."""
    spark_version: str = "4.0.0"
    """sparkVersion of the SparkApplication."""
    restart_policy: Literal["Never", "OnFailure", "Always"] = "Never"
    """restartPolicy type of the SparkApplication."""
    delete_on_termination: bool = True
    """Delete the SparkApplication when it finishes."""


# -- the parts the backends share ------------------------------------------------------------


class SparkCommonConfig(StrictModel):
    """Keys of run_config.spark that every backend has, none included: which nodes are Spark
    nodes and how they are grouped into tasks."""

    type: str = "none"
    """The Spark backend; each backend's model narrows it to its own name."""
    tags: NameList = Field(
        default_factory=list, description=f"Node tags that mark Spark nodes, besides {SPARK_TAG}."
    )
    dataset_types: NameList = Field(
        default_factory=list,
        description="Fully qualified dataset classes that mark Spark nodes, besides the built-in.",
    )
    group_spark_nodes: bool = Field(
        default=True, description="false gives each Spark node its own Spark task."
    )
    merge_adjacent: bool = Field(
        default=True,
        description="After grouping, merge Spark tasks joined by a dataset wherever that "
        "keeps the DAG acyclic and their spark-resources tags agree: fewer Spark "
        "applications. false keeps one application per group.",
    )
    conf_include: NameList = Field(
        default_factory=list,
        description="Globs (relative to conf/base and conf/<env>) of extra config files the "
        "conf archive ships, besides those Kedro's config loader reads, e.g. 'sql/**/*.sql'. "
        "conf/local and credentials files never ship.",
    )

    @property
    def backend(self) -> str:
        """The backend's registry name: ``type``, with ``kubernetes`` spelled ``k8s``."""
        return "k8s" if self.type == "kubernetes" else self.type


class SparkApplicationConfig(SparkCommonConfig):
    """Keys of every backend that runs Spark groups as Spark applications (all but none):
    the artifacts, the entry script, the Spark conf and sizes."""

    operator_factory: str | None = Field(
        default=None,
        description="package.module.Class of a subclass of this backend's built-in factory, "
        "to change what it generates (type custom: any SparkOperatorFactoryBase subclass).",
    )
    project_name: str | None = Field(default=None, description="Defaults to run_name.")
    artifacts_path: str | None = Field(
        default=None, description="fsspec URL where upload-pipeline puts the Spark artifacts."
    )
    artifacts_storage_options: StorageOptions = Field(default_factory=dict)
    """fsspec storage options for artifacts_path (endpoint_url, profile, project, ...).
    Used only by the machine that publishes; credentials come from its environment or a
    named profile, never from this file."""
    user_init_path: str | None = Field(
        default=None, description="Shell script prepended to the init script, relative to src/."
    )
    user_post_init_path: str | None = Field(
        default=None, description="Shell script appended to the init script, relative to src/."
    )
    main_python_file: str | None = Field(
        default=None,
        description="The entry script (spark_run.py) the Spark driver runs: a path, a URL or "
        "local:///path in the image. Defaults to the built artifact (dataproc, standalone, "
        "k8s client mode) or local:///opt/<package>/spark_run.py (k8s cluster mode, "
        "spark-operator).",
    )
    runner: str = Field(default="ThreadRunner", description="Kedro runner inside Spark.")
    python: str | None = Field(
        default=None,
        description="Python interpreter of the driver and executors, as a path where they run.",
    )
    project_path: str | None = Field(
        default=None,
        description="Project directory where the Spark driver runs, passed as --project-path. "
        "Defaults: the directory compile ran in (standalone, k8s client mode), /opt/<package> "
        "in the image (k8s, spark-operator), $PROJECT_HOME from the init script (dataproc).",
    )
    env_vars: dict[str, Text] = Field(default_factory=dict)
    """Environment of the driver and executors."""
    resources: dict[str, SparkResources] = Field(
        default_factory=dict,
        description="Named Spark resource profiles; a group takes the profile tagged "
        f"{SPARK_RESOURCES_TAG_PREFIX}<name> on its nodes, else __default__.",
    )
    conf: dict[str, Text] = Field(
        default_factory=dict, description="Spark conf; applied last, so it wins."
    )

    @field_validator("operator_factory")
    @classmethod
    def _dotted_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", value):
            raise ValueError(f"'{value}' is not a dotted path like my_package.factories.MyFactory")
        return value


class KubernetesPodKeys(StrictModel):
    """Keys of the backends whose driver and executors are Kubernetes pods."""

    image: str | None = Field(
        default=None, description="Spark image; defaults to run_config.image."
    )
    namespace: str | None = Field(default=None, description="Defaults to run_config.namespace.")
    service_account_name: str | None = None
    """Service account of the driver and executor pods."""
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels of the driver and executor pods."""
    node_selectors: dict[str, Text] = Field(default_factory=dict)
    """Node labels the driver and executor pods must be scheduled on."""
    secrets: list[SecretRef] = Field(default_factory=list)
    """Kubernetes secrets for the driver and executors (env: secretKeyRef; volume: mounted)."""


class SparkSubmitKeys(StrictModel):
    """Keys of the backends that spark-submit to a master from the Airflow worker."""

    master: str | None = Field(
        default=None, description="Spark master URL: spark://host:port, local[N], k8s://https://..."
    )
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection holding the Spark master. Unset: the DAG defines its "
        "own connection, kedro_spark_<dag id>, from `master`.",
    )
    submit_args: dict[str, Any] = Field(
        default_factory=dict,
        description="SparkSubmitOperator arguments (packages, jars, py_files, ...); they win "
        "over the generated ones.",
    )


# -- one model per backend -------------------------------------------------------------------


class NoSparkConfig(SparkCommonConfig):
    """type none: each Spark group runs like any other task (one pod or local command, Spark
    in local mode inside it)."""

    type: Literal["none"] = "none"
    """Backend for Spark groups."""


class DataprocConfig(SparkApplicationConfig):
    """type dataproc: a Google Dataproc cluster per DAG run, one PySpark job per Spark group."""

    type: Literal["dataproc"]
    """Backend for Spark groups."""
    cluster_name: str | None = Field(
        default=None, description="Base of the per-run cluster name; defaults to project_name."
    )
    cluster_config: dict[str, Any] = Field(
        default_factory=dict, description="Dataproc ClusterConfig, as its REST API spells it."
    )
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels of the cluster, with dataproc.labels."""
    submit_args: dict[str, Any] = Field(
        default_factory=dict,
        description="PySparkJob fields (jar_file_uris, file_uris, ...); they win over the "
        "generated ones.",
    )
    dataproc: DataprocSettings = Field(default_factory=DataprocSettings)
    """Dataproc connection settings."""


class KubernetesSparkConfig(SparkApplicationConfig, KubernetesPodKeys, SparkSubmitKeys):
    """type k8s (or kubernetes): spark-submit against a k8s:// master; driver and executors
    are pods of the Spark image."""

    type: Literal["k8s", "kubernetes"]
    """Backend for Spark groups."""
    deploy_mode: Literal["cluster", "client"] = "cluster"
    """cluster runs the driver in a pod; client runs it on the Airflow worker."""


class SparkOperatorConfig(SparkApplicationConfig, KubernetesPodKeys):
    """type spark-operator: one SparkApplication per Spark group, run by the Spark Operator."""

    type: Literal["spark-operator"]
    """Backend for Spark groups."""
    submit_args: dict[str, Any] = Field(
        default_factory=dict,
        description="SparkApplication spec fields (deps, sparkConfigMap, ...), merged over "
        "the generated spec.",
    )
    spark_operator: SparkOperatorSettings = Field(default_factory=SparkOperatorSettings)
    """Spark Operator settings."""


class StandaloneConfig(SparkApplicationConfig, SparkSubmitKeys):
    """type standalone: spark-submit from the Airflow worker to spark://host:port or local[N],
    the driver on the worker."""

    type: Literal["standalone"]
    """Backend for Spark groups."""
    deploy_mode: Literal["client"] = "client"
    """Spark standalone runs Python applications in client mode only."""

    @field_validator("deploy_mode", mode="before")
    @classmethod
    def _client_only(cls, value: Any) -> Any:
        if value != "client":
            raise ValueError(
                "Spark standalone runs Python applications in client mode only; remove the key "
                "or set it to client"
            )
        return value


class CustomSparkConfig(SparkApplicationConfig):
    """type custom: the operators come from your own factory class."""

    type: Literal["custom"]
    """Backend for Spark groups."""
    operator_factory: str = Field(
        description="package.module.Class of a SparkOperatorFactoryBase subclass."
    )  # type: ignore[assignment]
    cluster_name: str | None = Field(
        default=None, description="Base of the per-run cluster name; defaults to project_name."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of your factory, passed to it as they are (string-API factories "
        "receive them as create_cluster_operator's cluster_config).",
    )


BACKEND_MODELS: dict[str, type[SparkCommonConfig]] = {
    "none": NoSparkConfig,
    "dataproc": DataprocConfig,
    "k8s": KubernetesSparkConfig,
    "spark-operator": SparkOperatorConfig,
    "standalone": StandaloneConfig,
    "custom": CustomSparkConfig,
}
TYPE_NAMES = ("none", "dataproc", "k8s", "kubernetes", "spark-operator", "standalone", "custom")


def _backend_tag(value: Any) -> str | None:
    # Without `type`, the section is the none backend's.
    kind = value.get("type", "none") if isinstance(value, Mapping) else getattr(value, "type", None)
    return "k8s" if kind == "kubernetes" else kind


SparkConfig = Annotated[
    Annotated[NoSparkConfig, Tag("none")]
    | Annotated[DataprocConfig, Tag("dataproc")]
    | Annotated[KubernetesSparkConfig, Tag("k8s")]
    | Annotated[SparkOperatorConfig, Tag("spark-operator")]
    | Annotated[StandaloneConfig, Tag("standalone")]
    | Annotated[CustomSparkConfig, Tag("custom")],
    Discriminator(
        _backend_tag,
        custom_error_type="spark_type",
        custom_error_message="Input should be " + ", ".join(f"'{name}'" for name in TYPE_NAMES),
    ),
]
"""run_config.spark: the model of the backend its ``type`` names."""


def backends_with_key(key: str) -> list[str]:
    """The backends whose section has ``key``, in registry order."""
    return [name for name, model in BACKEND_MODELS.items() if key in model.model_fields]


def foreign_key_hint(backend: str, key: str) -> str | None:
    """Why ``key`` is refused in the ``backend`` section, when another backend has it."""
    owners = [name for name in backends_with_key(key) if name != backend]
    if not owners:
        return None
    names = ", ".join(owners)
    kind = "backend" if len(owners) == 1 else "backends"
    where = "move it under run_config.spark.options" if backend == "custom" else "remove it"
    return (
        f"belongs to the {names} {kind}, not to type '{backend}'; {where}, or set "
        "run_config.spark.type to the backend it is for"
    )


def with_env_section(merged: dict[str, Any], base_section: Any, env_section: Any) -> dict[str, Any]:
    """``merged`` (conf/base with an env merged key by key) where an env that changes the
    Spark backend starts that backend's section afresh.

    When ``env_section`` (the env's own run_config.spark) sets a ``type`` other than the one
    of ``base_section``, the base's keys belong to another backend (a master, a local
    interpreter, a project path of this machine), so only the env's keys are kept. The values
    are taken from ``merged``, where interpolations are resolved.
    """
    if not isinstance(env_section, Mapping) or "type" not in env_section:
        return merged
    base_type = base_section.get("type", "none") if isinstance(base_section, Mapping) else "none"
    if _canonical(base_type) == _canonical(env_section["type"]):
        return merged
    run_config = merged.get("run_config")
    if not isinstance(run_config, dict) or not isinstance(run_config.get("spark"), Mapping):
        return merged
    return {
        **merged,
        "run_config": {**run_config, "spark": _restricted(run_config["spark"], env_section)},
    }


def _canonical(kind: Any) -> Any:
    return "k8s" if kind == "kubernetes" else kind


def _restricted(merged: Mapping[str, Any], shape: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``shape`` (recursively, through mappings) with their values in ``merged``."""
    kept: dict[str, Any] = {}
    for key, value in shape.items():
        found = merged.get(key, value)
        if isinstance(value, Mapping) and isinstance(found, Mapping):
            kept[key] = _restricted(found, value)
        else:
            kept[key] = found
    return kept
