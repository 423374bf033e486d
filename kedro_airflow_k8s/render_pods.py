"""The node tasks of the DAG: KubernetesPodOperator or BashOperator source per plan task."""

from __future__ import annotations

import shlex
from pathlib import Path

from kedro_airflow_k8s import trigger_params
from kedro_airflow_k8s.config import (
    DEFAULT_PROFILE,
    ResourceProfile,
    RunConfig,
    SecretRef,
)
from kedro_airflow_k8s.kedro_run import params_value
from kedro_airflow_k8s.naming import dns_label
from kedro_airflow_k8s.plan import Task
from kedro_airflow_k8s.render_parts import DagContext
from kedro_airflow_k8s.source import identifier, literal, neutralise_template, template_literal
from kedro_airflow_k8s.variables import environment_source


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


def local_python(run: RunConfig) -> str:
    """The python that runs kedro locally when trigger params need the launcher."""
    if run.local_runner.python:
        return run.local_runner.python
    kedro = run.local_runner.kedro_command
    return str(Path(kedro).with_name("python")) if "/" in kedro else "python"


def pod_task(task: Task, ctx: DagContext, run: RunConfig, operator_profile: str | None) -> str:
    """``KubernetesPodOperator(...)`` running ``kedro run`` for the nodes of ``task``."""
    args, params = kedro_arguments(task, ctx, run)
    if params:
        args += ["--params", params]
    profile = task.profiles.get("resources")  # chosen when planning
    template = task.profiles.get("kubernetes_pod_templates")
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
        tpl = run.kubernetes_pod_templates[template]
        if tpl.file:
            lines.append(f"    pod_template_file={template_literal(tpl.file)},")
        else:
            lines.append(f"    pod_template_dict={template_literal(tpl.spec, 4)},")
    spreads = ["POD"] + ([profile_var(profile)] if profile else [])
    if operator_profile:  # merged, so a profile may also set what POD or resources set
        spreads.append(operator_profile)
        lines.append(f"    **{{{', '.join('**' + s for s in spreads)}}},")
    else:
        lines += [f"    **{spread}," for spread in spreads]
    lines.append(")")
    return "\n".join(lines)


def bash_task(task: Task, ctx: DagContext, run: RunConfig, operator_profile: str | None) -> str:
    """``BashOperator(...)`` running ``kedro run`` for ``task`` on the Airflow worker."""
    args, params = kedro_arguments(task, ctx, run)
    program = shlex.quote(run.local_runner.kedro_command)
    if run.trigger_params:  # the launcher, held in the task's environment, runs kedro
        python = shlex.quote(local_python(run))
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
    if operator_profile:
        lines.append(f"    **{operator_profile},")
    lines.append(")")
    return "\n".join(lines)
