"""The Spark part of a DAG: the backend's operator per Spark group, and the cluster lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro_airflow_k8s import mlflow_run
from kedro_airflow_k8s.classify import is_parameter
from kedro_airflow_k8s.config import SparkConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.project import KedroProject
from kedro_airflow_k8s.render import (
    RESERVED_NAMES,
    SparkRendering,
    module_names,
    params_value,
)
from kedro_airflow_k8s.render import task_variables as render_task_variables
from kedro_airflow_k8s.spark import custom
from kedro_airflow_k8s.spark.base import SparkGroup, SparkOperatorFactoryBase
from kedro_airflow_k8s.spark.builtin import SparkContext
from kedro_airflow_k8s.spark.factory_calls import FactoryCalls
from kedro_airflow_k8s.spark.registry import backend_of
from kedro_airflow_k8s.trigger_params import env_template


def render_spark(
    project: KedroProject, plan: Plan, artifacts: Mapping[str, str] | None = None
) -> SparkRendering:
    """What the configured Spark backend adds to the DAG of ``plan``.

    ``artifacts`` maps an artifact kind ("entry", "init", "wheel", "conf") to where
    it will be at run time (a URL or a path on the worker). Raises ``UserError``
    when the configuration or a custom factory is wrong; nothing is written.
    """
    run = project.config.run_config
    spark = run.spark
    nodes = {node.name: node for node in project.pipeline.nodes}
    groups = [spark_group(task, project, nodes) for task in plan.spark_tasks]
    context = spark_context(project, plan, groups, artifacts)
    calls = FactoryCalls(load_factory(spark, context), spark)
    project_name = spark.project_name or plan.dag_id

    main = calls.entry_script(run, context)
    init = context.artifacts.get("init")
    # Dataproc's ClusterConfig, or a custom factory's own options.
    cluster_config = dict(getattr(spark, "cluster_config", None) or getattr(spark, "options", {}))
    create = calls.optional_operator(
        "create_cluster_operator", project_name, run, init, cluster_config
    )
    delete = calls.optional_operator("delete_cluster_operator", project_name, run)
    if (create is None) != (delete is None):
        raise UserError(
            f"{calls.who}: create_cluster_operator and delete_cluster_operator must both return "
            "an operator (a cluster per DAG run) or both return None (no cluster)"
        )
    submit = {
        group.task_id: calls.operator(
            "submit_operator", project_name, group, project.pipeline_name, run, main
        )
        for group in groups
    }
    rendering = SparkRendering(
        imports=calls.imports(),
        preamble=calls.preamble(project_name, run),
        create_cluster=create,
        delete_cluster=delete,
        submit=submit,
        dag_kwargs=calls.dag_arguments(project_name, run),
    )
    calls.check_names(rendering)
    if create is not None:
        rendering.wiring = lifecycle_wiring(plan, task_variables(plan, rendering))
    return rendering


def load_factory(spark: SparkConfig, context: SparkContext) -> SparkOperatorFactoryBase:
    backend = backend_of(spark)
    if backend.factory is None:
        return custom.create_factory(spark.operator_factory or "", context)
    factory_class = backend.factory_class()
    if spark.operator_factory:
        # A subclass of the built-in factory, configured with the built-in backend's keys.
        return custom.create_factory(spark.operator_factory, context, base=factory_class)
    return factory_class(context)


def spark_group(task: Task, project: KedroProject, nodes: Mapping[str, Any]) -> SparkGroup:
    """The ``SparkGroup`` a factory receives for one Spark task of the plan."""
    run = project.config.run_config
    members = [nodes[name] for name in task.nodes]
    datasets = [
        name for node in members for name in [*node.inputs, *node.outputs] if not is_parameter(name)
    ]
    return SparkGroup(
        task_id=task.task_id,
        nodes=task.nodes,
        env=project.env,
        pipeline=project.pipeline_name,
        runner=run.spark.runner,
        tags=frozenset(tag for node in members for tag in node.tags),
        datasets=tuple(dict.fromkeys(datasets)),
        params=params_value(run, project.params),
        trigger_params=env_template(run.trigger_params) if run.trigger_params else None,
        reasons=dict(task.reasons),
    )


def spark_context(
    project: KedroProject,
    plan: Plan,
    groups: list[SparkGroup],
    artifacts: Mapping[str, str] | None,
) -> SparkContext:
    paths = {}
    for name in {name for group in groups for name in group.datasets}:
        filepath = project.dataset_config(name).get("filepath")
        if filepath:
            paths[name] = str(filepath)
    return SparkContext(
        dag_id=plan.dag_id,
        package_name=project.package_name,
        project_path=str(project.path),
        artifacts=dict(artifacts or {}),
        dataset_paths=paths,
        driver_env=mlflow_run.task_env(project.config.run_config, plan.dag_id),
    )


def task_variables(plan: Plan, rendering: SparkRendering) -> dict[str, str]:
    """The Python variable of each task in the DAG source, as the DAG renderer names them."""
    reserved = RESERVED_NAMES | module_names(rendering.imports, rendering.preamble)
    return render_task_variables(plan, reserved)


def lifecycle_wiring(plan: Plan, variables: Mapping[str, str]) -> list[str]:
    """Create the cluster after the first Spark groups' other upstream tasks, delete it
    after the last Spark groups; the teardown runs even when a Spark task fails."""
    spark_ids = {task.task_id for task in plan.spark_tasks}
    spark_above: dict[str, bool] = {}
    for task in plan.tasks:
        spark_above[task.task_id] = any(u in spark_ids or spark_above[u] for u in task.upstream)
    downstream = plan.downstream()
    spark_below: dict[str, bool] = {}
    for task in reversed(plan.tasks):
        spark_below[task.task_id] = any(
            d in spark_ids or spark_below[d] for d in downstream[task.task_id]
        )
    first = [t.task_id for t in plan.spark_tasks if not spark_above[t.task_id]]
    last = [t.task_id for t in plan.spark_tasks if not spark_below[t.task_id]]
    upstream = {task.task_id: task.upstream for task in plan.tasks}
    before = list(dict.fromkeys(u for task_id in first for u in upstream[task_id]))

    def tasks(ids: list[str]) -> str:
        names = [variables[task_id] for task_id in ids]
        return names[0] if len(names) == 1 else f"[{', '.join(names)}]"

    start = f"{tasks(before)} >> create_cluster" if before else "create_cluster"
    return [
        "# The Spark cluster exists from just before the first Spark task to just after the last.",
        f"{start} >> {tasks(first)}",
        f"{tasks(last)} >> delete_cluster",
        "delete_cluster.as_teardown(setups=create_cluster)",
    ]
