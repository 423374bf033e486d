"""DAG-level parts of the generated source: names, imports, docs, dependencies, the checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s import __version__, mlflow_run
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.plan import Plan
from kedro_airflow_k8s.source import identifier, literal, template_literal
from kedro_airflow_k8s.spark.spec import FORBIDDEN_IMPORTS


@dataclass
class DagContext:
    """Facts about the project that the DAG mentions, beyond the plan and config."""

    project_name: str
    package_name: str
    env: str
    pipeline_name: str
    project_path: str
    commit_sha: str | None = None
    version: str | None = None
    """``dag_version.dag_version`` of the source rendered without it."""
    config_source: str = ""
    params: str | None = None
    trigger_defaults: dict[str, Any] = field(default_factory=dict)
    assets: Any = None
    """``assets.TaskAssets`` of the plan, when run_config.assets is on."""


@dataclass
class TaskBlock:
    """One operator in the DAG source: its variable, its constructor call, its upstream."""

    var: str
    task_id: str
    kind: str
    source: str
    upstream: list[str] = field(default_factory=list)


def free_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def task_variables(plan: Plan, reserved: set[str]) -> dict[str, str]:
    """The Python variable of each task, in plan order, avoiding ``reserved`` names.

    The Spark wiring names tasks with this same function, so both agree.
    """
    names: dict[str, str] = {}
    for task in plan.tasks:
        names[task.task_id] = free_name(identifier(task.task_id), set(names.values()) | reserved)
    return names


def module_names(imports: list[str], preamble: str) -> set[str]:
    """Names bound at module level by import lines and preamble source."""
    import ast

    names: set[str] = set()
    tree = ast.parse("\n".join([*imports, preamble]))
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


RESERVED_NAMES = {
    "dag",
    "kedro",
    "k8s",
    "datetime",
    "POD",
    "LOCAL_ENV",
    "Param",
    "Asset",
    "KEDRO_TASK_IDS",
    "TRIGGER_PARAMS",
    "KEDRO_WITH_TRIGGER_PARAMS",
    "PROJECT_PATH",
    "create_cluster",
    "delete_cluster",
    "DAG",
    "KEDRO_AIRFLOW_K8S",
    "Secret",
    "BashOperator",
    "KubernetesPodOperator",
    "ExternalTaskSensor",
    "os",
    "hashlib",
    *mlflow_run.DAG_NAMES,
}


def sensor_name(dag_id: str, task_id: str | None) -> str:
    """The sensor's task id (and variable): readable, and short enough for Airflow's 250
    characters once the ids it waits for are in it."""
    from kedro_airflow_k8s.naming import short_hash

    name = f"wait_for_{dag_id}" + (f"_{task_id}" if task_id else "")
    if len(name) > 200:
        name = f"{name[:190]}_{short_hash(name, 8)}"
    return name


def sensor_source(var: str, dep: Any) -> str:
    lines = [
        "ExternalTaskSensor(",
        f"    task_id={literal(var)},",
        f"    external_dag_id={template_literal(dep.dag_id)},",
    ]
    if dep.task_id:
        lines.append(f"    external_task_id={template_literal(dep.task_id)},")
    if dep.execution_delta:
        lines.append(f"    execution_delta=datetime.timedelta(minutes={dep.execution_delta}),")
    lines += [
        f"    check_existence={literal(dep.check_existence)},",
        f"    timeout={literal(dep.timeout)},",
        f"    mode={literal(dep.mode)},",
        ")",
    ]
    return "\n".join(lines)


def dependency_lines(blocks: list[TaskBlock]) -> list[str]:
    lines = []
    for block in blocks:
        if not block.upstream:
            continue
        if len(block.upstream) == 1:
            lines.append(f"{block.upstream[0]} >> {block.var}")
        else:
            lines.append(f"[{', '.join(block.upstream)}] >> {block.var}")
    return lines


def sort_imports(imports: set[str]) -> list[str]:
    """Standard library first, then Airflow and providers, as isort would order them."""
    stdlib = {"datetime", "functools", "hashlib", "json", "os", "re"}

    def module(line: str) -> tuple[str, str]:
        return line.split()[1], line  # equal modules in a fixed order, whatever the set's

    first = sorted((i for i in imports if module(i)[0].split(".")[0] in stdlib), key=module)
    rest = sorted((i for i in imports if module(i)[0].split(".")[0] not in stdlib), key=module)
    return first + ([""] if first and rest else []) + rest


def start_date_source(start: dt.date) -> str:
    """``datetime.datetime(...)`` in UTC; a time of day only where ``start`` has one."""
    parts = [start.year, start.month, start.day]
    if isinstance(start, dt.datetime) and (start.hour or start.minute):
        parts += [start.hour, start.minute]
    return f"datetime.datetime({', '.join(map(str, parts))}, tzinfo=datetime.timezone.utc)"


def header_doc(plan: Plan, ctx: DagContext) -> str:
    return (
        f"Airflow DAG for the Kedro project '{ctx.project_name}' "
        f"(pipeline '{ctx.pipeline_name}', env '{ctx.env}').\n\n"
        f"Generated by kedro-airflow-k8s {__version__}. Change "
        f"{ctx.config_source or f'conf/{ctx.env}/airflow-k8s.yml'} "
        "and run `kedro airflow-k8s compile` rather than editing this file."
    )


def provenance(ctx: DagContext) -> dict[str, str | None]:
    """The module constant naming what generated the DAG (tags stay the user's)."""
    return {
        "generator": f"kedro-airflow-k8s {__version__}",
        "project": ctx.project_name,
        "pipeline": ctx.pipeline_name,
        "env": ctx.env,
        "commit": ctx.commit_sha,
        "dag_version": ctx.version,
    }


def dag_doc(plan: Plan, ctx: DagContext) -> str:
    spark = len(plan.spark_tasks)
    lines = [
        f"Kedro project **{ctx.project_name}**, pipeline `{ctx.pipeline_name}`, "
        f"env `{ctx.env}`, commit `{ctx.commit_sha or 'unknown'}`.",
        "",
        f"{len(plan.tasks)} tasks; {spark} run as Spark applications.",
        "",
        f"Generated by kedro-airflow-k8s {__version__}"
        + (f", DAG version `{ctx.version}`." if ctx.version else "."),
    ]
    return "\n".join(lines)


def check_source(source: str, filename: str) -> None:
    """Compile the generated source and refuse imports of Kedro or this plugin."""
    import ast

    try:
        tree = ast.parse(source, filename=filename)
        compile(tree, filename, "exec")
    except SyntaxError as error:
        raise RuntimeError(
            f"the generated DAG {filename} does not compile (line {error.lineno}: {error.msg}); "
            "this is a bug in kedro-airflow-k8s or in a custom operator factory"
        ) from error
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in FORBIDDEN_IMPORTS:
                raise UserError(
                    f"the generated DAG would import '{name}'; DAG files must need only Airflow "
                    "and its providers (check the custom operator factory's imports_statement)"
                )
