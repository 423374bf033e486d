"""Operator specs into DAG source: imports, escaped values, variables, chains, cluster lifecycle."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s.plan import Plan
from kedro_airflow_k8s.render_parts import free_name, module_names
from kedro_airflow_k8s.source import identifier, layout, literal, neutralise_template
from kedro_airflow_k8s.spark import cluster
from kedro_airflow_k8s.spark.spec import (
    Expression,
    OperatorSpec,
    Output,
    SparkOperators,
    Template,
    walk,
)

WIDTH = 88
CREATE_VAR = "create_cluster"
DELETE_VAR = "delete_cluster"


@dataclass
class SparkRendering:
    """The Spark part of the DAG as source, for the template."""

    imports: list[str] = field(default_factory=list)
    preamble: str = ""
    create_cluster: str | None = None
    delete_cluster: str | None = None
    dag_kwargs: dict[str, str] = field(default_factory=dict)
    wiring: list[str] = field(default_factory=list)
    chains: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Per Spark task of the plan, (variable, operator source) of each operator, in order."""


class SpecWriter:
    """Writes the specs of one DAG; knows the import name of each operator class."""

    def __init__(self, operators: SparkOperators, bound: Mapping[str, str]) -> None:
        """``bound`` maps the names the rest of the DAG binds to what they stand for."""
        self.operators = operators
        self.bound = dict(bound)
        self.bound.update((name, "") for name in module_names(list(operators.imports), ""))
        self.bound.update(
            (name, "") for name in module_names([], operators.preamble) if name not in self.bound
        )
        if uses_cluster_filter(operators):
            self.bound.update({"hashlib": "hashlib", "SPARK_CLUSTER_BASE": "", cluster.FILTER: ""})
        self.class_names: dict[str, str] = {}
        self.imports: set[str] = set(operators.imports)
        for spec in operators.specs():
            if isinstance(spec.operator, str):
                self.class_names[spec.operator] = self._import(spec.operator)
        self.vars: dict[str, str] = {}

    def _import(self, path: str) -> str:
        if path in self.class_names:
            return self.class_names[path]
        module, _, name = path.rpartition(".")
        chosen = name
        if self.bound.get(name, path) != path:
            chosen = free_name(f"{name}_2", set(self.bound))
        self.bound[chosen] = path
        alias = f" as {chosen}" if chosen != name else ""
        self.imports.add(f"from {module} import {name}{alias}")
        return chosen

    def call(
        self,
        spec: OperatorSpec,
        indent: int = 0,
        profile: tuple[str, Collection[str]] | None = None,
    ) -> str:
        """``Operator(key=value, ...)``, one keyword argument per line; ``profile`` (its
        module variable and argument names) is spread last, and its names win."""
        if isinstance(spec.operator, Expression):
            callee = spec.operator.source
            if spec.kwargs is None:
                return callee
        else:
            callee = self.class_names[spec.operator]
        lines = [f"{callee}("]
        overridden = set(profile[1]) if profile else set()
        for key, value in (spec.kwargs or {}).items():
            if key not in overridden:
                lines.append(f"    {key}={self.value(value, indent + 4)},")
        if profile:
            lines.append(f"    **{profile[0]},")
        lines.append(")")
        return "\n".join(lines)

    def value(self, value: object, indent: int = 0) -> str:
        """Source of one argument value: plain text renders to itself, markers as marked."""
        return layout(prepared(value), indent, WIDTH, self._flat)

    def _flat(self, value: object) -> str:
        if isinstance(value, Expression):
            return value.source
        if isinstance(value, Output):
            var = self.vars.get(value.task_id)
            if var is None:
                raise ValueError(f"Output({value.task_id!r}) names no operator of this DAG")
            return f"{var}.output" + (f"[{value.key!r}]" if value.key is not None else "")
        if isinstance(value, dt.timedelta):
            return f"datetime.timedelta(seconds={value.total_seconds()!r})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self._flat(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self._flat(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(self._flat(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return literal(value)


def prepared(value: object) -> object:
    """``value`` with its text final: plain strings neutralised, Templates as their text."""
    if isinstance(value, str):
        return neutralise_template(value)
    if isinstance(value, Template):
        return value.text
    if isinstance(value, dict):
        return {key: prepared(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(prepared(item) for item in value)
    return value


def uses_cluster_filter(operators: SparkOperators) -> bool:
    """Whether a Template of the specs names the per-run cluster filter."""
    return any(
        isinstance(item, Template) and cluster.FILTER in item.text
        for spec in operators.specs()
        for item in walk(dict(spec.kwargs or {}))
    )


def render_spark(
    writer: SpecWriter,
    plan: Plan,
    var_for: Callable[[str], str],
    project_name: str,
    spark_config: Any,
    profiles: Mapping[str, tuple[str, Collection[str]]] | None = None,
) -> SparkRendering:
    """The source of the writer's specs in the DAG of ``plan``; ``var_for`` gives each plan
    task's variable (the variable of the operator named after it, in a chain); ``profiles``
    the operator-args profile of Spark tasks, applied to every operator of their chain."""
    profiles = profiles or {}
    operators = writer.operators
    preamble = operators.preamble
    dag_kwargs = {key: value.source for key, value in operators.dag_arguments.items()}
    if uses_cluster_filter(operators):
        writer.imports.add(cluster.IMPORTS)
        preamble = "\n\n\n".join(
            part for part in (preamble, cluster.preamble(spark_config, project_name)) if part
        )
        dag_kwargs.update(cluster.dag_arguments())
    chain_vars = chain_variables(operators, plan, var_for, set(writer.bound))
    for task_id, names in chain_vars.items():
        for spec, var in zip(operators.submit[task_id], names, strict=True):
            writer.vars[spec.task_id or task_id] = var
    for spec, var in (
        (operators.create_cluster, CREATE_VAR),
        (operators.delete_cluster, DELETE_VAR),
    ):
        if spec is not None and spec.task_id:
            writer.vars[spec.task_id] = var
    rendering = SparkRendering(
        imports=sorted(writer.imports),
        preamble=preamble,
        dag_kwargs=dag_kwargs,
        chains={
            task_id: [
                (var, writer.call(spec, profile=profiles.get(task_id)))
                for spec, var in zip(operators.submit[task_id], chain_vars[task_id], strict=True)
            ]
            for task_id in operators.submit
        },
    )
    if operators.create_cluster is not None:
        rendering.create_cluster = writer.call(operators.create_cluster)
    if operators.delete_cluster is not None:
        rendering.delete_cluster = writer.call(operators.delete_cluster)
        entry = {task_id: names[0] for task_id, names in chain_vars.items()}
        exit_ = {task_id: names[-1] for task_id, names in chain_vars.items()}
        rendering.wiring = lifecycle_wiring(plan, entry, exit_, var_for)
    return rendering


def chain_variables(
    operators: SparkOperators, plan: Plan, var_for: Callable[[str], str], taken: set[str]
) -> dict[str, list[str]]:
    """The variable of each operator of each Spark task: the task's own for the operator
    named after it, a free name for the others."""
    used = taken | {var_for(task.task_id) for task in plan.tasks}
    result: dict[str, list[str]] = {}
    for task_id, chain in operators.submit.items():
        names = []
        for position, spec in enumerate(chain):
            if spec.task_id == task_id or (len(chain) == 1):
                names.append(var_for(task_id))
            else:
                name = free_name(identifier(spec.task_id or f"{task_id}_{position}"), used)
                used.add(name)
                names.append(name)
        result[task_id] = names
    return result


def lifecycle_wiring(
    plan: Plan,
    entry: Mapping[str, str],
    exit_: Mapping[str, str] | None = None,
    var_for: Callable[[str], str] | None = None,
) -> list[str]:
    """Create the cluster after the first Spark groups' other upstream tasks, delete it
    after the last Spark groups; the teardown runs even when a Spark task fails.

    ``entry`` and ``exit_`` give the first and last operator variable of each Spark task;
    ``var_for`` the variable of any task (``entry`` where it has none)."""
    exit_ = exit_ or entry
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

    def tasks(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"[{', '.join(names)}]"

    def exit_var(task_id: str) -> str:
        if task_id in exit_:
            return exit_[task_id]
        return var_for(task_id) if var_for else entry[task_id]

    start = f"{tasks([exit_var(u) for u in before])} >> " if before else ""
    return [
        "# The Spark cluster exists from just before the first Spark task to just after the last.",
        f"{start}{CREATE_VAR} >> {tasks([entry[t] for t in first])}",
        f"{tasks([exit_var(t) for t in last])} >> {DELETE_VAR}",
        f"{DELETE_VAR}.as_teardown(setups={CREATE_VAR})",
    ]


def module_bindings(import_lines: list[str]) -> dict[str, str]:
    """What each name bound by ``import_lines`` stands for (``module.Name`` or the module)."""
    bound: dict[str, str] = {}
    for node in ast.parse("\n".join(import_lines)).body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                bound[name] = alias.name if alias.asname else name
    return bound
