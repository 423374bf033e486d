"""Airflow Assets from the catalog: what each task writes (outlets) and reads (inlets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.source import literal
from kedro_airflow_k8s.task_details import dataset_path

# URI schemes Airflow takes for an Asset (its own and its providers' normalisers).
SCHEMES = frozenset(
    {
        "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "wasb", "wasbs", "hdfs",
        "webhdfs", "file", "bigquery", "postgres", "postgresql", "mysql", "trino", "sftp",
        "ftp", "http", "https", "dbfs", "oss", "kafka",
    }
)  # fmt: skip


@dataclass
class TaskAssets:
    """Asset URIs of every task, and the datasets left out with the reason."""

    inlets: dict[str, list[str]] = field(default_factory=dict)
    outlets: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str | None:
        """One line about the datasets that are no Asset, or None."""
        if not self.skipped:
            return None
        names = ", ".join(sorted(self.skipped)[:5]) + (" ..." if len(self.skipped) > 5 else "")
        return (
            f"{len(self.skipped)} datasets are no Airflow Asset ({names}): their paths are "
            "relative to a project directory inside the pods; give them absolute or bucket "
            "paths to see them in Airflow's lineage"
        )


def dataset_uri(config: dict[str, Any], project_path: Path | None) -> str | None:
    """The Asset URI of one catalog entry; None when it has no location Airflow takes.

    ``project_path`` resolves relative local paths (tasks running on this machine's
    project); without it, they raise ``LookupError``.
    """
    location = dataset_path(config)
    if location:
        scheme, separator, _ = location.partition("://")
        if separator:
            return location if scheme.lower() in SCHEMES else None
        path = Path(location)
        if not path.is_absolute():
            if project_path is None:
                raise LookupError(location)
            path = project_path / path
        return path.resolve().as_uri()
    table, dataset, project = (config.get(k) for k in ("table_name", "dataset", "project"))
    if table and dataset and project and "bigquery" in str(config.get("type", "")).lower():
        return f"bigquery://{project}/{dataset}/{table}"
    return None


def task_assets(
    tasks: list[tuple[str, tuple[str, ...]]],
    node_io: dict[str, tuple[list[str], list[str]]],
    dataset_config: Any,
    project_path: Path | None,
) -> TaskAssets:
    """Inlets and outlets of each ``(task_id, nodes)``: datasets it reads that none of its
    own nodes writes, and datasets it writes."""
    result = TaskAssets()
    uris: dict[str, str | None] = {}

    def uri_of(name: str) -> str | None:
        if name not in uris:
            try:
                uris[name] = dataset_uri(dataset_config(name) or {}, project_path)
            except LookupError as relative:
                uris[name] = None
                result.skipped[name] = str(relative)
        return uris[name]

    for task_id, nodes in tasks:
        written = [name for node in nodes for name in node_io[node][1]]
        read = [name for node in nodes for name in node_io[node][0] if name not in written]
        result.outlets[task_id] = list(dict.fromkeys(u for u in map(uri_of, written) if u))
        result.inlets[task_id] = list(dict.fromkeys(u for u in map(uri_of, read) if u))
    return result


def with_assets(source: str, inlets: list[str], outlets: list[str], indent: int = 0) -> str:
    """The operator call ``source`` with ``inlets=`` and ``outlets=`` keyword arguments."""
    extra = []
    for name, uris in (("inlets", inlets), ("outlets", outlets)):
        if uris:
            extra.append(f"{name}=[{', '.join(f'Asset({literal(uri)})' for uri in uris)}]")
    if not extra:
        return source
    body = source.rstrip()
    if not body.endswith(")"):
        raise ValueError("an operator source must be a call")
    if body.endswith("\n)"):
        return body[:-1] + "".join(f"    {item},\n" for item in extra) + ")"
    inner = body[:-1].rstrip()
    separator = "" if inner.endswith("(") else ", "
    return f"{inner}{separator}{', '.join(extra)})"


def schedule_source(uris: list[str]) -> str:
    """The DAG's ``schedule``: run when any of ``uris`` is updated."""
    return "[" + ", ".join(f"Asset({literal(uri)})" for uri in uris) + "]"
