"""The Spark part of a DAG as operator specs: the factory called, what it returns checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro_airflow_k8s import mlflow_run
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.kedro_run import params_value
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.project import KedroProject
from kedro_airflow_k8s.spark import custom
from kedro_airflow_k8s.spark.base import ArtifactUrls, FactoryContext, SparkFactory, SparkGroup
from kedro_airflow_k8s.spark.registry import backend_of
from kedro_airflow_k8s.spark.seed_adapter import DAG_NAMES, StringFactory, undefined_names
from kedro_airflow_k8s.spark.spec import (
    FORBIDDEN_IMPORTS,
    Expression,
    OperatorSpec,
    Output,
    SparkOperators,
    Template,
    as_chain,
    check_value,
    walk,
)
from kedro_airflow_k8s.spark_config import SparkResources
from kedro_airflow_k8s.trigger_params import env_template


def spark_operators(
    project: KedroProject, plan: Plan, artifacts: Mapping[str, str] | None = None
) -> SparkOperators:
    """The operator specs the configured Spark backend gives the DAG of ``plan``.

    ``artifacts`` maps an artifact kind ("entry", "init", "wheel", "conf") to where
    it will be at run time (a URL or a path on the worker). Raises ``UserError``
    when the configuration or a custom factory is wrong; nothing is written.
    """
    run = project.config.run_config
    groups = tuple(spark_group(task, project) for task in plan.spark_tasks)
    context = FactoryContext(
        dag_id=plan.dag_id,
        project_name=run.spark.project_name or plan.dag_id,
        package_name=project.package_name,
        project_path=str(project.path),
        run_config=run,
        groups=groups,
        artifacts=ArtifactUrls.of(artifacts),
        driver_env={
            name: Template(value) for name, value in mlflow_run.task_env(run, plan.dag_id).items()
        },
    )
    return FactoryCalls(run.spark).operators(context, {task.task_id for task in plan.tasks})


class FactoryCalls:
    """One factory's methods called for a DAG, with what they return checked; errors name
    the factory (a user's) and the method."""

    def __init__(self, spark: Any) -> None:
        path = getattr(spark, "operator_factory", None)
        self.custom = bool(path)
        self.who = (
            f"{custom.KEY} '{path}'" if path else f"the built-in '{spark.backend}' Spark backend"
        )
        backend = backend_of(spark)
        base = None if backend.factory is None else backend.factory_class()
        factory = custom.create_factory(path, base) if path else base()
        self.factory: SparkFactory = (
            factory if isinstance(factory, SparkFactory) else StringFactory(factory, self.who)
        )

    def call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.factory, method)(*args)
        except UserError:
            raise
        except Exception as error:
            if not self.custom:
                raise
            raise UserError(
                f"{self.who}: {method}() raised {type(error).__name__}: {error}"
            ) from None

    def operators(self, context: FactoryContext, plan_ids: set[str]) -> SparkOperators:
        create = self.checked("create_cluster", self.call("create_cluster", context), "setup")
        delete = self.checked("delete_cluster", self.call("delete_cluster", context), "teardown")
        if (create is None) != (delete is None):
            raise UserError(
                f"{self.who}: the create and delete cluster operators must both be given "
                "(a cluster per DAG run) or both be None (no cluster); the string API's "
                "create_cluster_operator and delete_cluster_operator must both return"
            )
        result = SparkOperators(create_cluster=create, delete_cluster=delete)
        for group in context.groups:
            result.submit[group.task_id] = self.chain(group, self.call("submit", context, group))
        if isinstance(self.factory, StringFactory):
            adapter = self.factory
            result.imports = tuple(adapter.imports())
            result.preamble = adapter.preamble(context)
            result.dag_arguments = adapter.dag_arguments(context)
            sources = [value.source for value in result.dag_arguments.values()]
            adapter.check_names(list(result.imports), result.preamble, sources)
        else:
            self.check_expressions(result)
        self.check_task_ids(result, context, plan_ids)
        return result

    def checked(self, method: str, spec: Any, role: str) -> OperatorSpec | None:
        """``spec`` checked, in ``role``, with its default task id; None stays None."""
        if spec is None:
            return None
        spec = self.valid(method, spec)
        if spec.role not in ("task", role):
            raise UserError(f"{self.who}: {method}() returned a {spec.role} operator")
        default_id = "create_spark_cluster" if role == "setup" else "delete_spark_cluster"
        return OperatorSpec(spec.operator, spec.kwargs, role).with_kwargs(task_id=default_id)

    def chain(self, group: SparkGroup, result: Any) -> tuple[OperatorSpec, ...]:
        """The operators of one Spark group; the group's task id names one of them (the first
        when none has a task id)."""
        if isinstance(result, (list, tuple)) and not result:
            raise UserError(f"{self.who}: submit() returned no operator for '{group.task_id}'")
        specs = [self.valid("submit", spec) for spec in as_chain(result)]
        if any(spec.role != "task" for spec in specs):
            raise UserError(f"{self.who}: submit() returned a setup or teardown operator")
        if group.task_id not in {spec.task_id for spec in specs}:
            if specs[0].task_id is not None or specs[0].kwargs is None:
                named = [spec.task_id for spec in specs]
                raise UserError(
                    f"{self.who}: the operators of Spark task '{group.task_id}' have the task "
                    f"ids {named}; one of them must be '{group.task_id}' (node.task_id)"
                )
            specs[0] = specs[0].with_kwargs(task_id=group.task_id)
        if not self.custom or not isinstance(self.factory, StringFactory):
            specs = [
                spec.with_kwargs(doc_md=group.doc()) if spec.task_id == group.task_id else spec
                for spec in specs
            ]
        return tuple(specs)

    def valid(self, method: str, spec: Any) -> OperatorSpec:
        if not isinstance(spec, OperatorSpec):
            raise UserError(f"{self.who}: {method}() returned {spec!r}, not an OperatorSpec")
        if isinstance(spec.operator, str):
            module, _, name = spec.operator.rpartition(".")
            if not module or not name.isidentifier():
                raise UserError(
                    f"{self.who}: {method}() names the operator {spec.operator!r}; give its "
                    "import path, package.module.ClassName"
                )
            if module.split(".")[0] in FORBIDDEN_IMPORTS:
                raise UserError(
                    f"{self.who}: {method}() uses '{spec.operator}'; DAG files must need only "
                    "Airflow and its providers, since Airflow parses them every minute"
                )
        for key, value in (spec.kwargs or {}).items():
            if not isinstance(key, str) or not key.isidentifier():
                raise UserError(f"{self.who}: {method}() has the argument name {key!r}")
            try:
                check_value(value, f"{method}() argument {key}")
            except TypeError as error:
                raise UserError(f"{self.who}: {error}") from None
        return spec

    def check_expressions(self, result: SparkOperators) -> None:
        """An Expression of a spec uses only the names every DAG defines (specs bring no
        imports of their own: an operator class belongs in the spec's import path)."""
        for spec in result.specs():
            values = [spec.operator, *(spec.kwargs or {}).values()]
            for item in (found for value in values for found in walk(value)):
                if not isinstance(item, Expression):
                    continue
                try:
                    missing = sorted(undefined_names(f"_ = (\n{item.source}\n)") - DAG_NAMES)
                except SyntaxError as error:
                    raise UserError(
                        f"{self.who}: Expression({item.source!r}) of '{spec.task_id}' is not "
                        f"Python ({error.msg})"
                    ) from None
                if missing:
                    raise UserError(
                        f"{self.who}: Expression({item.source!r}) of '{spec.task_id}' uses "
                        f"{', '.join(missing)}, which the DAG does not define; use plain values "
                        "or Templates, or name an operator class by its import path"
                    )

    def check_task_ids(
        self, result: SparkOperators, context: FactoryContext, plan_ids: set[str]
    ) -> None:
        """No two operators share a task id, nor an operator a task of the plan."""
        own = {group.task_id for group in context.groups}
        seen: set[str] = set()
        for spec in result.specs():
            task_id = spec.task_id
            if task_id is None:
                continue
            if task_id in seen:
                raise UserError(f"{self.who}: two operators have the task id '{task_id}'")
            seen.add(task_id)
        clash = sorted(seen & (plan_ids - own))
        if clash:
            raise UserError(
                f"{self.who}: the operator task id '{clash[0]}' is a task of the plan already"
            )
        for spec in result.specs():
            for key, value in (spec.kwargs or {}).items():
                if isinstance(value, Expression):
                    continue
                for item in walk(value):
                    if isinstance(item, Output) and item.task_id not in seen:
                        raise UserError(
                            f"{self.who}: the argument {key} of '{spec.task_id}' refers to "
                            f"the output of '{item.task_id}', which is no Spark operator of "
                            "this DAG"
                        )


def spark_group(task: Task, project: KedroProject) -> SparkGroup:
    """The ``SparkGroup`` a factory receives for one Spark task of the plan: its nodes, tags,
    datasets and profile as planning found them."""
    run = project.config.run_config
    profile_name = task.profiles.get("spark.resources")  # chosen when planning
    return SparkGroup(
        task_id=task.task_id,
        nodes=task.nodes,
        env=project.env,
        pipeline=project.pipeline_name,
        runner=run.spark.runner,
        tags=task.all_tags,
        datasets=tuple(task.datasets),
        params=params_value(run, project.params),
        trigger_params=env_template(run.trigger_params) if run.trigger_params else None,
        reasons=dict(task.reasons),
        dataset_paths={name: path for name, path in task.datasets.items() if path},
        profile=run.spark.resources[profile_name] if profile_name else SparkResources(),
        profile_name=profile_name,
    )
