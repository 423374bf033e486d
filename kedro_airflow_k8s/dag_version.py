"""The version naming one exact rendered DAG source, so a deploy can tell when Airflow has it."""

from __future__ import annotations

import hashlib
import re

PLUGIN_TAG = "kedro"  # the one tag every generated DAG carries, besides the user's
# How the DAG's doc_md names its version; Airflow serves doc_md from the stored DAG.
VERSION_IN_DOC = re.compile(r"DAG version `([0-9a-f]{12})`")


def dag_version(source: str) -> str:
    """12 hex digits of the hash of ``source`` (rendered without its version)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def version_in_doc(doc_md: str | None) -> str | None:
    """The DAG version that ``doc_md`` names, if any."""
    found = VERSION_IN_DOC.search(doc_md or "")
    return found.group(1) if found else None
