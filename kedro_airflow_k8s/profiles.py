"""Which tagged profile each task uses: one rule for pod, template, operator and Spark profiles."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

from kedro_airflow_k8s.config import (
    DEFAULT_PROFILE,
    POD_TEMPLATE_TAG_PREFIX,
    RESOURCES_TAG_PREFIX,
    SPARK_RESOURCES_TAG_PREFIX,
    RunConfig,
)
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.operator_args import OPERATOR_ARGS_TAG_PREFIX


class ProfileKind(NamedTuple):
    """One kind of tagged profile: its run_config key and the tag prefix that picks one."""

    key: str
    prefix: str


RESOURCES = ProfileKind("resources", RESOURCES_TAG_PREFIX)
POD_TEMPLATES = ProfileKind("kubernetes_pod_templates", POD_TEMPLATE_TAG_PREFIX)
OPERATOR_ARGS = ProfileKind("operator_args_profiles", OPERATOR_ARGS_TAG_PREFIX)
SPARK_RESOURCES = ProfileKind("spark.resources", SPARK_RESOURCES_TAG_PREFIX)


def tagged_names(tags: Iterable[str], prefix: str) -> frozenset[str]:
    """The profile names that ``tags`` pick with ``prefix`` (``<prefix><name>``)."""
    return frozenset(tag[len(prefix) :] for tag in tags if tag.startswith(prefix))


def choose_profile(
    task_id: str,
    node_tags: Mapping[str, Iterable[str]],
    kind: ProfileKind,
    known: Collection[str],
) -> str | None:
    """The one profile of ``kind`` that the nodes of task ``task_id`` select.

    A node picks a profile with one ``<prefix><name>`` tag; untagged nodes go with
    the others. No tag at all gives ``__default__`` when it is configured, else None.
    A tag naming no configured profile, or nodes of one task picking different
    profiles, is a ``UserError`` naming the nodes and tags.
    """
    chosen: dict[str, str] = {}
    for node, tags in node_tags.items():
        names = sorted(tagged_names(tags, kind.prefix))
        for name in names:
            if name not in known:
                raise UserError(
                    f"node '{node}' has the tag '{kind.prefix}{name}' but run_config.{kind.key} "
                    f"has no profile '{name}'; add it or remove the tag "
                    f"(known: {', '.join(known) or 'none'})"
                )
        if len(names) > 1:
            tags_text = ", ".join(f"'{kind.prefix}{name}'" for name in names)
            raise UserError(
                f"node '{node}' has the tags {tags_text}: a node runs with one "
                f"run_config.{kind.key} profile, so keep one of these tags"
            )
        if names:
            chosen[node] = names[0]
    if len(set(chosen.values())) > 1:
        which = ", ".join(f"node '{node}' {kind.prefix}{name}" for node, name in chosen.items())
        why = (
            "one Spark application has one size"
            if kind is SPARK_RESOURCES
            else "one Airflow task runs with one profile"
        )
        raise UserError(
            f"task '{task_id}' runs nodes with different {kind.key} profiles "
            f"({', '.join(sorted(set(chosen.values())))}): {which}; {why}, so give these "
            "nodes the same tag (`kedro airflow-k8s plan` shows which nodes share the task)"
        )
    if chosen:
        return next(iter(chosen.values()))
    return DEFAULT_PROFILE if DEFAULT_PROFILE in known else None


def task_profiles(
    task_id: str, is_spark: bool, node_tags: Mapping[str, Iterable[str]], run: RunConfig
) -> dict[str, str]:
    """The profiles a task runs with, by run_config key; only the kinds its operator uses.

    A Spark application takes a Spark resource profile and operator arguments (for the
    operators its factory returns); a pod takes pod resources, a pod template and operator
    arguments; a local ``kedro run`` takes operator arguments.
    """
    if is_spark and run.spark.backend != "none":
        kinds = {
            SPARK_RESOURCES: run.spark.resources,
            OPERATOR_ARGS: run.operator_args_profiles,
        }
    elif run.node_runner == "local":
        kinds = {OPERATOR_ARGS: run.operator_args_profiles}
    else:
        kinds = {
            RESOURCES: run.resources,
            POD_TEMPLATES: run.kubernetes_pod_templates,
            OPERATOR_ARGS: run.operator_args_profiles,
        }
    profiles = {}
    for kind, known in kinds.items():
        name = choose_profile(task_id, node_tags, kind, known)
        if name is not None:
            profiles[kind.key] = name
    return profiles
