"""The commands that build DAGs: init, schema, compile, plan and upload-pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kedro_airflow_k8s.cli_group import (
    airflow_k8s,
    check_distinct_dag_ids,
    one_dag_name,
    publish_timeout_option,
)
from kedro_airflow_k8s.cli_options import load_selection, selection_options
from kedro_airflow_k8s.selection import Selection


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
