"""What later stages need of each planned task: node tags, dataset paths, chosen profiles."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kedro.pipeline import Pipeline

from kedro_airflow_k8s.classify import is_parameter
from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.plan import Plan
from kedro_airflow_k8s.profiles import task_profiles

DatasetConfig = Callable[[str], Mapping[str, Any]]


def dataset_path(config: Mapping[str, Any]) -> str | None:
    """Where a catalog entry keeps its data: its ``filepath``, else its ``path``
    (partitioned and incremental datasets), else None (tables, memory)."""
    location = config.get("filepath") or config.get("path")
    return str(location) if location else None


def with_details(
    plan: Plan, pipeline: Pipeline, run_config: RunConfig, dataset_config: DatasetConfig
) -> Plan:
    """``plan`` with each task's node tags, datasets and their paths, and profiles.

    ``dataset_config`` gives the catalog entry of a dataset name (patterns resolved);
    each dataset is looked up once. Raises ``UserError`` for a profile tag that names
    no profile, or nodes of one task that pick different profiles.
    """
    nodes = {node.name: node for node in pipeline.nodes}
    paths: dict[str, str | None] = {}

    def path_of(name: str) -> str | None:
        if name not in paths:
            paths[name] = dataset_path(dataset_config(name) or {})
        return paths[name]

    tasks = []
    for task in plan.tasks:
        members = [nodes[name] for name in task.nodes]
        tags = {node.name: tuple(sorted(node.tags)) for node in members}
        names = dict.fromkeys(name for node in members for name in (*node.inputs, *node.outputs))
        tasks.append(
            dataclasses.replace(
                task,
                tags=tags,
                datasets={name: path_of(name) for name in names if not is_parameter(name)},
                profiles=task_profiles(task.task_id, task.is_spark, tags, run_config),
            )
        )
    return dataclasses.replace(plan, tasks=tuple(tasks))
