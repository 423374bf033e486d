"""The options of `kedro run` on each plugin command, gathered into one Selection."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.selection import DEFAULT_PIPELINE, PipelineFilter, Selection, check_params

FILTER_OPTIONS = (
    "tags",
    "namespaces",
    "from_nodes",
    "to_nodes",
    "node_names",
    "from_inputs",
    "to_outputs",
)
SELECTION_OPTIONS = ("env", "pipelines", "all_pipelines", "conf_source", "params", *FILTER_OPTIONS)


@dataclass
class CliContext:
    """The group-level ``-e``/``-p`` (``kedro airflow-k8s -e prod compile``)."""

    env: str | None = None
    pipeline: str | None = None


def _names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    from kedro.framework.cli.utils import split_node_names

    # Kedro's own splitting: default node names hold commas inside brackets.
    return tuple(split_node_names(ctx, param, value or ""))


def _comma_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _conf_source(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if not value:
        return None  # as Kedro's check does, without importing Kedro's CLI
    from kedro.framework.cli.utils import validate_conf_source

    return validate_conf_source(ctx, param, value)


def selection_options(
    *, several: bool = True, params: bool = True, filters: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``kedro run``'s options to a command, which then receives ``selection``.

    ``several``: the command takes ``--pipelines a,b`` and ``--all``; ``params``:
    ``--params``; ``filters``: ``--tags``, ``--namespaces``, ``--from-nodes``,
    ``--to-nodes``, ``--nodes``, ``--from-inputs``, ``--to-outputs``.
    """
    pipelines_help = (
        "Registered pipelines, comma-separated; one DAG each, with the DAG id "
        "<run_name>-<pipeline> (<run_name> for __default__)."
        if several
        else "Registered pipeline."
    )
    options = [
        click.option(
            "-e",
            "--env",
            default=None,
            help="Kedro configuration environment (default: $KEDRO_ENV, else local).",
        ),
        click.option(
            "-p",
            "--pipelines",
            "--pipeline",
            "pipelines",
            default=None,
            callback=_comma_list,
            help=pipelines_help + " Default: __default__.",
        ),
        click.option(
            "--conf-source",
            default=None,
            callback=_conf_source,
            help="Configuration directory or archive to read instead of the project's conf/.",
        ),
    ]
    if several:
        options.append(
            click.option("--all", "all_pipelines", is_flag=True, help="Every registered pipeline.")
        )
    if params:
        options.append(
            click.option(
                "--params",
                default=None,
                help="Kedro params baked into every task, as for `kedro run`: "
                "key=value,key2.sub=value2.",
            )
        )
    if filters:
        options += [
            click.option(
                "-t",
                "--tags",
                default=None,
                callback=_comma_list,
                help="Only nodes with these tags.",
            ),
            click.option(
                "-ns",
                "--namespaces",
                default=None,
                callback=_names,
                help="Only nodes in these namespaces.",
            ),
            click.option(
                "--from-nodes", default=None, callback=_names, help="Nodes from these on."
            ),
            click.option("--to-nodes", default=None, callback=_names, help="Nodes up to these."),
            click.option(
                "-n",
                "--nodes",
                "--node-names",
                "node_names",
                default=None,
                callback=_names,
                help="Only these nodes.",
            ),
            click.option(
                "--from-inputs",
                default=None,
                callback=_comma_list,
                help="Nodes from the consumers of these datasets on.",
            ),
            click.option(
                "--to-outputs",
                default=None,
                callback=_comma_list,
                help="Nodes up to the producers of these datasets.",
            ),
        ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_selection(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, None) for name in SELECTION_OPTIONS}
            group = click.get_current_context().find_object(CliContext) or CliContext()
            kwargs["selection"] = make_selection(values, group, several)
            return command(*args, **kwargs)

        for option in reversed(options):
            with_selection = option(with_selection)
        return with_selection

    return decorate


def make_selection(values: dict[str, Any], group: CliContext, several: bool) -> Selection:
    from kedro_airflow_k8s.project import default_env

    pipelines: tuple[str, ...] | None = tuple(values["pipelines"] or ())
    if not pipelines:
        pipelines = (group.pipeline,) if group.pipeline else (DEFAULT_PIPELINE,)
    if values["all_pipelines"]:
        if values["pipelines"]:
            raise click.UsageError("give either --pipelines or --all, not both")
        pipelines = None
    elif not several and len(pipelines) > 1:
        raise click.UsageError(f"this command takes one pipeline, not {', '.join(pipelines)}")
    filters = PipelineFilter(**{name: tuple(values[name] or ()) for name in FILTER_OPTIONS})
    return Selection(
        env=values["env"] or group.env or default_env(),
        pipelines=pipelines,
        conf_source=values["conf_source"],
        params=check_params(values["params"]),
        filter=filters,
    )


def load_selection(
    selection: Selection, load_pipelines: bool = True, **overrides: Any
) -> list[Any]:
    """The project once per selected pipeline; ``overrides`` are dotted config keys.

    ``load_pipelines=False``: airflow-k8s.yml alone, for commands that only talk to
    Airflow (no pipeline, no catalog).
    """
    from kedro_airflow_k8s.project import load_projects

    return load_projects(
        Path.cwd(),
        selection.env,
        selection.pipelines,
        overrides=overrides,
        conf_source=selection.conf_source,
        filters=selection.filter,
        params=selection.params,
        load_pipelines=load_pipelines,
    )
