"""One publishable version of a project: its Spark artifacts, the DAG that refers to them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.build import CompiledDag, compile_project, make_plan
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.project import KedroProject


@dataclass(frozen=True)
class Release:
    """A compiled DAG written to ``dag_file``, and the artifacts it needs (None: none)."""

    compiled: CompiledDag
    dag_file: Path
    artifacts: Any = None
    artifacts_url: str | None = None


def needs_artifacts(project: KedroProject, dag_name: str | None) -> bool:
    """Whether the DAG runs Spark applications that fetch the project from the artifacts."""
    spark = project.config.run_config.spark
    if spark.backend == "none":
        return False
    return bool(make_plan(project, dag_name).spark_tasks)


@contextmanager
def build_release(project: KedroProject, dag_name: str | None = None) -> Iterator[Release]:
    """Build the artifacts (if any), then compile the DAG with their URLs; files are temporary."""
    from kedro_airflow_k8s.artifacts import build_artifacts

    with tempfile.TemporaryDirectory(prefix="kedro-airflow-k8s-") as scratch:
        artifacts, url = None, None
        if needs_artifacts(project, dag_name):
            url = project.config.run_config.spark.artifacts_path
            if not url:
                raise UserError(
                    f"the '{project.config.run_config.spark.backend}' Spark backend runs the "
                    "project from its published artifacts: set run_config.spark.artifacts_path "
                    "(a bucket URL, or a directory the Spark driver can read)"
                )
            artifacts = build_artifacts(
                project.path,
                project.package_name,
                project.env,
                project.config.run_config,
                Path(scratch) / "artifacts",
                artifacts_url=url,
                conf_source=project.conf_source.name,
            )
        compiled = compile_project(
            project, dag_name=dag_name, artifacts=artifacts.urls(url) if artifacts else None
        )
        dag_file = Path(scratch) / compiled.filename
        dag_file.write_text(compiled.source, encoding="utf-8")
        yield Release(compiled, dag_file, artifacts, url)


def publish_release(release: Release, output: str, echo: Callable[[str], Any] = click.echo) -> str:
    """Publish the artifacts, then the DAG, to ``output``; returns where the DAG went."""
    from kedro_airflow_k8s.publish import dag_destination, publish

    publish(
        release.dag_file,
        output,
        artifacts=release.artifacts,
        artifacts_url=release.artifacts_url,
        echo=echo,
    )
    return dag_destination(output, release.compiled.filename)
