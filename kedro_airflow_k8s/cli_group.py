"""The `kedro airflow-k8s` command group, its error handling and the options commands share."""

from __future__ import annotations

import sys
from typing import Any

import click

from kedro_airflow_k8s.cli_options import CliContext
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.selection import Selection


class UserErrorGroup(click.Group):
    """A click group that prints UserError messages without a traceback, exit code 2
    (with ``--verbose``, the traceback of the cause comes first)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            report_user_error(error, verbose=bool(ctx.params.get("verbose")))
            sys.exit(2)


def report_user_error(error: UserError, verbose: bool = False) -> None:
    """Print ``error`` for the user; ``verbose`` adds the traceback of what caused it."""
    hint = ""
    if verbose:
        import traceback

        cause = error.__cause__ or error.__context__
        click.echo("".join(traceback.format_exception(cause or error)), err=True, nl=False)
    elif error.__cause__ is not None:
        hint = " (--verbose shows the traceback)"
    click.secho(f"Error: {error}{hint}", fg="red", err=True)


@click.group(name="kedro-airflow-k8s")
def commands() -> None:
    """Kedro plugin commands of kedro-airflow-k8s."""


@commands.group(name="airflow-k8s", cls=UserErrorGroup)
@click.option(
    "-e",
    "--env",
    default=None,
    help="Kedro configuration environment for every command (each command also takes -e).",
)
@click.option(
    "-p",
    "--pipeline",
    default=None,
    help="Registered pipeline for every command (each command also takes -p/--pipelines).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show the full traceback when the project fails to load."
)
@click.pass_context
def airflow_k8s(ctx: click.Context, env: str | None, pipeline: str | None, verbose: bool) -> None:
    """Compile Kedro pipelines into Airflow 3 DAGs of Kubernetes pods and Spark applications."""
    ctx.obj = CliContext(env=env, pipeline=pipeline)


def one_dag_name(dag_name: str | None, selection: Selection) -> None:
    if dag_name and selection.several:
        raise click.UsageError(
            "--dag-name names one DAG: with several pipelines, set run_name (the DAG ids "
            "become <run_name>-<pipeline>) or pipelines.<name>.run_name in airflow-k8s.yml"
        )


def check_distinct_dag_ids(dag_ids: list[str]) -> None:
    seen: set[str] = set()
    for dag_id in dag_ids:
        if dag_id in seen:
            raise UserError(
                f"two pipelines compile to the DAG id '{dag_id}': give them different "
                "pipelines.<name>.run_name values in airflow-k8s.yml"
            )
        seen.add(dag_id)


def publish_timeout_option(command: Any) -> Any:
    """--timeout: the longest a publish may take, in seconds."""
    return click.option(
        "--timeout",
        "publish_timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=300,
        show_default=True,
        metavar="SECONDS",
        help="Give up publishing after SECONDS; the message says what was written.",
    )(command)
