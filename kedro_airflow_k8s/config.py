"""Pydantic models of conf/<env>/airflow-k8s.yml; validation errors name the key path."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from kedro_airflow_k8s.airflow_rules import (
    check_key,
    check_max_active_runs,
    check_schedule,
    check_tag,
)
from kedro_airflow_k8s.config_errors import Locate, describe_errors
from kedro_airflow_k8s.config_types import (
    DEFAULT_PROFILE,
    SPARK_TAG,
    NameList,
    Quantity,
    SecretRef,
    StrictModel,
    Text,
)
from kedro_airflow_k8s.controls_config import CallbacksConfig
from kedro_airflow_k8s.errors import ConfigError
from kedro_airflow_k8s.mlflow_config import MlflowConfig
from kedro_airflow_k8s.pod_config import PodTemplate, ResourceProfile, Toleration
from kedro_airflow_k8s.spark_config import (
    SPARK_RESOURCES_TAG_PREFIX,
    NoSparkConfig,
    SparkConfig,
    SparkResources,
)
from kedro_airflow_k8s.storage_options import StorageOptions

__all__ = [
    "DEFAULT_PROFILE",
    "MlflowConfig",
    "PodTemplate",
    "ResourceProfile",
    "Toleration",
    "SPARK_RESOURCES_TAG_PREFIX",
    "SPARK_TAG",
    "NameList",
    "Quantity",
    "SecretRef",
    "SparkConfig",
    "SparkResources",
    "StrictModel",
    "Text",
]

CONFIG_FILE = "airflow-k8s.yml"
RESOURCES_TAG_PREFIX = "kedro-airflow-k8s.resources."
POD_TEMPLATE_TAG_PREFIX = "kedro-airflow-k8s.pod-template."
# Names Jinja reads as an operator or a constant in `{{ name }}`, never as a variable.
JINJA_KEYWORDS = frozenset({"not", "true", "false", "none", "True", "False", "None"})


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
    python: str | None = Field(
        default=None,
        description="Python with the project installed, which runs kedro when trigger_params "
        "are set; defaults to the python beside kedro_command when that is a path, else python.",
    )


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
    env_vars: dict[str, Text] | list[str] = Field(
        default_factory=dict,
        description="Environment variables of every task: a mapping of values, or a list of "
        "Airflow Variable names, each set from {{ var.value.NAME }} when the task runs.",
    )
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
    trigger_params: NameList = Field(
        default_factory=list,
        description="Kedro params (dotted for nested ones) shown in Airflow's trigger form, "
        "with their defaults and JSON types from the project's parameters; every task runs "
        "with the values of its run.",
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
    group_by: Literal["none", "memory", "namespace"] = Field(
        default="memory",
        description="How nodes become tasks. memory: Spark groups, and nodes joined by a "
        "MemoryDataset together; namespace: each top-level Kedro namespace is one task "
        "(`kedro run --namespaces`), a Spark task when it holds Spark nodes; none: no "
        "grouping beyond Spark groups, and a MemoryDataset between tasks is an error.",
    )
    spark: SparkConfig = Field(default_factory=NoSparkConfig)
    """How Spark groups run: the backend named by `type` and its own keys."""
    mlflow: MlflowConfig | None = None
    """One MLflow run per DAG run, shared by every task; no MLflow tasks if unset."""
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)
    """Notifications and callbacks, at DAG and task level."""
    operator_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments of every task's operator (through default_args): pool, queue, "
        "owner, execution_timeout (seconds), priority_weight, email, affinity, volumes, "
        "container_logs, ... Names are checked against the operator.",
    )
    operator_args_profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named operator arguments for the tasks whose nodes are tagged "
        "kedro-airflow-k8s.operator-args.<name>; they win over every other setting.",
    )
    dag_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments of the DAG: dagrun_timeout (seconds), owner_links, "
        "access_control, max_active_tasks, fail_fast, ... Names are checked against the DAG.",
    )
    assets: bool = Field(
        default=True,
        description="Each persisted dataset with a location Airflow takes (gs://, s3://, "
        "file://, hdfs://, abfs://, BigQuery tables, ...) becomes an Airflow Asset: an outlet of "
        "the task that writes it, an inlet of the tasks that read it.",
    )
    schedule_on_assets: list[str] = Field(
        default_factory=list,
        description="Asset URIs: run this DAG once each of them has been updated since its "
        "last run (Airflow's schedule of a list of Assets), instead of cron_expression.",
    )
    deferrable: bool = Field(
        default=False,
        description="Pass deferrable=True to every operator that takes it (pods, Dataproc, "
        "Spark Operator, sensors); Airflow then needs a running triggerer.",
    )

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

    @field_validator("env_vars")
    @classmethod
    def _variable_names(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        from kedro_airflow_k8s.variables import check_variable_names

        return check_variable_names(value) if isinstance(value, list) else value

    @field_validator("macro_params", "variables_params", "trigger_params")
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

    @model_validator(mode="after")
    def _one_schedule(self) -> RunConfig:
        if self.cron_expression and self.schedule_on_assets:
            raise ValueError(
                "set cron_expression or schedule_on_assets, not both: the DAG runs on a "
                "schedule or when upstream Assets are updated"
            )
        return self

    @model_validator(mode="after")
    def _params_set_once(self) -> RunConfig:
        # Sections that override part of run_config leave the lists they do not set as None.
        fixed = set(self.macro_params or ()) | set(self.variables_params or ())
        both = [name for name in self.trigger_params or () if name in fixed]
        if both:
            raise ValueError(
                f"trigger_params {', '.join(both)} also in macro_params or variables_params; "
                "a param takes its value from one place: keep it in one list"
            )
        return self


def _overridable(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of ``model`` as optional, for sections that override some of them."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        # Spark settings are checked once merged: a backend's keys depend on its type.
        annotation = dict[str, Any] if name == "spark" else info.annotation
        fields[name] = (annotation | None, Field(default=None, description=info.description))
    return fields


PipelineRunConfig = create_model(  # type: ignore[call-overload]
    "PipelineRunConfig",
    __base__=RunConfig,
    __doc__="run_config keys that differ for one pipeline; the rest come from run_config.",
    **_overridable(RunConfig),
)


class PluginConfig(StrictModel):
    """The whole of airflow-k8s.yml."""

    host: str | None = Field(
        default=None, description="Airflow URL, e.g. https://airflow.example.com"
    )
    output: str = Field(
        default="dags/", description="Where upload-pipeline writes the DAG: a path or fsspec URL."
    )
    output_storage_options: StorageOptions = Field(default_factory=dict)
    """fsspec storage options for output (endpoint_url, profile, project, ...). Used only
    by the machine that publishes; credentials come from its environment or a named
    profile, never from this file."""
    run_config: RunConfig
    """How the DAG and its tasks run."""
    pipelines: dict[str, PipelineRunConfig] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Per-pipeline run_config overrides, by registered pipeline name: "
        "{training: {cron_expression: '@weekly', image: ...}}. Mappings merge key by key "
        "into run_config; a spark section of another type replaces run_config.spark.",
    )


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
        raise ConfigError(describe_errors(error, source, PluginConfig, where)) from None


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
