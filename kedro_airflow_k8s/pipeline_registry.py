"""The project's registered pipelines, as `kedro run --pipelines` finds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro_airflow_k8s.errors import UserError, one_paragraph


def registered_pipelines(path: Path) -> dict[str, Any]:
    """``register_pipelines()`` of the project at ``path``; its failure is a UserError."""
    from kedro.framework.project import pipelines

    try:
        return dict(pipelines)
    except Exception as error:  # noqa: BLE001 - the registry runs the project's code
        raise UserError(
            f"the pipeline registry of the project at {path} fails: {one_paragraph(error, path)}"
        ) from error


def registered_pipeline_names(path: Path) -> list[str]:
    """Names of the registered pipelines that have nodes, ``__default__`` first."""
    registered = registered_pipelines(path)
    names = sorted(
        (str(name) for name, pipeline in registered.items() if getattr(pipeline, "nodes", None)),
        key=lambda name: (name != "__default__", name),
    )
    if not names:
        raise UserError(f"the project at {path} registers no pipeline with nodes")
    return names


def load_pipeline(path: Path, pipeline_name: str) -> Any:
    """The registered pipeline ``pipeline_name``; a registry or node module that fails, a
    pipeline Kedro refuses (cycle, duplicate outputs) or an empty one is a UserError."""
    from kedro.pipeline import Pipeline

    registered = registered_pipelines(path)
    if pipeline_name not in registered:
        known = ", ".join(sorted(map(str, registered))) or "none"
        raise UserError(
            f"pipeline '{pipeline_name}' is not registered in the project; known pipelines: {known}"
        )
    pipeline = registered[pipeline_name]
    if not isinstance(pipeline, Pipeline):
        raise UserError(
            f"register_pipelines() maps '{pipeline_name}' to a {type(pipeline).__name__}, "
            "not a kedro Pipeline"
        )
    if not pipeline.nodes:
        raise UserError(
            f"pipeline '{pipeline_name}' has no nodes: there is nothing to compile; "
            "check register_pipelines() or choose another pipeline with --pipelines"
        )
    return pipeline
