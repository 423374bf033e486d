"""Calls an operator factory and checks what it returns; errors name the factory and method."""

from __future__ import annotations

import ast
import builtins
import symtable
import textwrap
from typing import Any

from kedro_airflow_k8s.config import RunConfig, SparkConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.render import FORBIDDEN_IMPORTS, SparkRendering
from kedro_airflow_k8s.spark import custom
from kedro_airflow_k8s.spark.base import SparkOperatorFactoryBase
from kedro_airflow_k8s.spark.builtin import BuiltinFactory, SparkContext

# Keyword arguments the DAG template itself gives DAG(...); a factory may not repeat them.
DAG_ARGUMENTS = frozenset(
    {"dag_id", "description", "schedule", "start_date", "catchup", "max_active_runs"}
    | {"default_args", "tags", "doc_md"}
)
# Names every generated DAG defines before the Spark operators are built.
DAG_NAMES = frozenset({"datetime", "DAG", "TaskGroup", "dag"})


class FactoryCalls:
    """The methods of one factory, called with their results checked before they reach the DAG."""

    def __init__(self, factory: SparkOperatorFactoryBase, spark: SparkConfig) -> None:
        self.factory = factory
        self.custom = spark.backend == "custom" or bool(getattr(spark, "operator_factory", None))
        self.who = (
            f"{custom.KEY} '{spark.operator_factory}'"
            if self.custom
            else f"the built-in '{spark.backend}' Spark backend"
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

    def entry_script(self, run: RunConfig, context: SparkContext) -> str:
        if isinstance(self.factory, BuiltinFactory):
            return self.call("entry_script", run)
        return run.spark.main_python_file or context.artifacts.get("entry") or ""

    def operator(self, method: str, *args: Any) -> str:
        """The source of the one operator expression ``method`` returns, checked."""
        return self._checked_operator(method, self.call(method, *args))

    def optional_operator(self, method: str, *args: Any) -> str | None:
        """Like ``operator``, but None (no such task) is an answer too."""
        source = self.call(method, *args)
        return None if source is None else self._checked_operator(method, source)

    def _checked_operator(self, method: str, source: Any) -> str:
        if not isinstance(source, str) or not source.strip():
            raise UserError(
                f"{self.who}: {method}() returned {source!r}, not the source of an expression "
                "that builds an operator"
            )
        source = textwrap.dedent(source).strip()
        self.parse(source, "eval", f"{method}()")
        return source

    def imports(self) -> list[str]:
        try:
            statement = self.factory.imports_statement
        except Exception as error:
            if not self.custom:
                raise
            raise UserError(
                f"{self.who}: imports_statement raised {type(error).__name__}: {error}"
            ) from None
        if not isinstance(statement, str):
            raise UserError(f"{self.who}: imports_statement is {statement!r}, not source")
        tree = self.parse(textwrap.dedent(statement), "exec", "imports_statement")
        lines = []
        for node in tree.body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or getattr(node, "level", 0):
                raise UserError(
                    f"{self.who}: imports_statement may hold only absolute import statements, "
                    f"not {ast.unparse(node)!r}"
                )
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            for module in modules:
                if str(module).split(".")[0] in FORBIDDEN_IMPORTS:
                    raise UserError(
                        f"{self.who}: imports_statement imports '{module}'; DAG files must need "
                        "only Airflow and its providers, since Airflow parses them every minute"
                    )
            # One line per statement, so the DAG renderer can sort them like isort.
            lines.append(ast.unparse(node))
        return lines

    def preamble(self, project_name: str, run: RunConfig) -> str:
        source = self.call("preamble", project_name, run) or ""
        if not isinstance(source, str):
            raise UserError(f"{self.who}: preamble() returned {source!r}, not source")
        source = textwrap.dedent(source).strip()
        self.parse(source, "exec", "preamble()")
        return source

    def dag_arguments(self, project_name: str, run: RunConfig) -> dict[str, str]:
        arguments = self.call("dag_arguments", project_name, run) or {}
        if not isinstance(arguments, dict):
            raise UserError(f"{self.who}: dag_arguments() returned {arguments!r}, not a dict")
        for key, value in arguments.items():
            if not isinstance(key, str) or not key.isidentifier() or key in DAG_ARGUMENTS:
                raise UserError(
                    f"{self.who}: dag_arguments() key {key!r} is not a DAG argument it may set"
                )
            if not isinstance(value, str):
                raise UserError(f"{self.who}: dag_arguments()[{key!r}] is {value!r}, not source")
            self.parse(value, "eval", f"dag_arguments()[{key!r}]")
        return dict(arguments)

    def parse(self, source: str, mode: str, what: str) -> Any:
        try:
            return ast.parse(source, mode=mode)
        except SyntaxError as error:
            kind = "an expression" if mode == "eval" else "Python statements"
            raise UserError(
                f"{self.who}: {what} returned source that is not {kind} "
                f"(line {error.lineno}: {error.msg}):\n{textwrap.indent(source, '    ')}"
            ) from None

    def check_names(self, rendering: SparkRendering) -> None:
        """Every name the operators use is imported, defined in the preamble or the DAG's."""
        expressions = [rendering.create_cluster, rendering.delete_cluster]
        expressions += [*rendering.submit.values(), *rendering.dag_kwargs.values()]
        module = "\n".join(
            [*rendering.imports, rendering.preamble]
            + [f"_ = (\n{source}\n)" for source in expressions if source]
        )
        missing = sorted(undefined_names(module) - DAG_NAMES)
        if missing:
            raise UserError(
                f"{self.who}: the generated operators use {', '.join(missing)}, which the "
                "factory's imports_statement does not import and its preamble() does not define"
            )


def undefined_names(module_source: str) -> set[str]:
    """Global names ``module_source`` reads but never binds (nor are builtins)."""
    top = symtable.symtable(module_source, "<spark operators>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    read: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                read.add(symbol.get_name())
        tables.extend(table.get_children())
    return read - bound - set(dir(builtins))
