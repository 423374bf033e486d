"""Operator and DAG arguments passed through from the config, checked against real signatures."""

from __future__ import annotations

import re
from typing import Any

from kedro_airflow_k8s.airflow_rules import check_pool, check_queue
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.signatures import accepted_arguments, load
from kedro_airflow_k8s.source import literal, template_literal

OPERATOR_ARGS_TAG_PREFIX = "kedro-airflow-k8s.operator-args."
KPO = "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"
BASH = "airflow.providers.standard.operators.bash.BashOperator"
BASE_OPERATOR = "airflow.sdk.BaseOperator"

# Arguments given in seconds in YAML that Airflow wants as a timedelta.
DURATIONS = frozenset({"execution_timeout", "retry_delay", "max_retry_delay", "dagrun_timeout"})
# KubernetesPodOperator arguments that must be Kubernetes client objects, written in YAML
# as Kubernetes manifests spell them (camelCase or snake_case keys).
K8S_MODELS = {
    "volumes": "list[V1Volume]",
    "volume_mounts": "list[V1VolumeMount]",
    "env_from": "list[V1EnvFromSource]",
    "ports": "list[V1ContainerPort]",
    "init_containers": "list[V1Container]",
    "host_aliases": "list[V1HostAlias]",
    "affinity": "V1Affinity",
    "security_context": "V1PodSecurityContext",
    "container_security_context": "V1SecurityContext",
    "tolerations": "list[V1Toleration]",
    "dns_config": "V1PodDNSConfig",
}
# DAG arguments the generated DAG sets from other keys.
DAG_ARGS_ELSEWHERE = {
    "dag_id": "run_name",
    "description": "description",
    "schedule": "cron_expression",
    "start_date": "start_date",
    "catchup": "catchup",
    "max_active_runs": "max_active_runs",
    "default_args": "operator_args",
    "tags": "tags",
    "doc_md": "description",
    "params": "trigger_params",
    "on_success_callback": "callbacks.dag.on_success",
    "on_failure_callback": "callbacks.dag.on_failure",
}


# Task arguments set from other keys, or by the plugin for every task.
TASK_ARGS_ELSEWHERE = {
    "task_id": "the plan (kedro airflow-k8s plan)",
    "name": "the plan (kedro airflow-k8s plan)",
    "doc_md": "the plan",
    "arguments": "the plan",
    "cmds": "the plugin (kedro, or the trigger-params launcher)",
    "bash_command": "the plan",
    "env": "run_config.env_vars and local_runner.env_vars",
    "cwd": "run_config.local_runner.project_path",
    "pod_template_file": "run_config.kubernetes_pod_templates",
    "pod_template_dict": "run_config.kubernetes_pod_templates",
    "retries": "run_config.retries",
    "retry_delay": "run_config.retry_delay",
    "deferrable": "run_config.deferrable",
    "on_failure_callback": "run_config.callbacks.tasks.on_failure",
    "on_success_callback": "run_config.callbacks.tasks.on_success",
    "on_retry_callback": "run_config.callbacks.tasks.on_retry",
    "on_execute_callback": "run_config.callbacks.tasks.on_execute",
}
# Set for every pod through POD; a profile may override them, operator_args (default_args,
# which never beat an explicit argument) may not.
POD_ARGS = {
    "namespace": "run_config.namespace",
    "image": "run_config.image",
    "image_pull_policy": "run_config.image_pull_policy",
    "startup_timeout_seconds": "run_config.startup_timeout",
    "service_account_name": "run_config.service_account_name",
    "image_pull_secrets": "run_config.image_pull_secrets",
    "kubernetes_conn_id": "run_config.kubernetes_conn_id",
    "env_vars": "run_config.env_vars",
    "secrets": "run_config.secrets",
    "on_finish_action": "an operator_args_profiles entry",
    "get_logs": "an operator_args_profiles entry",
}


def check_task_names(arguments: dict[str, Any], operator_path: str, key: str, source: str) -> None:
    """Refuse names set elsewhere, then names the operator does not take."""
    elsewhere = dict(TASK_ARGS_ELSEWHERE)
    if key == "run_config.operator_args":
        elsewhere |= POD_ARGS
    for name in arguments:
        if name in elsewhere:
            raise UserError(
                f"{key}.{name} in {source}: every task gets {name} from {elsewhere[name]}; "
                "set it there"
            )
    check_names(arguments, operator_path, key, source)
    check_values(arguments, key, source)


# Values Airflow refuses only when the task is scheduled; refused here at compile.
VALUE_RULES = {"pool": check_pool, "queue": check_queue}


def check_values(arguments: dict[str, Any], key: str, source: str) -> None:
    for name, rule in VALUE_RULES.items():
        if name not in arguments:
            continue
        value = arguments[name]
        try:
            if not isinstance(value, str):
                raise ValueError(f"must be a name, not {type(value).__name__}")
            rule(value)
        except ValueError as error:
            raise UserError(f"{key}.{name} in {source}: {error}") from None


def check_deferrable(operator_path: str, source: str) -> None:
    """deferrable needs operators that take it; the Kedro tasks' operator must."""
    operator = load(operator_path)
    accepted = accepted_arguments(operator) if isinstance(operator, type) else None
    if accepted is not None and "deferrable" not in accepted:
        raise UserError(
            f"run_config.deferrable in {source}: {operator.__name__} cannot defer "
            "(node_runner local runs kedro on the worker); remove deferrable or run pods"
        )


def node_operator(node_runner: str) -> str:
    """Import path of the operator that runs the Kedro tasks."""
    return BASH if node_runner == "local" else KPO


def check_names(arguments: dict[str, Any], operator_path: str, key: str, source: str) -> None:
    """Refuse argument names the operator does not take (when its provider is importable)."""
    operator = load(operator_path)
    accepted = accepted_arguments(operator) if isinstance(operator, type) else None
    if accepted is None:
        return
    for name in arguments:
        if name not in accepted:
            close = sorted(a for a in accepted if a.startswith(name[:4]))[:5]
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise UserError(
                f"{key}.{name} in {source}: {operator.__name__} takes no argument '{name}'{hint}"
            )


def check_dag_names(arguments: dict[str, Any], source: str) -> None:
    for name in arguments:
        if name in DAG_ARGS_ELSEWHERE:
            raise UserError(
                f"run_config.dag_args.{name} in {source}: the DAG sets {name} from "
                f"run_config.{DAG_ARGS_ELSEWHERE[name]}; set it there"
            )
    check_names(arguments, "airflow.sdk.DAG", "run_config.dag_args", source)


def argument_source(name: str, value: Any, key: str, source: str, indent: int = 0) -> str:
    """Source of one argument value: a duration, a Kubernetes object, or a literal."""
    if name in DURATIONS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"datetime.timedelta(seconds={literal(value)})"
    if name in K8S_MODELS and value is not None:
        return k8s_source(value, K8S_MODELS[name], f"{key}.{name}", source, indent)
    return template_literal(value, indent)


def arguments_source(arguments: dict[str, Any], key: str, source: str) -> str:
    """A dict literal of operator arguments (module constant of a profile)."""
    if not arguments:
        return "{}"
    lines = [
        f"    {literal(name)}: {argument_source(name, value, key, source, 4)},"
        for name, value in arguments.items()
    ]
    return "{\n" + "\n".join(lines) + "\n}"


def k8s_source(value: Any, kind: str, key: str, source: str, indent: int = 0) -> str:
    """``k8s.V1...(...)`` source of a manifest fragment, checked field by field."""
    from kubernetes.client import models

    listed = re.fullmatch(r"list\[(.+)\]", kind)
    if listed:
        if not isinstance(value, list):
            raise UserError(f"{key} in {source} must be a list of {listed.group(1)}")
        pad = " " * (indent + 4)
        items = [
            f"{pad}{k8s_source(v, listed.group(1), f'{key}[{i}]', source, indent + 4)},"
            for i, v in enumerate(value)
        ]
        return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"
    if kind.startswith("dict(") or kind in {"str", "int", "bool", "float", "object", "datetime"}:
        return template_literal(value, indent)
    model = getattr(models, kind, None)
    if model is None:
        return template_literal(value, indent)
    if not isinstance(value, dict):
        raise UserError(f"{key} in {source} must be a mapping ({kind})")
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    fields = []
    for field, item in value.items():
        attr = field if field in model.openapi_types else by_json.get(field)
        if attr is None:
            raise UserError(
                f"{key}.{field} in {source}: {kind} has no field '{field}' "
                f"(fields: {', '.join(sorted(model.attribute_map.values()))})"
            )
        inner = k8s_source(item, model.openapi_types[attr], f"{key}.{field}", source, indent + 4)
        fields.append(f"{attr}={inner}")
    flat = f"k8s.{kind}({', '.join(fields)})"
    if len(flat) + indent <= 88 and "\n" not in flat:
        return flat
    pad = " " * (indent + 4)
    return f"k8s.{kind}(\n" + "".join(f"{pad}{f},\n" for f in fields) + " " * indent + ")"
