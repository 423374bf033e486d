"""Names Airflow accepts: DAG ids and task ids derived from user text."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_ID_LENGTH = 200


def ascii_slug(text: str, allowed: str = r"A-Za-z0-9_.\-") -> str:
    """``text`` with accents folded to ASCII and anything else Airflow refuses as ``_``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(rf"[^{allowed}]+", "_", folded)


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
