"""The `kedro run` arguments of a task, spelled the way the installed Kedro spells them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from kedro_airflow_k8s.source import neutralise_template


@functools.cache
def run_options() -> frozenset[str]:
    """Every option name of the installed ``kedro run`` command (``--pipelines``, ``-e``...)."""
    try:
        from kedro.framework.cli.project import run
    except ImportError:  # a Kedro without the project CLI: assume the 1.x names
        return frozenset({"--pipelines", "--env", "--nodes", "--namespaces", "--params"})
    names: set[str] = set()
    for param in run.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return frozenset(names)


def pipeline_option(options: frozenset[str] | None = None) -> str:
    """``--pipelines`` where Kedro has it (1.x; ``--pipeline`` is deprecated there), else
    ``--pipeline``."""
    options = run_options() if options is None else options
    return "--pipelines" if "--pipelines" in options else "--pipeline"


def namespace_option(options: frozenset[str] | None = None) -> str | None:
    """``--namespaces`` (Kedro 1.x), ``--namespace`` (0.19), or None when Kedro has neither."""
    options = run_options() if options is None else options
    for name in ("--namespaces", "--namespace"):
        if name in options:
            return name
    return None


def kedro_run_arguments(
    pipeline: str,
    env: str,
    nodes: Sequence[str],
    namespace: str | None = None,
    options: frozenset[str] | None = None,
    *,
    whole_names: bool = False,
    runner: str | None = None,
    params: str | None = None,
    trigger_params: str | None = None,
) -> list[str]:
    """``run --pipelines P --env E``, the selection of the task, then ``--runner R``,
    ``--params ...`` and ``--trigger-params ...`` where given.

    A task that is exactly one namespace of the pipeline selects it by name
    (``--namespaces ns``); any other task names its nodes (``--nodes a,b``), or, with
    ``whole_names`` (the Spark entry script), ``--node NAME`` for each name that
    ``--nodes`` cannot carry.
    """
    options = run_options() if options is None else options
    args = ["run", pipeline_option(options), pipeline, "--env", env]
    by_namespace = namespace_option(options) if namespace else None
    if by_namespace:
        args += [by_namespace, str(namespace)]
    elif whole_names:
        from kedro_airflow_k8s.node_names import nodes_arguments

        args += nodes_arguments(nodes)
    else:
        args += ["--nodes", ",".join(nodes)]
    for option, value in (
        ("--runner", runner),
        ("--params", params),
        ("--trigger-params", trigger_params),
    ):
        if value:
            args += [option, value]
    return args


def params_value(run_config: Any, baked: str | None = None) -> str | None:
    """The ``--params`` value of every task: the compile command's ``--params`` (as
    written, never templated), then the Airflow macros and Variables."""
    parts = [neutralise_template(baked)] if baked else []
    # These are meant as Airflow templates; they are the only text not neutralised.
    parts += [f"{name}={{{{ {name} }}}}" for name in run_config.macro_params]
    parts += [f"{name}={{{{ var.value.{name} }}}}" for name in run_config.variables_params]
    return ",".join(parts) or None
