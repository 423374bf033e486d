"""The operator-factory contract every Spark backend, built-in or custom, implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s.config import RunConfig


@dataclass(frozen=True)
class SparkGroup:
    """One Spark task of the plan: what ``submit_operator`` receives as ``node``."""

    task_id: str
    nodes: tuple[str, ...]
    env: str
    pipeline: str
    runner: str = "ThreadRunner"
    tags: frozenset[str] = field(default_factory=frozenset)
    datasets: tuple[str, ...] = ()
    params: str | None = None
    trigger_params: str | None = None
    """The Airflow template of the run's trigger params (a JSON object), if any."""
    reasons: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Why each node is in the group, as ``kedro airflow-k8s plan`` shows it."""

    @property
    def name(self) -> str:
        return self.task_id

    def kedro_arguments(self) -> list[str]:
        """Arguments of the entry script: ``run --env E --pipelines P --nodes a,b --runner R``."""
        from kedro_airflow_k8s.node_names import nodes_arguments

        args = ["run", "--env", self.env, "--pipelines", self.pipeline]
        args += [*nodes_arguments(self.nodes), "--runner", self.runner]
        if self.params:
            args += ["--params", self.params]
        if self.trigger_params:
            args += ["--trigger-params", self.trigger_params]
        return args


class SparkOperatorFactoryBase(ABC):
    """Produces the Python source of the Spark operators of one DAG.

    Each method returns the source of one expression that constructs an Airflow
    operator (for example ``SparkSubmitOperator(task_id=..., ...)``); the DAG
    template assigns it to a variable and wires the dependencies. Backends without
    a cluster of their own return ``None`` from the create and delete methods.
    Values should be written with ``kedro_airflow_k8s.source.literal`` (or
    ``template_literal`` for templated fields) so that any text is safe.
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
