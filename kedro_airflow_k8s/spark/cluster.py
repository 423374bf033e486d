"""Per-run cluster names: a base from config and a hash of the DAG run, rendered by Airflow."""

from __future__ import annotations

import re

from kedro_airflow_k8s.config import SparkConfig
from kedro_airflow_k8s.naming import ascii_slug
from kedro_airflow_k8s.source import literal

# Dataproc's rule, the strictest of the backends with clusters: lowercase letters,
# digits and hyphens, a letter first, no hyphen last, at most 51 characters.
MAX_NAME_LENGTH = 51
HASH_LENGTH = 10
MAX_BASE_LENGTH = MAX_NAME_LENGTH - HASH_LENGTH - 1
NAME_PATTERN = re.compile(r"[a-z](?:[-a-z0-9]{0,49}[a-z0-9])?")

FILTER = "spark_cluster_name"
# The value of a templated field (cluster_name, placement.cluster_name) in the DAG.
CLUSTER_NAME = "{{ run_id | " + FILTER + "(dag.dag_id) }}"
IMPORTS = "import hashlib"


def base_name(spark: SparkConfig, project_name: str) -> str:
    """``spark.cluster_name`` (else ``project_name``) as the start of a valid cluster name."""
    text = getattr(spark, "cluster_name", None) or project_name
    base = ascii_slug(text.lower(), "a-z0-9", "-").strip("-")
    if not base[:1].isalpha():
        base = f"kedro-{base}".rstrip("-")
    return base[:MAX_BASE_LENGTH].rstrip("-")


def preamble(spark: SparkConfig, project_name: str) -> str:
    """Module-level source of the DAG: the base name and the filter that completes it."""
    return "\n".join(
        [
            "# Each DAG run gets its own Spark cluster, named from this base and a hash of the",
            "# DAG and run ids, so that concurrent runs never share or delete one cluster.",
            f"SPARK_CLUSTER_BASE = {literal(base_name(spark, project_name))}",
            "",
            "",
            f"def {FILTER}(run_id, dag_id):",
            '    """The cluster of one DAG run: lowercase, a letter first, at most '
            f'{MAX_NAME_LENGTH} characters."""',
            '    digest = hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()',
            f'    return f"{{SPARK_CLUSTER_BASE}}-{{digest[:{HASH_LENGTH}]}}"',
        ]
    )


def dag_arguments() -> dict[str, str]:
    """``DAG(...)`` keyword arguments that make the filter available to templated fields."""
    return {"user_defined_filters": f"{{{literal(FILTER)}: {FILTER}}}"}
