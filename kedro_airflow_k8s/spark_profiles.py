"""Operator-args profiles on Spark tasks: checked against each operator's real signature."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.operator_args import BASE_OPERATOR, OPERATOR_ARGS_TAG_PREFIX
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.render_pods import operator_profile_var
from kedro_airflow_k8s.render_spark import module_bindings
from kedro_airflow_k8s.signatures import accepted_arguments, load
from kedro_airflow_k8s.spark.spec import Expression, OperatorSpec, SparkOperators

KEY = "operator_args_profiles"
ALLOWED = "pool, pool_slots, queue, priority_weight, execution_timeout, owner, email"


def spark_profiles(plan: Plan, run: RunConfig) -> dict[str, tuple[str, Collection[str]]]:
    """Per Spark task with an operator-args profile: the profile's module variable and the
    argument names it sets (they win over the factory's own)."""
    found = {}
    for task in plan.spark_tasks:
        name = task.profiles.get(KEY)  # chosen when planning
        if name is not None:
            found[task.task_id] = (
                operator_profile_var(name),
                tuple(run.operator_args_profiles[name]),
            )
    return found


def check_spark_profiles(
    operators: SparkOperators, plan: Plan, run: RunConfig, source: str
) -> None:
    """Every argument of each Spark task's profile is one that every operator of the task's
    chain takes; a ``UserError`` names the key, the task, its nodes and the operator."""
    bindings = module_bindings(list(operators.imports))
    for task in plan.spark_tasks:
        name = task.profiles.get(KEY)
        if name is None or not run.operator_args_profiles[name]:
            continue
        for spec in operators.submit.get(task.task_id, ()):
            if spec.kwargs is None:  # a whole expression: no call to add the profile to
                whole = getattr(spec.operator, "source", spec.operator)
                raise UserError(
                    f"run_config.{KEY}.{name} in {source}: Spark task '{task.task_id}' "
                    f"({nodes_text(task, name)}) runs with this profile, but an operator of "
                    f"it is one expression ({whole}), so the profile's arguments cannot be "
                    "added; return an operator call with keyword arguments, or remove the tag "
                    f"{OPERATOR_ARGS_TAG_PREFIX}{name}"
                )
            operator, accepted = operator_arguments(spec, bindings)
            for argument in run.operator_args_profiles[name]:
                if accepted is not None and argument not in accepted:
                    raise UserError(
                        f"run_config.{KEY}.{name}.{argument} in {source}: Spark task "
                        f"'{task.task_id}' ({nodes_text(task, name)}) runs with this profile, "
                        f"and its operator {operator} takes no argument '{argument}'; give "
                        "Spark nodes a profile whose arguments every operator takes "
                        f"({ALLOWED}, ...) and keep pod-only arguments in profiles of pod "
                        "nodes"
                    )


def operator_arguments(
    spec: OperatorSpec, bindings: Mapping[str, str]
) -> tuple[str, frozenset[str] | None]:
    """The operator's name and the argument names it takes: its real signature when its
    class can be imported here, else those ``BaseOperator`` takes; None for any name."""
    path = spec.operator
    if isinstance(path, Expression):
        head, _, rest = path.source.strip().partition(".")
        bound = bindings.get(head)
        path = f"{bound}.{rest}" if bound and rest else (bound or path.source)
    cls = load(path) if "." in path else None
    if not isinstance(cls, type):
        base = load(BASE_OPERATOR)
        accepted = accepted_arguments(base) if isinstance(base, type) else None
        return f"{path} (not importable here, so checked as BaseOperator)", accepted
    return cls.__name__, accepted_arguments(cls)


def nodes_text(task: Task, name: str) -> str:
    """The task's nodes that picked the profile ``name`` (all of them for ``__default__``)."""
    tag = OPERATOR_ARGS_TAG_PREFIX + name
    tagged = [node for node in task.nodes if tag in task.tags.get(node, ())] or list(task.nodes)
    return ", ".join(f"node '{node}'" for node in tagged)
