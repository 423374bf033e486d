"""The seed's string API as a SparkFactory: operator source strings parsed into specs, checked."""

from __future__ import annotations

import ast
import builtins
import symtable
import textwrap
from typing import Any

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark.base import (
    FactoryContext,
    SparkFactory,
    SparkGroup,
    SparkOperatorFactoryBase,
)
from kedro_airflow_k8s.spark.spec import FORBIDDEN_IMPORTS, Expression, OperatorSpec, Role

# Keyword arguments the DAG template itself gives DAG(...); a factory may not repeat them.
DAG_ARGUMENTS = frozenset(
    {"dag_id", "description", "schedule", "start_date", "catchup", "max_active_runs"}
    | {"default_args", "tags", "doc_md"}
)
# Names every generated DAG defines before the Spark operators are built.
DAG_NAMES = frozenset({"datetime", "DAG", "TaskGroup", "dag"})


class StringFactory(SparkFactory):
    """A ``SparkOperatorFactoryBase`` whose methods return source, seen as a SparkFactory.

    Each operator expression becomes a spec whose callee and keyword values are kept as
    written; errors name the factory (``who``) and the method.
    """

    def __init__(self, factory: SparkOperatorFactoryBase, who: str) -> None:
        self.factory = factory
        self.who = who
        self.sources: list[str] = []

    def create_cluster(self, context: FactoryContext) -> OperatorSpec | None:
        args = (context.project_name, context.run_config, context.artifacts.init)
        source = self.call("create_cluster_operator", *args, dict(context.options))
        return None if source is None else self.spec("create_cluster_operator", source, "setup")

    def delete_cluster(self, context: FactoryContext) -> OperatorSpec | None:
        source = self.call("delete_cluster_operator", context.project_name, context.run_config)
        return None if source is None else self.spec("delete_cluster_operator", source, "teardown")

    def submit(self, context: FactoryContext, group: SparkGroup) -> OperatorSpec:
        main = context.spark.main_python_file or context.artifacts.entry or ""
        args = (context.project_name, group, group.pipeline, context.run_config, main)
        return self.spec("submit_operator", self.call("submit_operator", *args))

    def call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.factory, method)(*args)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001 - the factory's own failure, named
            raise UserError(
                f"{self.who}: {method}() raised {type(error).__name__}: {error}"
            ) from None

    def spec(self, method: str, source: Any, role: Role = "task") -> OperatorSpec:
        """The spec of the one operator expression ``source``, checked."""
        if not isinstance(source, str) or not source.strip():
            raise UserError(
                f"{self.who}: {method}() returned {source!r}, not the source of an expression "
                "that builds an operator"
            )
        source = textwrap.dedent(source).strip()
        body = self.parse(source, "eval", f"{method}()").body
        self.sources.append(source)
        if isinstance(body, ast.Call) and not body.args and all(k.arg for k in body.keywords):
            callee = Expression(segment(source, body.func))
            kwargs = {k.arg: Expression(segment(source, k.value)) for k in body.keywords}
            return OperatorSpec(callee, kwargs, role)
        return OperatorSpec(Expression(source), None, role)

    def imports(self) -> list[str]:
        """``imports_statement`` as one line per import statement, checked."""
        try:
            statement = self.factory.imports_statement
        except Exception as error:  # noqa: BLE001
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

    def preamble(self, context: FactoryContext) -> str:
        source = self.call("preamble", context.project_name, context.run_config) or ""
        if not isinstance(source, str):
            raise UserError(f"{self.who}: preamble() returned {source!r}, not source")
        source = textwrap.dedent(source).strip()
        self.parse(source, "exec", "preamble()")
        return source

    def dag_arguments(self, context: FactoryContext) -> dict[str, Expression]:
        arguments = self.call("dag_arguments", context.project_name, context.run_config) or {}
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
        return {key: Expression(value.strip()) for key, value in arguments.items()}

    def parse(self, source: str, mode: str, what: str) -> Any:
        try:
            return ast.parse(source, mode=mode)
        except SyntaxError as error:
            kind = "an expression" if mode == "eval" else "Python statements"
            raise UserError(
                f"{self.who}: {what} returned source that is not {kind} "
                f"(line {error.lineno}: {error.msg}):\n{textwrap.indent(source, '    ')}"
            ) from None

    def check_names(self, imports: list[str], preamble: str, dag_arguments: list[str]) -> None:
        """Every name the operators use is imported, defined in the preamble or the DAG's."""
        module = "\n".join(
            [*imports, preamble]
            + [f"_ = (\n{source}\n)" for source in [*self.sources, *dag_arguments]]
        )
        missing = sorted(undefined_names(module) - DAG_NAMES)
        if missing:
            raise UserError(
                f"{self.who}: the generated operators use {', '.join(missing)}, which the "
                "factory's imports_statement does not import and its preamble() does not define"
            )


def segment(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node)
    return text if text is not None else ast.unparse(node)


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
