"""What the built-in backends share: project facts beyond the factory API, and source helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.naming import dns_label
from kedro_airflow_k8s.source import literal, neutralise_template, template_literal
from kedro_airflow_k8s.spark.base import SparkGroup, SparkOperatorFactoryBase


@dataclass(frozen=True)
class SparkContext:
    """Facts about the compiled project that the factory methods' arguments do not carry.

    ``artifacts`` maps an artifact kind ("entry", "init", "wheel", "conf") to where
    it is at run time; ``dataset_paths`` maps a dataset name to its catalog filepath.
    ``driver_env`` holds the variables every Spark driver must get, whatever the backend
    (``MLFLOW_RUN_ID`` and friends): text for templated fields, rendered for each DAG run.
    """

    dag_id: str = "kedro"
    package_name: str = "kedro_project"
    project_path: str = "."
    artifacts: Mapping[str, str] = field(default_factory=dict)
    dataset_paths: Mapping[str, str] = field(default_factory=dict)
    driver_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def image_project_home(self) -> str:
        """Where images and Dataproc init scripts put the project (see init_script.sh.j2)."""
        return f"/opt/{self.package_name}"


class BuiltinFactory(SparkOperatorFactoryBase):
    """Base of the built-in backends: they also get the ``SparkContext`` of the project.

    Subclasses of a built-in backend (custom factories included) receive it too.
    """

    def __init__(self, context: SparkContext | None = None) -> None:
        self.context = context or SparkContext()

    def entry_script(self, config: RunConfig) -> str:
        """The ``main_python_file_path`` for ``submit_operator``: the configured one or the
        built artifact."""
        spark = config.spark
        entry = spark.main_python_file or self.context.artifacts.get("entry")
        if not entry:
            raise UserError(
                f"the Spark entry script of the '{spark.backend}' backend is unknown: set "
                "run_config.spark.main_python_file, or let compile build the Spark artifacts"
            )
        return entry

    def create_cluster_operator(
        self,
        project_name: str,
        config: RunConfig,
        init_script_path: str | None,
        cluster_config: dict[str, Any],
    ) -> str | None:
        return None

    def delete_cluster_operator(self, project_name: str, config: RunConfig) -> str | None:
        return None


def call(name: str, arguments: list[tuple[str, str]]) -> str:
    """``name(key=value, ...)`` with one keyword argument per line; values are source."""
    lines = [f"{name}("] + [f"    {key}={value}," for key, value in arguments] + [")"]
    return "\n".join(lines)


def group_doc(group: SparkGroup) -> str:
    lines = ["Kedro nodes run by this Spark application:", ""]
    for name in group.nodes:
        reason = group.reasons.get(name)
        lines.append(f"- `{name}`: {reason}" if reason else f"- `{name}`")
    return "\n".join(lines)


def application_args(group: SparkGroup, extra: list[str] | None = None) -> list[str]:
    """The entry script's arguments for ``group``, safe for templated fields."""
    return safe_args(
        group.kedro_arguments() + list(extra or []), group.params, group.trigger_params
    )


def safe_args(args: list[str], params: str | None, trigger: str | None = None) -> list[str]:
    """``args`` neutralised, but for the ``--params`` value (its Airflow macros, such as
    ``{{ ds }}``, built from validated parameter names, are meant to render) and the
    ``--trigger-params`` template of the run's trigger params."""
    safe = [neutralise_template(arg) for arg in args]
    for flag, template in (("--params", params), ("--trigger-params", trigger)):
        if template and flag in args[:-1]:
            position = args.index(flag) + 1
            if args[position] == template:
                safe[position] = template
    return safe


def args_literal(group: SparkGroup, extra: list[str] | None = None, indent: int = 4) -> str:
    return literal(application_args(group, extra), indent)


def project_path_args(config: RunConfig, default: str | None) -> list[str]:
    path = config.spark.project_path or default
    return ["--project-path", path] if path else []


def k8s_name(text: str, limit: int = 50) -> str:
    """A DNS-1123 label from ``text`` (Spark application and pod names)."""
    return dns_label(text, limit, fallback="kedro-spark")


def doc_literal(group: SparkGroup) -> str:
    return literal(group_doc(group), 4)


def tlit(value: object, indent: int = 4) -> str:
    """``template_literal`` at the indentation of a keyword argument."""
    return template_literal(value, indent)
