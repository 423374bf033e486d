"""What a Spark factory receives (the Spark group, one context) and the two factory contracts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark.spec import OperatorSpec, Template
from kedro_airflow_k8s.spark_config import SparkResources


@dataclass(frozen=True)
class SparkGroup:
    """One Spark task of the plan: its nodes, run as one Spark application."""

    task_id: str
    nodes: tuple[str, ...]
    env: str
    pipeline: str
    runner: str = "ThreadRunner"
    tags: frozenset[str] = field(default_factory=frozenset)
    datasets: tuple[str, ...] = ()
    params: str | None = None
    """The ``--params`` value: the compile command's, then the Airflow macros (rendered)."""
    trigger_params: str | None = None
    """The Airflow template of the run's trigger params (a JSON object), if any."""
    reasons: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Why each node is in the group, as ``kedro airflow-k8s plan`` shows it."""
    dataset_paths: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """The catalog path of each of ``datasets`` that has one, as the plan resolved it."""
    profile: SparkResources = field(default_factory=SparkResources, compare=False, hash=False)
    """The run_config.spark.resources profile planning chose from its nodes' tags."""
    profile_name: str | None = None

    @property
    def name(self) -> str:
        return self.task_id

    def kedro_arguments(self) -> list[str]:
        """Arguments of the entry script: ``run --pipelines P --env E --nodes a,b --runner R``."""
        from kedro_airflow_k8s.kedro_run import kedro_run_arguments

        return kedro_run_arguments(
            self.pipeline,
            self.env,
            self.nodes,
            whole_names=True,
            runner=self.runner,
            params=self.params,
            trigger_params=self.trigger_params,
        )

    def application_args(self, extra: Sequence[str] = ()) -> list[str | Template]:
        """``kedro_arguments()`` and ``extra`` for an operator spec: the ``--params`` macros
        and the trigger params template are Templates (they render), the rest plain text."""
        args: list[str | Template] = list(self.kedro_arguments())
        for flag, template in (
            ("--params", self.params),
            ("--trigger-params", self.trigger_params),
        ):
            if template:
                position = args.index(flag) + 1
                args[position] = Template(template)
        return args + list(extra)

    def doc(self) -> str:
        """The Markdown ``doc_md`` of its operators: the Kedro nodes and why each is here."""
        lines = ["Kedro nodes run by this Spark application:", ""]
        for name in self.nodes:
            reason = self.reasons.get(name)
            lines.append(f"- `{name}`: {reason}" if reason else f"- `{name}`")
        return "\n".join(lines)


@dataclass(frozen=True)
class ArtifactUrls:
    """Where the Spark artifacts compile built are at run time (None: not built)."""

    entry: str | None = None
    """The entry script ``spark_run.py``, which runs ``kedro run`` inside Spark."""
    init: str | None = None
    """The cluster init script that installs the wheel and conf under ``$PROJECT_HOME``."""
    wheel: str | None = None
    conf: str | None = None

    @classmethod
    def of(cls, urls: Mapping[str, str] | None) -> ArtifactUrls:
        urls = urls or {}
        return cls(urls.get("entry"), urls.get("init"), urls.get("wheel"), urls.get("conf"))


@dataclass(frozen=True)
class FactoryContext:
    """Everything a factory knows about the DAG it writes operators for."""

    dag_id: str
    project_name: str
    """run_config.spark.project_name, else the DAG id."""
    package_name: str
    project_path: str
    """The project directory compile ran in (drivers that run on this machine use it)."""
    run_config: RunConfig
    groups: tuple[SparkGroup, ...] = ()
    artifacts: ArtifactUrls = field(default_factory=ArtifactUrls)
    driver_env: Mapping[str, Template] = field(default_factory=dict)
    """Variables every Spark driver must get (the MLflow run's), rendered per DAG run."""

    @property
    def spark(self) -> Any:
        """The typed run_config.spark section of the configured backend."""
        return self.run_config.spark

    @property
    def options(self) -> Mapping[str, Any]:
        """run_config.spark.options of ``type: custom`` (empty for the other backends)."""
        return dict(getattr(self.spark, "options", None) or {})

    @property
    def cluster_name(self) -> Template:
        """The name of this DAG run's cluster, unique per run (see spark.cluster)."""
        from kedro_airflow_k8s.spark import cluster

        return Template(cluster.CLUSTER_NAME)

    @property
    def image_project_home(self) -> str:
        """Where images and Dataproc init scripts put the project (see init_script.sh.j2)."""
        return f"/opt/{self.package_name}"

    def entry_script(self) -> str:
        """run_config.spark.main_python_file, else the built entry script."""
        entry = self.spark.main_python_file or self.artifacts.entry
        if not entry:
            raise UserError(
                f"the Spark entry script of the '{self.spark.backend}' backend is unknown: set "
                "run_config.spark.main_python_file, or let compile build the Spark artifacts"
            )
        return entry


class SparkFactory(ABC):
    """A Spark backend: the operators that run each Spark group, and a cluster's lifecycle.

    Every method returns ``OperatorSpec`` data; the DAG renderer writes the source.
    """

    def create_cluster(self, context: FactoryContext) -> OperatorSpec | None:
        """The operator that creates this DAG run's cluster (a setup task), or None."""
        return None

    def delete_cluster(self, context: FactoryContext) -> OperatorSpec | None:
        """The operator that deletes it (a teardown task), or None."""
        return None

    @abstractmethod
    def submit(
        self, context: FactoryContext, group: SparkGroup
    ) -> OperatorSpec | Sequence[OperatorSpec]:
        """The operator that runs ``group``, or several run one after the other (the one whose
        task_id is ``group.task_id``, or the first, names the group's task)."""


class SparkOperatorFactoryBase(ABC):
    """The seed's factory contract: each method returns Python source.

    Each method returns the source of one expression that constructs an Airflow
    operator (for example ``SparkSubmitOperator(task_id=..., ...)``); the DAG
    renderer assigns it to a variable and wires the dependencies. Backends without
    a cluster of their own return ``None`` from the create and delete methods.
    Prefer ``SparkFactory``, whose methods return operator specs.
    """

    @property
    @abstractmethod
    def imports_statement(self) -> str:
        """Import lines for everything the returned sources use."""

    @abstractmethod
    def create_cluster_operator(
        self,
        project_name: str,
        config: RunConfig,
        init_script_path: str | None,
        cluster_config: dict[str, Any],
    ) -> str | None:
        """Source of the operator that creates the cluster, or None."""

    @abstractmethod
    def delete_cluster_operator(self, project_name: str, config: RunConfig) -> str | None:
        """Source of the operator that deletes the cluster, or None."""

    @abstractmethod
    def submit_operator(
        self,
        project_name: str,
        node: SparkGroup,
        pipeline: str,
        config: RunConfig,
        main_python_file_path: str,
    ) -> str:
        """Source of the operator that runs the Spark group ``node`` as one application."""

    def preamble(self, project_name: str, config: RunConfig) -> str:
        """Module-level source placed before the DAG (helper functions), if any."""
        return ""

    def dag_arguments(self, project_name: str, config: RunConfig) -> dict[str, str]:
        """Extra ``DAG(...)`` keyword arguments as source, e.g. user_defined_filters."""
        return {}
