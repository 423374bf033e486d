"""Operator specs: what a Spark factory returns, as data the DAG renderer turns into source.

A spec names the operator class by its import path and holds its keyword arguments as
plain Python values. Plain strings are written so that Airflow renders them to exactly
themselves; the markers below say where something else is meant:

- ``Template("{{ ds }}")``: text for a templated field that Airflow must render;
- ``Output("create_spark_cluster")``: another operator's output, written as the Airflow
  idiom ``create_cluster.output`` (``Output(task_id, key)`` for ``.output["key"]``);
- ``Expression("...")``: Python source kept as written (what a string factory returned).

A spec's ``role`` makes it a ``setup`` task (the cluster's creation) or a ``teardown``
task (its deletion, which runs even when a Spark task fails).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["task", "setup", "teardown"]


@dataclass(frozen=True)
class Template:
    """Text for a templated operator field that Airflow renders (macros, filters)."""

    text: str

    def __add__(self, other: str | Template) -> Template:
        return Template(self.text + _template_text(other))

    def __radd__(self, other: str | Template) -> Template:
        return Template(_template_text(other) + self.text)


@dataclass(frozen=True)
class Output:
    """The output (XCom) of the operator whose task id is ``task_id``; ``key`` picks one
    entry of it, as ``operator.output["key"]`` does."""

    task_id: str
    key: str | None = None


@dataclass(frozen=True)
class Expression:
    """Python source of one expression, written into the DAG as it is."""

    source: str


Value = Any
"""str, int, float, bool, None, datetime.timedelta, a marker, or lists, tuples and dicts
(with str keys) of those."""


@dataclass(frozen=True)
class OperatorSpec:
    """One Airflow operator of the DAG: its class's import path and its keyword arguments."""

    operator: str | Expression
    """``package.module.ClassName``, e.g.
    ``airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator``; an
    Expression is a callee written as source (a string factory's, imported by it)."""
    kwargs: Mapping[str, Value] | None = field(default_factory=dict)
    """Keyword arguments; None when ``operator`` is the whole expression (not called)."""
    role: Role = "task"

    @property
    def task_id(self) -> str | None:
        value = (self.kwargs or {}).get("task_id")
        if isinstance(value, Expression):
            import ast

            try:
                value = ast.literal_eval(value.source)
            except (ValueError, SyntaxError):
                return None
        return value if isinstance(value, str) else None

    def with_kwargs(self, **kwargs: Value) -> OperatorSpec:
        """This spec with ``kwargs`` added; those already set stay as they are."""
        if self.kwargs is None:
            return self
        merged = {**self.kwargs, **{k: v for k, v in kwargs.items() if k not in self.kwargs}}
        first = [key for key in ("task_id", "doc_md") if key in merged]
        ordered = {key: merged[key] for key in first} | merged
        return OperatorSpec(self.operator, ordered, self.role)

    def with_role(self, role: Role) -> OperatorSpec:
        return OperatorSpec(self.operator, self.kwargs, role)


@dataclass
class SparkOperators:
    """Everything a Spark backend adds to one DAG, for the renderer."""

    submit: dict[str, tuple[OperatorSpec, ...]] = field(default_factory=dict)
    """Per Spark task of the plan, the operators that run it, chained in this order."""
    create_cluster: OperatorSpec | None = None
    delete_cluster: OperatorSpec | None = None
    imports: tuple[str, ...] = ()
    """Import lines a string factory's source needs (specs need none)."""
    preamble: str = ""
    """Module-level source a string factory wrote (specs need none)."""
    dag_arguments: dict[str, Expression] = field(default_factory=dict)

    def specs(self) -> Iterator[OperatorSpec]:
        if self.create_cluster is not None:
            yield self.create_cluster
        for chain in self.submit.values():
            yield from chain
        if self.delete_cluster is not None:
            yield self.delete_cluster


def as_chain(result: OperatorSpec | Sequence[OperatorSpec]) -> tuple[OperatorSpec, ...]:
    """A factory's submit result as a tuple of specs (one operator, or several in order)."""
    if isinstance(result, OperatorSpec):
        return (result,)
    return tuple(result)


def walk(value: Value) -> Iterator[Value]:
    """``value`` and every value inside it."""
    yield value
    if isinstance(value, Mapping):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)


def check_value(value: Value, where: str) -> None:
    """Raise TypeError naming ``where`` if ``value`` cannot be written into a DAG."""
    if value is None or isinstance(
        value, (str, bool, int, float, dt.timedelta, Template, Output, Expression)
    ):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; keys must be strings")
            check_value(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            check_value(item, f"{where}[{position}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; use plain values, Template, Output or Expression"
    )


def _template_text(value: str | Template) -> str:
    if isinstance(value, Template):
        return value.text
    from kedro_airflow_k8s.source import neutralise_template

    return neutralise_template(value)


FORBIDDEN_IMPORTS = ("kedro", "kedro_airflow_k8s")
"""Packages a DAG file must not import: Airflow parses it every few seconds, without Kedro."""
