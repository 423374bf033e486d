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
    """A click group that prints UserError messages without a traceback, exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            sys.exit(2)


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
@click.pass_context
def airflow_k8s(ctx: click.Context, env: str | None, pipeline: str) -> None:
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
def compile_command(obj: CliContext, output_dir: Path, image: str | None, dag_name: str | None) -> None:
    """Compile the pipeline into <output-dir>/<dag_id>.py."""
    from kedro_airflow_k8s.build import compile_project, dag_path
    from kedro_airflow_k8s.render import write_atomic

    project = obj.project(**{"run_config.image": image})
    compiled = compile_project(project, dag_name=dag_name)
    target = dag_path(output_dir, compiled)
    write_atomic(target, compiled.source)
    plan = compiled.plan
    click.echo(
        f"Wrote {target}: DAG '{compiled.dag_id}' with {len(plan.tasks)} tasks "
        f"({len(plan.spark_tasks)} Spark) for {len(project.pipeline.nodes)} Kedro nodes"
    )


@airflow_k8s.command(name="plan")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("--dag-name", default=None, help="DAG id; overrides run_config.run_name.")
@click.pass_obj
def plan_command(obj: CliContext, output_format: str, dag_name: str | None) -> None:
    """Show the tasks the pipeline becomes, and why each node is where it is."""
    from kedro_airflow_k8s.build import make_plan

    plan = make_plan(obj.project(), dag_name)
    click.echo(plan.to_json() if output_format == "json" else plan.to_table(), nl=False)
    if output_format == "json":
        click.echo()
