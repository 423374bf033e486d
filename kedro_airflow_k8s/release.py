"""One publishable version of a project: its Spark artifacts, the DAG that refers to them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.build import CompiledDag, compile_with_artifacts
from kedro_airflow_k8s.project import KedroProject


@dataclass(frozen=True)
class Release:
    """A compiled DAG written to ``dag_file``, and the artifacts it needs (None: none)."""

    compiled: CompiledDag
    dag_file: Path
    artifacts: Any = None
    artifacts_url: str | None = None


@contextmanager
def build_release(project: KedroProject, dag_name: str | None = None) -> Iterator[Release]:
    """Build the artifacts (if any), then compile the DAG with their URLs; files are temporary."""
    with tempfile.TemporaryDirectory(prefix="kedro-airflow-k8s-") as scratch:
        result = compile_with_artifacts(
            project, Path(scratch) / "artifacts", dag_name, for_publishing=True
        )
        for warning in result.warnings:
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        compiled = result.compiled
        dag_file = Path(scratch) / compiled.filename
        dag_file.write_text(compiled.source, encoding="utf-8")
        url = project.config.run_config.spark.artifacts_path if result.artifacts else None
        yield Release(compiled, dag_file, result.artifacts, url)


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
