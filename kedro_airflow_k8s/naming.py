"""Names derived from user text: DAG and task ids, Kubernetes and Spark names, cluster names."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_ID_LENGTH = 200


def ascii_slug(text: str, allowed: str = r"A-Za-z0-9_.\-", replacement: str = "_") -> str:
    """``text`` with accents folded to ASCII and each run of other characters than
    ``allowed`` (by default those Airflow ids accept) replaced by ``replacement``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(rf"[^{allowed}]+", replacement, folded)


def dns_label(text: str, limit: int = 50, fallback: str = "kedro") -> str:
    """A DNS-1123 label from ``text`` (pod and Spark application names): lowercase letters,
    digits and inner hyphens, at most ``limit`` characters."""
    name = ascii_slug(text.lower(), "a-z0-9-", "-").strip("-")[:limit].strip("-")
    return name or fallback


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def dag_id_from(name: str) -> str:
    """A valid, readable DAG id for ``name``; a hash keeps distinct names distinct."""
    slug = ascii_slug(name.strip()).strip("._-")
    if not slug:
        return f"kedro_{short_hash(name)}"
    if slug != name.strip():
        slug = f"{slug}_{short_hash(name)}" if len(slug) < len(name.strip()) // 2 else slug
    return slug[:MAX_ID_LENGTH]


def dag_id_for_pipeline(run_name: str, pipeline_name: str | None) -> str:
    """``<run_name>-<pipeline>``, or plain ``<run_name>`` for ``__default__`` (or None)."""
    if pipeline_name in (None, "__default__"):
        return dag_id_from(run_name)
    return dag_id_from(f"{run_name}-{pipeline_name}")
