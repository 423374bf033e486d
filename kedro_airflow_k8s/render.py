"""Turn a plan and the plugin config into DAG source through the Jinja template."""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from kedro_airflow_k8s import __version__, mlflow_run, operator_args, trigger_params
from kedro_airflow_k8s.assets import schedule_source, with_assets
from kedro_airflow_k8s.atomic import write_atomic  # noqa: F401 - commands write DAGs with it
from kedro_airflow_k8s.callbacks import CallbackSources, render_callbacks
from kedro_airflow_k8s.config import (
    DEFAULT_PROFILE,
    POD_TEMPLATE_TAG_PREFIX,
    RESOURCES_TAG_PREFIX,
    PluginConfig,
    ResourceProfile,
    RunConfig,
    SecretRef,
)
from kedro_airflow_k8s.dag_version import PLUGIN_TAG
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.naming import dns_label
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.source import (
    comment,
    identifier,
    literal,
    neutralise_template,
    template_literal,
)
from kedro_airflow_k8s.variables import environment_source

TEMPLATES = Path(__file__).parent / "templates"
FORBIDDEN_IMPORTS = ("kedro", "kedro_airflow_k8s")


@dataclass
class DagContext:
    """Facts about the project that the DAG mentions, beyond the plan and config."""

    project_name: str
    package_name: str
    env: str
    pipeline_name: str
    project_path: str
    commit_sha: str | None = None
    node_tags: dict[str, set[str]] = field(default_factory=dict)
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


@dataclass
class SparkRendering:
    """What a Spark backend adds to the DAG; produced by ``kedro_airflow_k8s.spark``."""

    imports: list[str] = field(default_factory=list)
    preamble: str = ""
    create_cluster: str | None = None
    delete_cluster: str | None = None
    submit: dict[str, str] = field(default_factory=dict)
    dag_kwargs: dict[str, str] = field(default_factory=dict)
    wiring: list[str] = field(default_factory=list)


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


def kedro_arguments(
    task: Task, ctx: DagContext, run_config: RunConfig
) -> tuple[list[str], str | None]:
    """The ``kedro run`` arguments of a task, and its ``--params`` value (with macros)."""
    from kedro_airflow_k8s.kedro_run import kedro_run_arguments
    from kedro_airflow_k8s.node_names import check_nodes_option

    args = kedro_run_arguments(ctx.pipeline_name, ctx.env, task.nodes, namespace=task.namespace)
    if "--nodes" in args:
        check_nodes_option(task.task_id, task.nodes)
    return args, params_value(run_config, ctx.params)


def params_value(run_config: RunConfig, baked: str | None = None) -> str | None:
    """The ``--params`` value of every task: the compile command's ``--params`` (as
    written, never templated), then the Airflow macros and Variables."""
    parts = [neutralise_template(baked)] if baked else []
    # These are meant as Airflow templates; they are the only text not neutralised.
    parts += [f"{name}={{{{ {name} }}}}" for name in run_config.macro_params]
    parts += [f"{name}={{{{ var.value.{name} }}}}" for name in run_config.variables_params]
    return ",".join(parts) or None


def profile_for(tags: set[str], prefix: str, known: dict[str, Any], what: str, node: str) -> str:
    chosen = sorted(tag[len(prefix) :] for tag in tags if tag.startswith(prefix))
    for name in chosen:
        if name not in known:
            raise UserError(
                f"node '{node}' has the tag '{prefix}{name}' but run_config.{what} has no "
                f"profile '{name}'; add it or remove the tag (known: {', '.join(known) or 'none'})"
            )
    if chosen:
        return chosen[0]
    return DEFAULT_PROFILE if DEFAULT_PROFILE in known else ""


def task_profile(task: Task, ctx: DagContext, known: dict[str, Any], prefix: str, what: str) -> str:
    names = {
        profile_for(ctx.node_tags.get(node, set()), prefix, known, what, node)
        for node in task.nodes
    }
    names.discard("")
    if len(names) > 1 and DEFAULT_PROFILE in names:
        names.discard(DEFAULT_PROFILE)
    if len(names) > 1:
        raise UserError(
            f"task '{task.task_id}' runs nodes with different {what} profiles "
            f"({', '.join(sorted(names))}); give its nodes {', '.join(task.nodes)} one profile"
        )
    return names.pop() if names else ""


def secret_source(secret: SecretRef) -> str:
    args = [literal(secret.deploy_type), literal(secret.deploy_target), literal(secret.secret)]
    if secret.key:
        args.append(literal(secret.key))
    return f"Secret({', '.join(args)})"


def profile_source(profile: ResourceProfile) -> str:
    """Keyword arguments of KubernetesPodOperator for one resource profile."""
    lines = []
    if profile.requests or profile.limits:
        lines.append(
            '    "container_resources": k8s.V1ResourceRequirements(\n'
            f"        requests={template_literal(profile.requests or None, 8)},\n"
            f"        limits={template_literal(profile.limits or None, 8)},\n"
            "    ),"
        )
    if profile.node_selectors:
        lines.append(f'    "node_selector": {template_literal(profile.node_selectors, 4)},')
    if profile.tolerations:
        items = []
        for tol in profile.tolerations:
            kwargs = tol.model_dump(exclude_none=True)
            body = ", ".join(f"{k}={literal(v)}" for k, v in kwargs.items())
            items.append(f"        k8s.V1Toleration({body}),")
        lines.append('    "tolerations": [\n' + "\n".join(items) + "\n    ],")
    if profile.labels:
        lines.append(f'    "labels": {template_literal(profile.labels, 4)},')
    if profile.annotations:
        lines.append(f'    "annotations": {template_literal(profile.annotations, 4)},')
    return "{\n" + "\n".join(lines) + "\n}" if lines else "{}"


def doc_md(task: Task) -> str:
    lines = [f"Kedro nodes run by this task ({task.kind}):", ""]
    lines += [f"- `{name}`: {task.reasons.get(name, '')}".rstrip(": ") for name in task.nodes]
    return "\n".join(lines)


class DagRenderer:
    """Builds the template context for one DAG and renders it."""

    def __init__(self, plan: Plan, config: PluginConfig, ctx: DagContext) -> None:
        self.plan = plan
        self.config = config
        self.run = config.run_config
        self.ctx = ctx
        self.imports: set[str] = set()
        self.vars: dict[str, str] = {}
        self.reserved: set[str] = set(RESERVED_NAMES)
        self.callbacks = CallbackSources()

    def var_for(self, task_id: str) -> str:
        if task_id not in self.vars:
            self.vars[task_id] = free_name(
                identifier(task_id), set(self.vars.values()) | self.reserved
            )
        return self.vars[task_id]

    # -- node tasks -------------------------------------------------------------------------
    def pod_task(self, task: Task) -> str:
        args, params = kedro_arguments(task, self.ctx, self.run)
        if params:
            args += ["--params", params]
        profile = task_profile(
            task, self.ctx, self.run.resources, RESOURCES_TAG_PREFIX, "resources"
        )
        template = task_profile(
            task,
            self.ctx,
            self.run.kubernetes_pod_templates,
            POD_TEMPLATE_TAG_PREFIX,
            "kubernetes_pod_templates",
        )
        # The --params value holds the intended macros (built from validated parameter
        # names); every other argument is neutralised.
        rendered_args = [neutralise_template(a) for a in args[:-1]] + [args[-1]]
        if not params:
            rendered_args[-1] = neutralise_template(args[-1])
        lines = [
            "KubernetesPodOperator(",
            f"    task_id={literal(task.task_id)},",
            f"    name={literal(pod_name(task.task_id))},",
            f"    doc_md={literal(doc_md(task), 4)},",
            f"    arguments={literal(rendered_args, 4)},",
        ]
        if template:
            tpl = self.run.kubernetes_pod_templates[template]
            if tpl.file:
                lines.append(f"    pod_template_file={template_literal(tpl.file)},")
            else:
                lines.append(f"    pod_template_dict={template_literal(tpl.spec, 4)},")
        spreads = ["POD"] + ([profile_var(profile)] if profile else [])
        arguments = self.operator_profile(task)
        if arguments:  # merged, so a profile may also set what POD or resources set
            spreads.append(arguments)
            lines.append(f"    **{{{', '.join('**' + s for s in spreads)}}},")
        else:
            lines += [f"    **{spread}," for spread in spreads]
        lines.append(")")
        return "\n".join(lines)

    def bash_task(self, task: Task) -> str:
        args, params = kedro_arguments(task, self.ctx, self.run)
        program = shlex.quote(self.run.local_runner.kedro_command)
        if self.run.trigger_params:  # the launcher, held in the task's environment, runs kedro
            python = shlex.quote(local_python(self.run))
            program = f'{python} -c "${trigger_params.LAUNCHER_NAME}"'
        command = " ".join([program] + [shlex.quote(a) for a in args])
        if params:
            command += ' --params "$KEDRO_AIRFLOW_K8S_PARAMS"'
        if command.endswith((".sh", ".bash")):
            command += " "  # Airflow would read a command ending in .sh as a template file
        lines = [
            "BashOperator(",
            f"    task_id={literal(task.task_id)},",
            f"    doc_md={literal(doc_md(task), 4)},",
            f"    bash_command={literal(neutralise_template(command))},",
        ]
        if params:
            lines.append(f'    env={{**LOCAL_ENV, "KEDRO_AIRFLOW_K8S_PARAMS": {literal(params)}}},')
        else:
            lines.append("    env=LOCAL_ENV,")
        lines += ["    cwd=PROJECT_PATH,", "    append_env=True,"]
        arguments = self.operator_profile(task)
        if arguments:
            lines.append(f"    **{arguments},")
        lines.append(")")
        return "\n".join(lines)

    # -- assembly ---------------------------------------------------------------------------
    def context(self, spark: SparkRendering | None) -> dict[str, Any]:
        run = self.run
        local = run.node_runner == "local"
        if spark is not None:
            self.reserved |= module_names(spark.imports, spark.preamble)
        self.callbacks = render_callbacks(run.callbacks, self.ctx.config_source or "run_config")
        self.reserved |= module_names(sorted(self.callbacks.imports), "")
        self.vars = task_variables(self.plan, self.reserved)
        blocks: list[TaskBlock] = []
        for task in self.plan.tasks:
            var = self.var_for(task.task_id)
            if task.is_spark and spark is not None and task.task_id in spark.submit:
                source = spark.submit[task.task_id]
            elif local:
                source = self.bash_task(task)
            else:
                source = self.pod_task(task)
            if self.ctx.assets is not None:
                source = with_assets(
                    source,
                    self.ctx.assets.inlets.get(task.task_id, []),
                    self.ctx.assets.outlets.get(task.task_id, []),
                )
            upstream = [self.var_for(t) for t in task.upstream]
            blocks.append(TaskBlock(var, task.task_id, task.kind, source, upstream))

        imports = {"import datetime", "from airflow.sdk import DAG"}
        if local:
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
        if spark is not None:
            imports.update(spark.imports)
        mlflow = mlflow_run.rendering(
            run,
            self.plan.dag_id,
            commit_sha=self.ctx.commit_sha,
            pipeline=self.ctx.pipeline_name,
            env=self.ctx.env,
        )
        task_env = mlflow.env if mlflow else {}
        if mlflow is not None:
            imports.update(mlflow.imports)
        if run.trigger_params:
            imports.add("from airflow.sdk import Param")
        if run.schedule_on_assets or any("Asset(" in block.source for block in blocks):
            imports.add("from airflow.sdk import Asset")
        imports |= self.callbacks.imports

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
            "spark": spark,
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
        name = task_profile(
            task,
            self.ctx,
            self.run.operator_args_profiles,
            operator_args.OPERATOR_ARGS_TAG_PREFIX,
            "operator_args_profiles",
        )
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

    def render(self, spark: SparkRendering | None = None) -> str:
        template = jinja_environment().get_template("airflow_dag.py.j2")
        return template.render(**self.context(spark))


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


def pod_name(task_id: str) -> str:
    return dns_label(task_id, fallback="kedro-node")


def operator_profile_var(name: str) -> str:
    return "OPERATOR_ARGS_" + identifier(name, prefix="profile").upper()


def profile_var(name: str) -> str:
    """The module variable of a resource profile; distinct names give distinct variables
    (``a-b`` and ``a_b``, ``default`` and ``__default__``, ``é`` and ``名``)."""
    import re

    from kedro_airflow_k8s.naming import short_hash

    if name == DEFAULT_PROFILE:
        return "RESOURCES_DEFAULT"
    base = "RESOURCES_" + identifier(name, prefix="profile").upper()
    # Only a plain lowercase name maps back to itself; anything else carries its hash.
    if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name) and name != "default":
        return base
    return f"{base}_{short_hash(name, 8).upper()}"


def pod_defaults(
    run: RunConfig, task_env: dict[str, str] | None = None, launcher: bool = False
) -> str:
    """Arguments every pod shares; ``task_env`` holds templates of the plugin's own."""
    command = f'["python", "-c", {trigger_params.LAUNCHER_NAME}]' if launcher else '["kedro"]'
    lines = [
        f'    "namespace": {template_literal(run.namespace)},',
        f'    "image": {template_literal(run.image)},',
        f'    "image_pull_policy": {literal(run.image_pull_policy)},',
        f'    "cmds": {command},',
        f'    "startup_timeout_seconds": {literal(run.startup_timeout)},',
        '    "on_finish_action": "delete_pod",',
        '    "get_logs": True,',
    ]
    if run.service_account_name:
        lines.append(f'    "service_account_name": {literal(run.service_account_name)},')
    if run.image_pull_secrets:
        refs = ", ".join(
            f"k8s.V1LocalObjectReference(name={literal(n)})" for n in run.image_pull_secrets
        )
        lines.append(f'    "image_pull_secrets": [{refs}],')
    if run.kubernetes_conn_id:
        lines.append(f'    "kubernetes_conn_id": {template_literal(run.kubernetes_conn_id)},')
    if run.env_vars or task_env:
        env = environment_source(run.env_vars, indent=4, templates=task_env)
        lines.append(f'    "env_vars": {env},')
    if run.secrets:
        items = "\n".join(f"        {secret_source(s)}," for s in run.secrets)
        lines.append('    "secrets": [\n' + items + "\n    ],")
    return "{\n" + "\n".join(lines) + "\n}"


def sensor_name(dag_id: str, task_id: str | None) -> str:
    """The sensor's task id (and variable): readable, and short enough for Airflow's 250
    characters once the ids it waits for are in it."""
    from kedro_airflow_k8s.naming import short_hash

    name = f"wait_for_{dag_id}" + (f"_{task_id}" if task_id else "")
    if len(name) > 200:
        name = f"{name[:190]}_{short_hash(name, 8)}"
    return name


def local_python(run: RunConfig) -> str:
    """The python that runs kedro locally when trigger params need the launcher."""
    if run.local_runner.python:
        return run.local_runner.python
    kedro = run.local_runner.kedro_command
    return str(Path(kedro).with_name("python")) if "/" in kedro else "python"


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

    def module(line: str) -> str:
        return line.split()[1]

    first = sorted((i for i in imports if module(i).split(".")[0] in stdlib), key=module)
    rest = sorted((i for i in imports if module(i).split(".")[0] not in stdlib), key=module)
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
