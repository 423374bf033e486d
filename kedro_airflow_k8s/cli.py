"""The `kedro airflow-k8s` commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.cli_options import CliContext, load_selection, selection_options
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


@airflow_k8s.command()
@click.argument("airflow_url")
@click.option("--output", "output", default="dags/", show_default=True, help="DAGs location.")
@click.option("--force", is_flag=True, help="Overwrite an existing conf/base/airflow-k8s.yml.")
def init(airflow_url: str, output: str, force: bool) -> None:
    """Write a commented conf/base/airflow-k8s.yml for AIRFLOW_URL."""
    from kedro_airflow_k8s.init_config import write_initial_config

    path = write_initial_config(Path.cwd(), airflow_url, output, force=force)
    click.echo(f"Wrote {path}. Set run_config.image and run_config.namespace, then run")
    click.echo("  kedro airflow-k8s compile")


@airflow_k8s.command()
def schema() -> None:
    """Print the JSON Schema of airflow-k8s.yml (for editor completion)."""
    from kedro_airflow_k8s.machine_output import logs_to_stderr

    with logs_to_stderr():
        from kedro_airflow_k8s.config import json_schema

        text = json.dumps(json_schema(), indent=2)
    click.echo(text)


@airflow_k8s.command(name="compile")
@selection_options()
@click.option(
    "--output-dir",
    default="dags",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory the DAG files are written to.",
)
@click.option("--image", default=None, help="Docker image; overrides run_config.image.")
@click.option("--dag-name", default=None, help="DAG id of the one pipeline compiled.")
def compile_command(
    selection: Selection, output_dir: Path, image: str | None, dag_name: str | None
) -> None:
    """Compile each pipeline into <output-dir>/<dag_id>.py (Spark artifacts beside it).

    Every DAG is built before any is written, so a failing pipeline leaves all the
    DAG files as they were.
    """
    from kedro_airflow_k8s.build import (
        ARTIFACTS_DIR,
        compile_with_artifacts,
        dag_path,
        ignore_artifacts_in,
        prune_artifacts,
    )
    from kedro_airflow_k8s.render import write_atomic

    one_dag_name(dag_name, selection)
    projects = load_selection(selection, **{"run_config.image": image})
    results = [
        (project, compile_with_artifacts(project, output_dir / ARTIFACTS_DIR, dag_name=dag_name))
        for project in projects
    ]
    check_distinct_dag_ids([result.compiled.dag_id for _, result in results])
    for project, result in results:
        compiled = result.compiled
        target = dag_path(output_dir, compiled)
        if result.artifacts is not None:
            ignore_artifacts_in(output_dir)
        write_atomic(target, compiled.source)
        for warning in result.warnings:
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        plan = compiled.plan
        click.echo(
            f"Wrote {target}: DAG '{compiled.dag_id}' with {len(plan.tasks)} tasks "
            f"({len(plan.spark_tasks)} Spark) for {len(project.pipeline.nodes)} Kedro nodes "
            f"of pipeline '{project.pipeline_name}'"
        )
        if result.artifacts is not None:
            artifacts = result.artifacts
            click.echo(f"Spark artifacts {artifacts.version} in {artifacts.wheel.path.parent}:")
            for artifact in artifacts:
                click.echo(f"  {artifact.kind:6} {artifact.name}")
    built = {result.artifacts.version for _, result in results if result.artifacts is not None}
    if built:
        for folder in prune_artifacts(output_dir / ARTIFACTS_DIR, projects[0].package_name, built):
            click.echo(f"Removed Spark artifacts {folder.name} (older than the previous DAG's)")


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


@airflow_k8s.command(name="upload-pipeline")
@click.option(
    "--output",
    default=None,
    metavar="URL",
    help="Where the DAG goes: a directory, a .py path or an fsspec URL (gs://, s3://); "
    "overrides `output`.",
)
@click.option("--image", default=None, help="Docker image; overrides run_config.image.")
@click.option("--dag-name", default=None, help="DAG id of the one pipeline published.")
@publish_timeout_option
@selection_options()
def upload_pipeline_command(
    selection: Selection,
    output: str | None,
    image: str | None,
    dag_name: str | None,
    publish_timeout: float,
) -> None:
    """Publish the DAG to `output` and its Spark artifacts to run_config.spark.artifacts_path.

    Artifacts go first and the DAG last, so a DAG never points at missing files; a
    failed upload leaves the previous DAG in place.
    """
    from kedro_airflow_k8s.release import build_release, publish_release
    from kedro_airflow_k8s.scheduling import hold_first_run

    one_dag_name(dag_name, selection)
    projects = load_selection(selection, **{"run_config.image": image})
    check_distinct_dag_ids([project.dag_id for project in projects])
    for project in projects:
        first = hold_first_run(project.config.run_config)
        with build_release(project, dag_name) as release:
            url = publish_release(release, output or project.config.output, timeout=publish_timeout)
        click.echo(f"DAG '{release.compiled.dag_id}' is at {url}")
        if first is not None:
            click.echo(
                f"Its schedule starts at {first:%Y-%m-%d %H:%M} UTC: no run of an earlier time"
            )


@airflow_k8s.command(name="plan")
@selection_options(params=False)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints only JSON on standard output (logs go to standard error): the plan, "
    "or a list of plans with several pipelines.",
)
@click.option("--dag-name", default=None, help="DAG id of the one pipeline planned.")
@click.option(
    "--output",
    "output_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to this file instead of standard output.",
)
def plan_command(
    selection: Selection, output_format: str, dag_name: str | None, output_file: Path | None
) -> None:
    """Show the tasks each pipeline becomes, and why each node is where it is."""
    import contextlib

    from kedro_airflow_k8s.build import make_plan
    from kedro_airflow_k8s.cycle_collection import cycle_collection_paused
    from kedro_airflow_k8s.machine_output import logs_to_stderr
    from kedro_airflow_k8s.render import write_atomic

    one_dag_name(dag_name, selection)
    machine = output_format == "json"
    with logs_to_stderr() if machine else contextlib.nullcontext(), cycle_collection_paused():
        plans = [make_plan(project, dag_name) for project in load_selection(selection)]
    if machine:
        documents = [plan.to_dict() for plan in plans]
        document = documents if selection.several else documents[0]
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = "\n".join(plan.to_table() for plan in plans)
    if output_file is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output_file, text)
        dags = ", ".join(f"'{plan.dag_id}'" for plan in plans)
        click.echo(f"Wrote the plan of DAG {dags} to {output_file}", err=machine)


# -- commands that talk to Airflow -----------------------------------------------------------

INSECURE_HELP = (
    "Do not verify the API server's TLS certificate (also AIRFLOW_API_VERIFY_SSL=false). "
    "For a private CA, set AIRFLOW_API_CA_CERT to its PEM file instead."
)
AUTH_EPILOG = (
    "Authentication: AIRFLOW_API_TOKEN (a JWT), or AIRFLOW_USERNAME and AIRFLOW_PASSWORD, "
    "exchanged for a token at <host>/auth/token."
)


def airflow_api(project: Any, insecure: bool) -> Any:
    from kedro_airflow_k8s.airflow_api import AirflowApi
    from kedro_airflow_k8s.airflow_settings import settings_from_env

    settings = settings_from_env(project.config.host, insecure, project.config_source)
    if not settings.verify_ssl:
        click.secho("warning: TLS certificates are not verified", fg="yellow", err=True)
    return AirflowApi(settings, warn=lambda message: click.echo(message, err=True))


@airflow_k8s.command(name="run-once", epilog=AUTH_EPILOG)
@click.option("--output", default=None, help="Where to publish the DAG; overrides `output`.")
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.option("--image", default=None, help="Docker image; overrides run_config.image.")
@click.option(
    "--wait-for-completion",
    "wait_minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MINUTES",
    help="Wait up to MINUTES for the run to finish; exit non-zero unless it succeeds.",
)
@click.option("--insecure", is_flag=True, help=INSECURE_HELP)
@selection_options(several=False)
def run_once_command(
    selection: Selection,
    output: str | None,
    dag_name: str | None,
    image: str | None,
    wait_minutes: float | None,
    insecure: bool,
) -> None:
    """Publish the DAG without a schedule, wait until Airflow stores it, and run it once.

    A DAG of the same id that `schedule` published loses its schedule: give the one-off
    run its own id with --dag-name to keep both. The one-off DAG does not wait for the
    run_config.external_dependencies, which have no run at "now" to wait for.
    """
    from kedro_airflow_k8s.deploy import run_once

    (project,) = load_selection(selection, **{"run_config.image": image})
    # Unpausing a scheduled DAG would also start a run of its latest interval.
    project.config.run_config.cron_expression = None
    # A one-off run starts now: no other DAG has a run at "now" to wait for.
    project.config.run_config.external_dependencies = []
    api = airflow_api(project, insecure)
    run_once(api, project, dag_name, output or project.config.output, wait_minutes)


@airflow_k8s.command(name="schedule", epilog=AUTH_EPILOG)
@click.option(
    "--cron-expression",
    default=None,
    metavar="CRON",
    help="Schedule, e.g. '0 3 * * *' or @daily; overrides run_config.cron_expression.",
)
@click.option("--dag-name", default=None, help="DAG id of the one pipeline published.")
@click.option("--output", default=None, help="Where to publish the DAG; overrides `output`.")
@click.option(
    "--catch-up",
    is_flag=True,
    help="Let Airflow run the most recent scheduled time at once (and, with "
    "run_config.catchup, every missed one since start_date).",
)
@click.option("--insecure", is_flag=True, help=INSECURE_HELP)
@publish_timeout_option
@selection_options()
def schedule_command(
    selection: Selection,
    cron_expression: str | None,
    dag_name: str | None,
    output: str | None,
    catch_up: bool,
    insecure: bool,
    publish_timeout: float,
) -> None:
    """Publish each pipeline's DAG with its schedule (pipelines.<name>.cron_expression, else
    run_config.cron_expression); its paused state in Airflow stays as it was.

    The first run is the first scheduled time after publishing, unless --catch-up or
    run_config.catchup asks for earlier ones.
    """
    from kedro_airflow_k8s.release import build_release, publish_release
    from kedro_airflow_k8s.scheduling import hold_first_run

    one_dag_name(dag_name, selection)
    projects = load_selection(selection, **{"run_config.cron_expression": cron_expression})
    check_distinct_dag_ids([project.dag_id for project in projects])
    for project in projects:
        if not project.config.run_config.cron_expression:
            raise UserError(
                f"pipeline '{project.pipeline_name}' has no schedule: pass --cron-expression "
                "(e.g. '0 3 * * *') or set run_config.cron_expression (or "
                f"pipelines.{project.pipeline_name}.cron_expression) in {project.config_source}"
            )
    for project in projects:
        schedule = project.config.run_config.cron_expression
        first = None if catch_up else hold_first_run(project.config.run_config)
        with build_release(project, dag_name) as release:
            before = dag_before_publishing(project, release.compiled.dag_id, insecure)
            url = publish_release(release, output or project.config.output, timeout=publish_timeout)
        compiled = release.compiled
        click.echo(f"Published DAG '{compiled.dag_id}' with schedule '{schedule}' to {url}")
        if first is not None:
            click.echo(
                f"Its schedule starts at {first:%Y-%m-%d %H:%M} UTC: no run of an earlier time"
            )
        click.echo(describe_paused_state(project, compiled.dag_id, before))


def dag_before_publishing(project: Any, dag_id: str, insecure: bool) -> Any:
    """The DAG as Airflow knows it (None: unknown to it), or False where Airflow cannot say."""
    from kedro_airflow_k8s.airflow_errors import ApiError

    if not project.config.host:
        return False
    try:
        return airflow_api(project, insecure).dag(dag_id)
    except ApiError as error:
        click.secho(f"Warning: cannot tell whether DAG '{dag_id}' is paused: {error}", err=True)
        return False


def describe_paused_state(project: Any, dag_id: str, before: Any) -> str:
    from kedro_airflow_k8s.run_follow import dag_ui_url
    from kedro_airflow_k8s.scheduling import paused_state

    host = project.config.host
    where = dag_ui_url(host, dag_id) if host else "the Airflow UI"
    if before is False:
        return f"Publishing does not change whether the DAG is paused; see {where}"
    return paused_state(before, where)


@airflow_k8s.command(name="list-pipelines", epilog=AUTH_EPILOG)
@click.option("--insecure", is_flag=True, help=INSECURE_HELP)
@selection_options(params=False, filters=False)
def list_pipelines_command(selection: Selection, insecure: bool) -> None:
    """List the DAGs kedro-airflow-k8s generated: name, id, schedule, paused, last run.

    With -p/--pipelines or --all, only the DAGs of those pipelines of this project.
    """
    from kedro_airflow_k8s.list_pipelines import pipelines_table

    chosen = click.get_current_context().params
    projects = load_selection(selection, load_pipelines=False)
    only = None
    if chosen.get("pipelines") or chosen.get("all_pipelines"):
        only = {project.dag_id for project in projects}
    click.echo(pipelines_table(airflow_api(projects[0], insecure), only))


@airflow_k8s.command(name="ui")
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@selection_options(several=False, params=False, filters=False)
def ui_command(selection: Selection, dag_name: str | None) -> None:
    """Open the Airflow UI at the DAG (or print its address where no browser is available)."""
    import webbrowser

    from kedro_airflow_k8s.airflow_settings import base_url
    from kedro_airflow_k8s.naming import dag_id_from
    from kedro_airflow_k8s.run_follow import dag_ui_url

    (project,) = load_selection(selection, load_pipelines=False)
    host = base_url(project.config.host, project.config_source)
    url = dag_ui_url(host, dag_id_from(dag_name) if dag_name else project.dag_id)
    click.echo(url)
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        click.echo("No browser available here: open the address above.")
