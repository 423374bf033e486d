"""Turn a plan, the plugin config and the Spark operator specs into DAG source (Jinja)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from kedro_airflow_k8s import __version__, mlflow_run, operator_args, trigger_params
from kedro_airflow_k8s.assets import schedule_source, with_assets
from kedro_airflow_k8s.atomic import write_atomic  # noqa: F401 - commands write DAGs with it
from kedro_airflow_k8s.callbacks import CallbackSources, render_callbacks
from kedro_airflow_k8s.config import PluginConfig
from kedro_airflow_k8s.dag_version import PLUGIN_TAG
from kedro_airflow_k8s.kedro_run import params_value  # noqa: F401 - re-exported
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.render_parts import (  # noqa: F401 - check_source is re-exported
    RESERVED_NAMES,
    DagContext,
    TaskBlock,
    check_source,
    dag_doc,
    dependency_lines,
    free_name,
    header_doc,
    module_names,
    provenance,
    sensor_name,
    sensor_source,
    sort_imports,
    start_date_source,
    task_variables,
)
from kedro_airflow_k8s.render_pods import (
    bash_task,
    operator_profile_var,
    pod_defaults,
    pod_task,
    profile_source,
    profile_var,
)
from kedro_airflow_k8s.render_spark import SpecWriter, module_bindings, render_spark
from kedro_airflow_k8s.source import comment, identifier, literal, template_literal
from kedro_airflow_k8s.spark.spec import SparkOperators
from kedro_airflow_k8s.spark_profiles import check_spark_profiles, spark_profiles
from kedro_airflow_k8s.variables import environment_source

TEMPLATES = Path(__file__).parent / "templates"
# What the names the DAG itself may bind stand for, so a spec's operator of the same class
# shares the import and any other class of that name gets an alias.
DAG_BINDINGS = {
    "DAG": "airflow.sdk.DAG",
    "Param": "airflow.sdk.Param",
    "Asset": "airflow.sdk.Asset",
    "BashOperator": "airflow.providers.standard.operators.bash.BashOperator",
    "KubernetesPodOperator": (
        "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"
    ),
    "ExternalTaskSensor": ("airflow.providers.standard.sensors.external_task.ExternalTaskSensor"),
    "Secret": "airflow.providers.cncf.kubernetes.secret.Secret",
}


def jinja_environment() -> jinja2.Environment:
    # No HTML escaping: the output is Python, and every value goes through `literal`.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["literal"] = literal
    env.filters["tliteral"] = template_literal
    env.filters["comment"] = comment
    return env


class DagRenderer:
    """Builds the template context for one DAG and renders it."""

    def __init__(self, plan: Plan, config: PluginConfig, ctx: DagContext) -> None:
        self.plan = plan
        self.config = config
        self.run = config.run_config
        self.ctx = ctx
        self.vars: dict[str, str] = {}
        self.reserved: set[str] = set(RESERVED_NAMES)
        self.callbacks = CallbackSources()

    def var_for(self, task_id: str) -> str:
        if task_id not in self.vars:
            self.vars[task_id] = free_name(
                identifier(task_id), set(self.vars.values()) | self.reserved
            )
        return self.vars[task_id]

    def dag_imports(self, mlflow: Any) -> set[str]:
        """The import lines of everything but the Spark operators."""
        run = self.run
        imports = {"import datetime", "from airflow.sdk import DAG"}
        if run.node_runner == "local":
            imports.add("from airflow.providers.standard.operators.bash import BashOperator")
        else:
            imports.add(
                "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator"
            )
            imports.add("from kubernetes.client import models as k8s")
            if run.secrets:
                imports.add("from airflow.providers.cncf.kubernetes.secret import Secret")
        if run.external_dependencies:
            imports.add(
                "from airflow.providers.standard.sensors.external_task import ExternalTaskSensor"
            )
        if mlflow is not None:
            imports.update(mlflow.imports)
        if run.trigger_params:
            imports.add("from airflow.sdk import Param")
        return imports | self.callbacks.imports

    def node_task(self, task: Task) -> str:
        operator_profile = self.operator_profile(task)
        if self.run.node_runner == "local":
            return bash_task(task, self.ctx, self.run, operator_profile)
        return pod_task(task, self.ctx, self.run, operator_profile)

    # -- assembly ---------------------------------------------------------------------------
    def context(self, spark: SparkOperators | None) -> dict[str, Any]:
        run = self.run
        local = run.node_runner == "local"
        self.callbacks = render_callbacks(run.callbacks, self.ctx.config_source or "run_config")
        mlflow = mlflow_run.rendering(
            run,
            self.plan.dag_id,
            commit_sha=self.ctx.commit_sha,
            pipeline=self.ctx.pipeline_name,
            env=self.ctx.env,
        )
        imports = self.dag_imports(mlflow)
        bound = {name: DAG_BINDINGS.get(name, "") for name in RESERVED_NAMES}
        bound.update(module_bindings(sorted(imports)))
        writer = SpecWriter(spark, bound) if spark is not None else None
        self.reserved |= set(writer.bound if writer else bound)
        self.vars = task_variables(self.plan, self.reserved)
        spark_source = None
        if writer is not None:
            project_name = getattr(run.spark, "project_name", None) or self.plan.dag_id
            check_spark_profiles(spark, self.plan, run, self.ctx.config_source or "run_config")
            spark_source = render_spark(
                writer,
                self.plan,
                self.var_for,
                project_name,
                run.spark,
                spark_profiles(self.plan, run),
            )
            imports.update(spark_source.imports)
        blocks: list[TaskBlock] = []
        exits: dict[str, str] = {}
        for task in self.plan.tasks:
            upstream = [exits.get(t) or self.var_for(t) for t in task.upstream]
            chain = spark_source.chains.get(task.task_id) if spark_source else None
            if not chain:
                chain = [(self.var_for(task.task_id), self.node_task(task))]
            for var, source in chain:
                if self.ctx.assets is not None and var == self.var_for(task.task_id):
                    source = with_assets(
                        source,
                        self.ctx.assets.inlets.get(task.task_id, []),
                        self.ctx.assets.outlets.get(task.task_id, []),
                    )
                blocks.append(TaskBlock(var, task.task_id, task.kind, source, upstream))
                upstream = [var]
            exits[task.task_id] = chain[-1][0]

        if run.schedule_on_assets or any("Asset(" in block.source for block in blocks):
            imports.add("from airflow.sdk import Asset")
        task_env = mlflow.env if mlflow else {}

        profiles = []
        if not local:
            for name, profile in run.resources.items():
                profiles.append((profile_var(name), profile_source(profile)))

        sensors = []
        for dep in run.external_dependencies:
            var = self.var_for(sensor_name(dep.dag_id, dep.task_id))
            sensors.append((var, sensor_source(var, dep)))

        # The DAG's version is in its doc, not its tags: tags are the user's filter in the UI.
        tags = [PLUGIN_TAG, *(t for t in dict.fromkeys(run.tags) if t != PLUGIN_TAG)]
        start = run.start_date
        return {
            "version": __version__,
            "ctx": self.ctx,
            "plan": self.plan,
            "run": run,
            "local": local,
            "imports": sort_imports(imports),
            "dag_id": self.plan.dag_id,
            "description": run.description,
            "schedule": (
                schedule_source(run.schedule_on_assets)
                if run.schedule_on_assets
                else literal(run.cron_expression)
            ),
            "start_date": start_date_source(start),
            "tags": tags,
            "provenance": provenance(self.ctx),
            "roots": [block.var for block in blocks if not block.upstream],
            "leaves": [
                block.var
                for block in blocks
                if not any(block.var in other.upstream for other in blocks)
            ],
            "dag_doc": dag_doc(self.plan, self.ctx),
            "header": header_doc(self.plan, self.ctx),
            "pod_defaults": None
            if local
            else pod_defaults(
                run,
                {**task_env, **self.trigger_env(local=False)},
                launcher=bool(run.trigger_params),
            ),
            "constants": self.constants(),
            "dag_arguments": self.dag_arguments(),
            "default_arguments": self.default_arguments(),
            "local_env": environment_source(
                run.env_vars,
                run.local_runner.env_vars,
                templates={**task_env, **self.trigger_env(local=True)},
            ),
            "project_path": run.local_runner.project_path or self.ctx.project_path,
            "profiles": profiles,
            "sensors": sensors,
            "blocks": blocks,
            "spark": spark_source,
            "mlflow": mlflow,
            "mlflow_start": mlflow_run.START_TASK,
            "mlflow_end": mlflow_run.END_TASK,
            "dependencies": dependency_lines(blocks),
        }

    # -- hooks of the Airflow controls ---------------------------------------------------------
    def trigger_env(self, local: bool) -> dict[str, str]:
        """Environment entries that carry the run's trigger params (and, locally, the launcher)."""
        names = self.run.trigger_params
        if not names:
            return {}
        env = {trigger_params.ENV_NAME: trigger_params.env_template(names)}
        if local:
            env[trigger_params.LAUNCHER_NAME] = trigger_params.LAUNCHER
        return env

    def operator_profile(self, task: Task) -> str | None:
        """The variable of the operator_args_profiles entry the task's nodes are tagged with."""
        name = task.profiles.get("operator_args_profiles")  # chosen when planning
        return operator_profile_var(name) if name else None

    def constants(self) -> list[tuple[str, str]]:
        """Module-level names the controls define: (name, source of its value)."""
        found = []
        if self.run.mlflow is not None:  # the tasks whose states close the MLflow run
            found.append(("KEDRO_TASK_IDS", literal([t.task_id for t in self.plan.tasks], 0)))
        source = self.ctx.config_source or "run_config"
        operator = operator_args.node_operator(self.run.node_runner)
        for name, arguments in self.run.operator_args_profiles.items():
            key = f"run_config.operator_args_profiles.{name}"
            operator_args.check_task_names(arguments, operator, key, source)
            found.append(
                (operator_profile_var(name), operator_args.arguments_source(arguments, key, source))
            )
        if self.run.trigger_params:
            found.append(
                (
                    trigger_params.PARAMS_NAME,
                    trigger_params.params_source(self.ctx.trigger_defaults),
                )
            )
            if self.run.node_runner != "local":
                found.append((trigger_params.LAUNCHER_NAME, literal(trigger_params.LAUNCHER)))
        return found

    def dag_arguments(self) -> list[tuple[str, str]]:
        """Keyword arguments of the DAG that the controls add: (name, source of its value)."""
        found = []
        if self.run.trigger_params:
            found.append(("params", trigger_params.PARAMS_NAME))
        found += self.callbacks.dag_arguments
        source = self.ctx.config_source or "run_config"
        operator_args.check_dag_names(self.run.dag_args, source)
        for name, value in self.run.dag_args.items():
            found.append(
                (name, operator_args.argument_source(name, value, "run_config.dag_args", source, 4))
            )
        return found

    def default_arguments(self) -> list[tuple[str, str]]:
        """default_args entries the controls add (every task takes them)."""
        found = list(self.callbacks.default_args)
        source = self.ctx.config_source or "run_config"
        operator = operator_args.node_operator(self.run.node_runner)
        operator_args.check_task_names(
            self.run.operator_args, operator, "run_config.operator_args", source
        )
        for name, value in self.run.operator_args.items():
            found.append(
                (
                    name,
                    operator_args.argument_source(
                        name, value, "run_config.operator_args", source, 4
                    ),
                )
            )
        if self.run.deferrable:
            operator_args.check_deferrable(operator, source)
            found.append(("deferrable", "True"))
        return found

    def render(self, spark: SparkOperators | None = None) -> str:
        template = jinja_environment().get_template("airflow_dag.py.j2")
        return template.render(**self.context(spark))
