"""Airflow task ids of planned tasks: named after their first node, safe, unique, stable."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Airflow allows 250 characters; 150 leaves room for the "spark_" prefix and hash
# suffixes, so every task id stays under 200.
_NAME_BUDGET = 150
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def unique_task_ids(
    names: list[str], members: dict[int, list[int]], spark_roots: set[int]
) -> dict[int, str]:
    """Unique Airflow task ids; each task is named after its first node (see ``task_name``)."""
    wanted = {
        root: task_name("spark" if root in spark_roots else "node", names[nodes[0]])
        for root, nodes in members.items()
    }
    # A task named exactly after its own single node keeps that name on a collision.
    single_first = sorted(members, key=lambda r: (r in spark_roots or len(members[r]) > 1, r))
    taken: set[str] = set()
    result: dict[int, str] = {}
    for root in single_first:
        task_id = wanted[root]
        if task_id in taken:
            task_id = f"{task_id}_{digest(names[members[root][0]])}"
        suffix = 2
        candidate = task_id
        while candidate in taken:
            candidate = f"{task_id}_{suffix}"
            suffix += 1
        taken.add(candidate)
        result[root] = candidate
    return result


def task_name(kind: str, first_node: str) -> str:
    """The task id of a task of ``kind`` whose first node (in pipeline order) is ``first_node``.

    It depends on nothing else, so a task keeps its id, and Airflow its history, when its
    group gains or loses other nodes.
    """
    base = task_id_of_name(first_node)
    return f"spark_{base}" if kind == "spark" else base


def task_id_of_name(name: str) -> str:
    """An Airflow-safe id for a Kedro node name: itself when already safe, else an ASCII
    transliteration plus a short hash of the original, so different names stay different.
    """
    if _UNSAFE.search(name) is None and name and len(name) <= _NAME_BUDGET:
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).strip("_")[:_NAME_BUDGET]
    return f"{safe or 'node'}_{digest(name)}"


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
