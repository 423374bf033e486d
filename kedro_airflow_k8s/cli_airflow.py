"""The commands that talk to Airflow: run-once, schedule, list-pipelines and ui."""

from __future__ import annotations

from typing import Any

import click

from kedro_airflow_k8s.cli_group import (
    airflow_k8s,
    check_distinct_dag_ids,
    one_dag_name,
    publish_timeout_option,
)
from kedro_airflow_k8s.cli_options import load_selection, selection_options
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.selection import Selection

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
