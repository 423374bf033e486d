"""The `kedro airflow-k8s` commands."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.errors import UserError


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


@dataclass
class CliContext:
    env: str
    pipeline: str

    def project(self, **overrides: Any) -> Any:
        from kedro_airflow_k8s.project import load_project

        return load_project(Path.cwd(), self.env, self.pipeline, overrides=overrides)


@click.group(name="kedro-airflow-k8s")
def commands() -> None:
    """Kedro plugin commands of kedro-airflow-k8s."""


@commands.group(name="airflow-k8s", cls=UserErrorGroup)
@click.option(
    "-e",
    "--env",
    default=None,
    help="Kedro configuration environment (default: $KEDRO_ENV, else local).",
)
@click.option(
    "-p", "--pipeline", default="__default__", show_default=True, help="Kedro pipeline to compile."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show the full traceback when the project fails to load."
)
@click.pass_context
def airflow_k8s(ctx: click.Context, env: str | None, pipeline: str, verbose: bool) -> None:
    """Compile Kedro pipelines into Airflow 3 DAGs of Kubernetes pods and Spark applications."""
    from kedro_airflow_k8s.project import default_env

    ctx.obj = CliContext(env=env or default_env(), pipeline=pipeline)


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
    from kedro_airflow_k8s.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@airflow_k8s.command(name="compile")
@click.option(
    "--output-dir",
    default="dags",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory the DAG file is written to.",
)
@click.option("--image", default=None, help="Docker image; overrides run_config.image.")
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.pass_obj
def compile_command(
    obj: CliContext, output_dir: Path, image: str | None, dag_name: str | None
) -> None:
    """Compile the pipeline into <output-dir>/<dag_id>.py (Spark artifacts beside it)."""
    from kedro_airflow_k8s.build import (
        ARTIFACTS_DIR,
        compile_with_artifacts,
        dag_path,
        ignore_artifacts_in,
    )
    from kedro_airflow_k8s.render import write_atomic

    project = obj.project(**{"run_config.image": image})
    result = compile_with_artifacts(project, output_dir / ARTIFACTS_DIR, dag_name=dag_name)
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
        f"({len(plan.spark_tasks)} Spark) for {len(project.pipeline.nodes)} Kedro nodes"
    )
    if result.artifacts is not None:
        artifacts = result.artifacts
        click.echo(f"Spark artifacts {artifacts.version} in {artifacts.wheel.path.parent}:")
        for artifact in artifacts:
            click.echo(f"  {artifact.kind:6} {artifact.name}")


@airflow_k8s.command(name="upload-pipeline")
@click.option(
    "--output",
    default=None,
    metavar="URL",
    help="Where the DAG goes: a directory, a .py path or an fsspec URL (gs://, s3://); "
    "overrides `output`.",
)
@click.option("--image", default=None, help="Docker image; overrides run_config.image.")
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.pass_obj
def upload_pipeline_command(
    obj: CliContext, output: str | None, image: str | None, dag_name: str | None
) -> None:
    """Publish the DAG to `output` and its Spark artifacts to run_config.spark.artifacts_path.

    Artifacts go first and the DAG last, so a DAG never points at missing files; a
    failed upload leaves the previous DAG in place.
    """
    from kedro_airflow_k8s.release import build_release, publish_release

    project = obj.project(**{"run_config.image": image})
    with build_release(project, dag_name) as release:
        url = publish_release(release, output or project.config.output)
    click.echo(f"DAG '{release.compiled.dag_id}' is at {url}")


@airflow_k8s.command(name="plan")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.option(
    "--output",
    "output_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to this file instead of standard output "
    "(Kedro's own log lines also go to standard output).",
)
@click.pass_obj
def plan_command(
    obj: CliContext, output_format: str, dag_name: str | None, output_file: Path | None
) -> None:
    """Show the tasks the pipeline becomes, and why each node is where it is."""
    from kedro_airflow_k8s.build import make_plan
    from kedro_airflow_k8s.render import write_atomic

    plan = make_plan(obj.project(), dag_name)
    text = plan.to_json() + "\n" if output_format == "json" else plan.to_table()
    if output_file is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output_file, text)
        click.echo(f"Wrote the plan of DAG '{plan.dag_id}' to {output_file}")


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
    from kedro_airflow_k8s.airflow_api import AirflowApi, settings_from_env

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
@click.pass_obj
def run_once_command(
    obj: CliContext,
    output: str | None,
    dag_name: str | None,
    image: str | None,
    wait_minutes: float | None,
    insecure: bool,
) -> None:
    """Publish the DAG without a schedule, wait until Airflow has parsed it, and run it once.

    A DAG of the same id that `schedule` published loses its schedule: give the one-off
    run its own id with --dag-name to keep both.
    """
    from kedro_airflow_k8s.deploy import run_once

    project = obj.project(**{"run_config.image": image})
    # Unpausing a scheduled DAG would also start a run of its latest interval.
    project.config.run_config.cron_expression = None
    api = airflow_api(project, insecure)
    run_once(api, project, dag_name, output or project.config.output, wait_minutes)


@airflow_k8s.command(name="schedule")
@click.option(
    "--cron-expression",
    default=None,
    metavar="CRON",
    help="Schedule, e.g. '0 3 * * *' or @daily; overrides run_config.cron_expression.",
)
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.option("--output", default=None, help="Where to publish the DAG; overrides `output`.")
@click.pass_obj
def schedule_command(
    obj: CliContext, cron_expression: str | None, dag_name: str | None, output: str | None
) -> None:
    """Publish the DAG with a schedule."""
    from kedro_airflow_k8s.deploy import dag_ui_url
    from kedro_airflow_k8s.release import build_release, publish_release

    project = obj.project(**{"run_config.cron_expression": cron_expression})
    schedule = project.config.run_config.cron_expression
    if not schedule:
        raise UserError(
            "no schedule: pass --cron-expression (e.g. '0 3 * * *') or set "
            f"run_config.cron_expression in {project.config_source}"
        )
    with build_release(project, dag_name) as release:
        url = publish_release(release, output or project.config.output)
    compiled = release.compiled
    click.echo(f"Published DAG '{compiled.dag_id}' with schedule '{schedule}' to {url}")
    where = dag_ui_url(project.config.host, compiled.dag_id) if project.config.host else "the UI"
    click.echo(f"New DAGs start paused in Airflow by default; unpause it at {where}")


@airflow_k8s.command(name="list-pipelines", epilog=AUTH_EPILOG)
@click.option("--insecure", is_flag=True, help=INSECURE_HELP)
@click.pass_obj
def list_pipelines_command(obj: CliContext, insecure: bool) -> None:
    """List the DAGs kedro-airflow-k8s generated: name, id, schedule, paused, last run."""
    from kedro_airflow_k8s.deploy import pipelines_table

    click.echo(pipelines_table(airflow_api(obj.project(), insecure)))


@airflow_k8s.command(name="ui")
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.pass_obj
def ui_command(obj: CliContext, dag_name: str | None) -> None:
    """Open the Airflow UI at the DAG (or print its address where no browser is available)."""
    import webbrowser

    from kedro_airflow_k8s.airflow_api import base_url
    from kedro_airflow_k8s.deploy import dag_ui_url
    from kedro_airflow_k8s.naming import dag_id_from

    project = obj.project()
    host = base_url(project.config.host, project.config_source)
    url = dag_ui_url(host, dag_id_from(dag_name) if dag_name else project.dag_id)
    click.echo(url)
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        click.echo("No browser available here: open the address above.")
