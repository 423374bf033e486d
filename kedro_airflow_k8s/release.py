"""One publishable version of a project: its Spark artifacts, the DAG that refers to them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    output_storage_options: Mapping[str, Any] = field(default_factory=dict)
    artifacts_storage_options: Mapping[str, Any] = field(default_factory=dict)


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
        spark = project.config.run_config.spark  # type none has no artifacts, nor their keys
        yield Release(
            compiled,
            dag_file,
            result.artifacts,
            spark.artifacts_path if result.artifacts else None,
            output_storage_options=project.config.output_storage_options,
            artifacts_storage_options=spark.artifacts_storage_options if result.artifacts else {},
        )


def publish_release(
    release: Release,
    output: str,
    echo: Callable[[str], Any] = click.echo,
    timeout: float | None = None,
) -> str:
    """Publish the artifacts, then the DAG, to ``output``; returns where the DAG went.

    ``timeout`` bounds the whole publish, in seconds (default: publish.DEFAULT_TIMEOUT).
    """
    from kedro_airflow_k8s.publish import DEFAULT_TIMEOUT, dag_destination, publish

    publish(
        release.dag_file,
        output,
        artifacts=release.artifacts,
        artifacts_url=release.artifacts_url,
        echo=echo,
        dag_storage_options=release.output_storage_options,
        artifacts_storage_options=release.artifacts_storage_options,
        timeout=timeout or DEFAULT_TIMEOUT,
    )
    return dag_destination(output, release.compiled.filename, release.output_storage_options)
