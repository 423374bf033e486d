"""Pydantic models of conf/<env>/airflow-k8s.yml; validation errors name the key path."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kedro_airflow_k8s.airflow_rules import (
    check_key,
    check_max_active_runs,
    check_schedule,
    check_tag,
)
from kedro_airflow_k8s.errors import ConfigError

CONFIG_FILE = "airflow-k8s.yml"
DEFAULT_PROFILE = "__default__"
SPARK_TAG = "kedro-airflow-k8s.group.pyspark"
RESOURCES_TAG_PREFIX = "kedro-airflow-k8s.resources."
POD_TEMPLATE_TAG_PREFIX = "kedro-airflow-k8s.pod-template."
SPARK_RESOURCES_TAG_PREFIX = "kedro-airflow-k8s.spark-resources."
# Names Jinja reads as an operator or a constant in `{{ name }}`, never as a variable.
JINJA_KEYWORDS = frozenset({"not", "true", "false", "none", "True", "False", "None"})
# Which file a key path comes from, for error messages.
Locate = Callable[[Sequence[Any]], "str | None"]


def _to_str(value: Any) -> Any:
    # YAML reads `cpu: 1` as an int and `memory: 1.5` as a float; Kubernetes wants strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Quantity = Annotated[str, BeforeValidator(_to_str)]
Text = Annotated[str, BeforeValidator(_to_str)]
NameList = Annotated[list[str], BeforeValidator(_split_commas)]


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


class Toleration(StrictModel):
    """A Kubernetes toleration for the pod."""

    key: str | None = None
    """Taint key the toleration matches; all keys when unset with operator Exists."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """Equal matches key and value; Exists matches any value of the key."""
    value: Text | None = None
    """Taint value to match (operator Equal)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; all effects when unset."""
    toleration_seconds: int | None = None
    """How long a NoExecute taint is tolerated before eviction."""


class ResourceProfile(StrictModel):
    """Pod settings for the nodes tagged ``kedro-airflow-k8s.resources.<profile>``."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict, description="Container requests, e.g. {cpu: '1', memory: 2Gi}."
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict, description="Container limits, e.g. {memory: 4Gi, nvidia.com/gpu: 1}."
    )
    node_selectors: dict[str, Text] = Field(default_factory=dict)
    """Node labels the pod must be scheduled on, e.g. {pool: highmem}."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Taints the pod tolerates."""
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels added to the pod."""
    annotations: dict[str, Text] = Field(default_factory=dict)
    """Annotations added to the pod."""


class SecretRef(StrictModel):
    """A Kubernetes secret exposed to the pod as env variables or a mounted volume."""

    secret: str = Field(description="Name of the Kubernetes Secret object.")
    deploy_type: Literal["env", "volume"] = "env"
    """env: variables in the container; volume: files mounted at deploy_target."""
    deploy_target: str | None = Field(
        default=None,
        description="Env variable name (env) or mount path (volume). "
        "With deploy_type env and no key, every key of the secret becomes a variable.",
    )
    key: str | None = Field(default=None, description="One key of the secret; all keys if unset.")

    @model_validator(mode="after")
    def _volume_needs_path(self) -> SecretRef:
        if self.deploy_type == "volume" and not self.deploy_target:
            raise ValueError("a volume secret needs deploy_target: the path to mount it at")
        if self.deploy_type == "env" and self.key and not self.deploy_target:
            raise ValueError("an env secret with a key needs deploy_target: the variable name")
        return self


class PodTemplate(StrictModel):
    """A pod template for nodes tagged ``kedro-airflow-k8s.pod-template.<name>``."""

    file: str | None = Field(
        default=None, description="Path of a pod template YAML file on the Airflow worker."
    )
    spec: dict[str, Any] | None = Field(
        default=None, description="The pod template itself, as a mapping (apiVersion, kind, spec)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PodTemplate:
        if (self.file is None) == (self.spec is None):
            raise ValueError("set exactly one of 'file' and 'spec'")
        return self


class ExternalDependency(StrictModel):
    """Another DAG (or one of its tasks) this DAG waits for, as an ExternalTaskSensor."""

    dag_id: str
    """The DAG to wait for."""
    task_id: str | None = Field(default=None, description="Wait for the whole DAG if unset.")
    check_existence: bool = True
    """Fail at once when the awaited DAG or task does not exist."""
    execution_delta: int = Field(
        default=0, description="Minutes between this run's logical date and the awaited one."
    )
    timeout: int = Field(default=24 * 3600, ge=1, description="Seconds to wait before failing.")
    mode: Literal["poke", "reschedule"] = "reschedule"
    """reschedule frees the worker slot between checks; poke holds it."""

    @field_validator("dag_id")
    @classmethod
    def _dag_id(cls, value: str) -> str:
        return check_key(value, "a DAG id")

    @field_validator("task_id")
    @classmethod
    def _task_id(cls, value: str | None) -> str | None:
        return None if value is None else check_key(value, "a task id")


class LocalRunner(StrictModel):
    """Where the project lives on the Airflow worker when ``node_runner: local``."""

    project_path: str | None = Field(
        default=None,
        description="Project directory on the worker; defaults to the directory compile ran in.",
    )
    kedro_command: str = Field(default="kedro", description="The kedro executable to call.")
    env_vars: dict[str, Text] = Field(default_factory=dict)
    """Environment of the local `kedro run` commands, on top of run_config.env_vars."""


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


class SparkConfig(StrictModel):
    """How Spark groups run: the backend and its settings."""

    type: Literal[
        "none", "dataproc", "k8s", "kubernetes", "spark-operator", "standalone", "custom"
    ] = Field(
        default="none",
        description="Backend for Spark groups. 'none' runs each Spark group like any other "
        "task (one pod or local command, Spark in local mode inside it).",
    )
    project_name: str | None = Field(default=None, description="Defaults to run_name.")
    cluster_name: str | None = Field(
        default=None, description="Base of the per-run cluster name; defaults to project_name."
    )
    artifacts_path: str | None = Field(
        default=None, description="fsspec URL where upload-pipeline puts the Spark artifacts."
    )
    user_init_path: str | None = Field(
        default=None, description="Shell script prepended to the init script, relative to src/."
    )
    user_post_init_path: str | None = Field(
        default=None, description="Shell script appended to the init script, relative to src/."
    )
    cluster_config: dict[str, Any] = Field(
        default_factory=dict, description="Dataproc ClusterConfig, as its REST API spells it."
    )
    operator_factory: str | None = Field(
        default=None, description="package.module.Class of a SparkOperatorFactoryBase subclass."
    )
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
    master: str | None = Field(
        default=None, description="Spark master URL: spark://host:port, local[N], k8s://https://..."
    )
    deploy_mode: Literal["cluster", "client"] = "cluster"
    """cluster runs the driver on the cluster; client runs it where spark-submit runs."""
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection holding the Spark master (k8s, standalone). Unset: the "
        "DAG defines its own connection, kedro_spark_<dag id>, from `master`.",
    )
    main_python_file: str | None = Field(
        default=None,
        description="The entry script (spark_run.py) the Spark driver runs: a path, a URL or "
        "local:///path in the image. Defaults to the built artifact (dataproc, standalone, "
        "k8s client mode) or local:///opt/<package>/spark_run.py (k8s cluster mode, "
        "spark-operator).",
    )
    image: str | None = Field(
        default=None, description="Spark image; defaults to run_config.image."
    )
    namespace: str | None = Field(default=None, description="Defaults to run_config.namespace.")
    service_account_name: str | None = None
    """Service account of the driver and executor pods (k8s, spark-operator)."""
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels of the driver and executor pods, or of the Dataproc job."""
    node_selectors: dict[str, Text] = Field(default_factory=dict)
    """Node labels the driver and executor pods must be scheduled on."""
    secrets: list[SecretRef] = Field(default_factory=list)
    """Kubernetes secrets for the driver and executors (env: secretKeyRef; volume: mounted)."""
    env_vars: dict[str, Text] = Field(default_factory=dict)
    """Environment of the driver and executors."""
    resources: dict[str, SparkResources] = Field(
        default_factory=dict,
        description="Named Spark resource profiles; a group takes the profile tagged "
        "kedro-airflow-k8s.spark-resources.<name> on its nodes, else __default__.",
    )
    conf: dict[str, Text] = Field(
        default_factory=dict, description="Spark conf; applied last, so it wins."
    )
    submit_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra submit settings; they win over generated ones: SparkSubmitOperator "
        "arguments (k8s, standalone: packages, jars, py_files, ...), pyspark_job fields "
        "(dataproc: jar_file_uris, ...), SparkApplication spec fields (spark-operator: deps, ...).",
    )
    runner: str = Field(default="ThreadRunner", description="Kedro runner inside Spark.")
    python: str | None = Field(
        default=None, description="Python interpreter for the driver and executors."
    )
    project_path: str | None = Field(
        default=None,
        description="Project directory where the Spark driver runs, passed as --project-path. "
        "Defaults: the directory compile ran in (standalone), /opt/<package> in the image "
        "(k8s, spark-operator), $PROJECT_HOME from the init script (dataproc).",
    )
    dataproc: DataprocSettings = Field(default_factory=DataprocSettings)
    """Dataproc connection settings (type dataproc)."""
    spark_operator: SparkOperatorSettings = Field(default_factory=SparkOperatorSettings)
    """Spark Operator settings (type spark-operator)."""

    @field_validator("operator_factory")
    @classmethod
    def _dotted_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", value):
            raise ValueError(f"'{value}' is not a dotted path like my_package.factories.MyFactory")
        return value

    @model_validator(mode="after")
    def _custom_needs_factory(self) -> SparkConfig:
        if self.type == "custom" and not self.operator_factory:
            raise ValueError("type 'custom' needs operator_factory: package.module.Class")
        return self

    @property
    def backend(self) -> str:
        return "k8s" if self.type == "kubernetes" else self.type


class RunConfig(StrictModel):
    """Everything about how the DAG and its tasks run."""

    image: str = Field(description="Docker image with the Kedro project installed.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """When Kubernetes pulls the image."""
    namespace: str = Field(description="Kubernetes namespace of the pods.")
    service_account_name: str | None = None
    """Kubernetes service account of the pods."""
    image_pull_secrets: NameList = Field(default_factory=list)
    """Names of the secrets that hold registry credentials (list or comma-separated)."""
    startup_timeout: int = Field(default=600, ge=1, description="Seconds a pod may take to start.")
    kubernetes_conn_id: str | None = Field(
        default=None, description="Airflow Kubernetes connection; in-cluster config if unset."
    )
    run_name: str | None = Field(default=None, description="DAG id; defaults to the package name.")
    description: str | None = None
    """DAG description shown in the Airflow UI."""
    cron_expression: str | None = Field(
        default=None, description="Schedule: a cron expression or preset such as @daily."
    )
    start_date: dt.date = Field(default=dt.date(2024, 1, 1))
    """First logical date of the schedule (2024-01-01 or 20240101)."""
    catchup: bool = False
    """Run the intervals between start_date and now."""
    max_active_runs: int = Field(default=1, ge=1)
    """Runs of this DAG that may run at once."""
    retries: int = Field(default=0, ge=0)
    """Retries of each task."""
    retry_delay: int = Field(default=300, ge=0, description="Seconds between retries.")
    tags: NameList = Field(default_factory=list, description="Extra DAG tags.")
    env_vars: dict[str, Text] = Field(default_factory=dict)
    """Environment variables of every task."""
    secrets: list[SecretRef] = Field(default_factory=list)
    """Kubernetes secrets exposed to every pod."""
    resources: dict[str, ResourceProfile] = Field(default_factory=dict)
    """Named pod profiles: kedro-airflow-k8s.resources.<name> tags pick one; else __default__."""
    kubernetes_pod_templates: dict[str, PodTemplate] = Field(default_factory=dict)
    """Pod templates: kedro-airflow-k8s.pod-template.<name> tags pick one, else __default__."""
    macro_params: NameList = Field(
        default_factory=list, description="Kedro params filled from Airflow macros, e.g. ds."
    )
    variables_params: NameList = Field(
        default_factory=list, description="Kedro params filled from Airflow Variables."
    )
    external_dependencies: list[ExternalDependency] = Field(default_factory=list)
    """Other DAGs or tasks to wait for before the Kedro tasks start."""
    node_runner: Literal["kubernetes", "local"] = "kubernetes"
    """kubernetes: a pod per task; local: `kedro run` on the Airflow worker."""
    local_runner: LocalRunner = Field(default_factory=LocalRunner)
    """Settings of node_runner local."""
    group_memory_nodes: bool = Field(
        default=True,
        description="Put nodes joined by a MemoryDataset in one task; false makes it an error.",
    )
    spark: SparkConfig = Field(default_factory=SparkConfig)
    """How Spark groups run."""

    @field_validator("cron_expression")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_schedule(value)

    @field_validator("max_active_runs")
    @classmethod
    def _one_continuous_run(cls, value: int, info: ValidationInfo) -> int:
        check_max_active_runs(info.data.get("cron_expression"), value)
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _compact_date(cls, value: Any) -> Any:
        # The earlier plugin wrote start dates as "20210721"; keep accepting that.
        if isinstance(value, (str, int)) and re.fullmatch(r"\d{8}", str(value)):
            text = str(value)
            return f"{text[:4]}-{text[4:6]}-{text[6:]}"
        return value

    @field_validator("tags")
    @classmethod
    def _tag_length(cls, value: list[str]) -> list[str]:
        for tag in value:
            check_tag(tag)
        return value

    @field_validator("macro_params", "variables_params")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        for name in value:
            parts = name.split(".")
            if not all(p.isidentifier() and p not in JINJA_KEYWORDS for p in parts):
                raise ValueError(
                    f"'{name}' is not a parameter name the Airflow template can carry "
                    "(dotted Python names, none of them 'not', 'true', 'false' or 'none')"
                )
        return value


class PluginConfig(StrictModel):
    """The whole of airflow-k8s.yml."""

    host: str | None = Field(
        default=None, description="Airflow URL, e.g. https://airflow.example.com"
    )
    output: str = Field(
        default="dags/", description="Where upload-pipeline writes the DAG: a path or fsspec URL."
    )
    run_config: RunConfig
    """How the DAG and its tasks run."""


REQUIRED_HINTS = {
    "run_config": "add a run_config section (kedro airflow-k8s init writes one)",
    "run_config.image": "set it to the Docker image that has your project installed, "
    "or pass --image",
    "run_config.namespace": "set it to the Kubernetes namespace the pods run in",
}


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys valid at ``loc`` (the path of the mapping that holds the offending key)."""
    annotation: Any = model
    for item in loc:
        if isinstance(item, int):
            annotation = _unwrap(annotation, list)
            continue
        model_cls = _model_in(annotation)
        container = _unwrap(annotation, dict)
        if container is not annotation and _model_in(container) is not None:
            annotation = container  # the item is a user key such as a profile name
        elif model_cls is not None and str(item) in model_cls.model_fields:
            annotation = model_cls.model_fields[str(item)].annotation
        else:
            return []
    found = _model_in(annotation)
    return list(found.model_fields) if found is not None else []


def _unwrap(annotation: Any, origin: type) -> Any:
    """The value type of ``list[X]`` / ``dict[str, X]`` (also inside ``| None``)."""
    import typing

    for candidate in (annotation, *(typing.get_args(annotation) or ())):
        if typing.get_origin(candidate) is origin:
            return typing.get_args(candidate)[-1]
    return annotation


def _model_in(annotation: Any) -> Any:
    """The BaseModel class of ``M`` or ``M | None`` (not inside containers)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, dict):
        return None
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def describe_errors(error: ValidationError, source: str, locate: Locate | None = None) -> str:
    """One line per error: the key path, the file it is in (``locate``), what is wrong."""
    lines = [f"{source} is not valid:"]
    for item in error.errors():
        loc = tuple(item["loc"])
        path = _path(loc)
        where = locate(loc) if locate is not None else None
        if where:
            path = f"{path} (in {where})"
        kind = item["type"]
        if kind == "extra_forbidden":
            known = _known_keys(PluginConfig, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            if not close and known:
                hint = f"; valid keys here: {', '.join(known)}"
            lines.append(f"  - {path}: unknown key{hint}")
        elif kind == "missing":
            hint = REQUIRED_HINTS.get(path, "add it")
            lines.append(f"  - {path}: required key is missing; {hint}")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            value = item.get("input")
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            lines.append(f"  - {path}: {message} (got {shown})")
    return "\n".join(lines)


def parse_config(
    raw: Any,
    source: str = f"conf/base/{CONFIG_FILE}",
    overrides: dict[str, Any] | None = None,
    locate: Locate | None = None,
) -> PluginConfig:
    """Validate a raw mapping into a PluginConfig; raise ConfigError naming each bad key.

    ``overrides`` maps dotted key paths (``run_config.image``) to values from the
    command line; they are applied before validation. ``locate`` says which file
    a key path comes from, for the messages.
    """
    if raw is None or raw == {}:
        raise ConfigError(
            f"{source} is missing or empty: run 'kedro airflow-k8s init <AIRFLOW_URL>' to create it"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must be a mapping of keys, not {type(raw).__name__}")
    data = _deep_copy(raw)
    given = {tuple(k.split(".")) for k, v in (overrides or {}).items() if v is not None}

    def where(loc: tuple[Any, ...]) -> str | None:
        if any(loc[: len(key)] == key for key in given):
            return "the command line"
        return locate(loc) if locate is not None else None

    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            existing = target.get(key)
            if not isinstance(existing, dict):
                existing = {}
                target[key] = existing
            target = existing
        target[keys[-1]] = value
    try:
        return PluginConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_errors(error, source, where)) from None


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def json_schema() -> dict[str, Any]:
    schema = PluginConfig.model_json_schema()
    schema["title"] = "kedro-airflow-k8s configuration (airflow-k8s.yml)"
    return schema
