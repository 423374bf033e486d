"""Operator factories for `type: custom` tests: one that runs local commands, and broken ones."""

from __future__ import annotations

import shlex

from kedro_airflow_k8s.source import literal
from kedro_airflow_k8s.spark import cluster
from kedro_airflow_k8s.template_helper import (
    Expression,
    FactoryContext,
    OperatorSpec,
    Output,
    SparkFactory,
    SparkGroup,
    SparkOperatorFactoryBase,
    Template,
)

MARKER_DIR_KEY = "kedro_airflow_k8s.test.marker_dir"
FAIL_TAG = "test.fail"


class LocalCommandFactory(SparkOperatorFactoryBase):
    """Bash tasks in place of a cluster: create and delete leave marker files named after the
    run's cluster, a group whose nodes are tagged ``test.fail`` exits 1."""

    # Every call, for tests that check what factories receive.
    calls: list[tuple[str, tuple]] = []

    @property
    def imports_statement(self) -> str:
        return "\n".join(
            [cluster.IMPORTS, "from airflow.providers.standard.operators.bash import BashOperator"]
        )

    def preamble(self, project_name, config):
        return cluster.preamble(config.spark, project_name)

    def dag_arguments(self, project_name, config):
        return cluster.dag_arguments()

    def create_cluster_operator(self, project_name, config, init_script_path, cluster_config):
        self.calls.append(("create", (project_name, init_script_path, cluster_config)))
        return self._marker("create_spark_cluster", "created", config)

    def delete_cluster_operator(self, project_name, config):
        self.calls.append(("delete", (project_name,)))
        return self._marker("delete_spark_cluster", "deleted", config)

    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        self.calls.append(("submit", (project_name, node, pipeline, main_python_file_path)))
        command = "exit 1" if FAIL_TAG in node.tags else f"echo {shlex.quote(node.task_id)}"
        return (
            "BashOperator(\n"
            f"    task_id={literal(node.task_id)},\n"
            f"    bash_command={literal(command)},\n"
            ")"
        )

    @staticmethod
    def _marker(task_id: str, kind: str, config) -> str:
        folder = config.spark.conf.get(MARKER_DIR_KEY, "/tmp")
        target = f"{shlex.quote(folder)}/{kind}-{cluster.CLUSTER_NAME}"
        return (
            "BashOperator(\n"
            f"    task_id={literal(task_id)},\n"
            f"    bash_command={literal('touch ' + target)},\n"
            ")"
        )


class NoClusterFactory(LocalCommandFactory):
    """Submits only, like the k8s backend: no setup or teardown tasks."""

    def create_cluster_operator(self, project_name, config, init_script_path, cluster_config):
        return None

    def delete_cluster_operator(self, project_name, config):
        return None


class NotAFactory:
    """Has the methods but not the base class."""

    imports_statement = ""


class RaisingFactory(LocalCommandFactory):
    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        raise RuntimeError("no cluster quota left")


class BrokenSourceFactory(LocalCommandFactory):
    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        return "BashOperator(task_id='x', bash_command='true'"


class StatementFactory(LocalCommandFactory):
    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        return "task = BashOperator(task_id='x', bash_command='true')"


class ForgetfulFactory(LocalCommandFactory):
    """Uses BashOperator without importing it."""

    @property
    def imports_statement(self) -> str:
        return cluster.IMPORTS


class KedroImportingFactory(LocalCommandFactory):
    """Would make every DAG parse import Kedro."""

    @property
    def imports_statement(self) -> str:
        return super().imports_statement + "\nfrom kedro.framework.session import KedroSession"


class HalfClusterFactory(LocalCommandFactory):
    """Creates a cluster it never deletes."""

    def delete_cluster_operator(self, project_name, config):
        return None


class Incomplete(SparkOperatorFactoryBase):
    """Forgets submit_operator, so it cannot be instantiated."""

    @property
    def imports_statement(self) -> str:
        return ""

    def create_cluster_operator(self, project_name, config, init_script_path, cluster_config):
        return None

    def delete_cluster_operator(self, project_name, config):
        return None


# --- factories on the spec API --------------------------------------------------------------

BASH = "airflow.providers.standard.operators.bash.BashOperator"
EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"


class SpecCommandFactory(SparkFactory):
    """Bash tasks from specs: a cluster whose id the submit tasks read from its output, and per
    Spark group a submit and a check, chained."""

    def create_cluster(self, context: FactoryContext) -> OperatorSpec:
        command = "echo " + context.cluster_name
        return OperatorSpec(BASH, {"task_id": "create_spark_cluster", "bash_command": command})

    def delete_cluster(self, context: FactoryContext) -> OperatorSpec:
        return OperatorSpec(EMPTY, {"task_id": "delete_spark_cluster"}, role="teardown")

    def submit(self, context: FactoryContext, group: SparkGroup) -> list[OperatorSpec]:
        text = context.options.get("text", "")
        submit = OperatorSpec(
            BASH,
            {
                "task_id": group.task_id,
                "bash_command": Template("echo {{ ds }} ") + text,
                "env": {"CLUSTER": Output("create_spark_cluster"), "PLAIN": text},
            },
        )
        check = OperatorSpec(
            "tests.spec_operators.EmptyOperator", {"task_id": f"{group.task_id}_check"}
        )
        return [submit, check]


class NotASpecFactory(SpecCommandFactory):
    def submit(self, context, group):
        return "BashOperator(task_id='x', bash_command='true')"


class UnwritableValueFactory(SpecCommandFactory):
    def submit(self, context, group):
        return OperatorSpec(BASH, {"task_id": group.task_id, "bash_command": object()})


class DanglingOutputFactory(SpecCommandFactory):
    def submit(self, context, group):
        kwargs = {"task_id": group.task_id, "bash_command": "true", "env": Output("nowhere")}
        return OperatorSpec(BASH, kwargs)


class KedroOperatorFactory(SpecCommandFactory):
    def submit(self, context, group):
        return OperatorSpec("kedro.framework.Operator", {"task_id": group.task_id})


class UndefinedNameFactory(SpecCommandFactory):
    def submit(self, context, group):
        kwargs = {"task_id": group.task_id, "bash_command": "true", "env": Expression("os.environ")}
        return OperatorSpec(BASH, kwargs)


class StringMethodsOnSpecFactory(SpecCommandFactory):
    """Written for the string API on top of a spec factory: its method would never be called."""

    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        return "BashOperator(task_id='x', bash_command='true')"


class UninstalledProviderFactory(SpecCommandFactory):
    """Submits with an operator of a provider this environment does not have."""

    def submit(self, context, group):
        kwargs = {"task_id": group.task_id, "cluster_id": "c"}
        return OperatorSpec("airflow.providers.not_installed.operators.RunOperator", kwargs)


class BareExpressionFactory(SpecCommandFactory):
    """Follows the submit with an operator given as one expression, not a call."""

    def submit(self, context, group):
        return [super().submit(context, group)[0], OperatorSpec(Expression("dag"), None)]
