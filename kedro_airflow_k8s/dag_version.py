"""The version naming one exact rendered DAG source, so a deploy can tell when Airflow has it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

VERSION_TAG_PREFIX = "kak_version:"
PLUGIN_TAG = "kedro"  # the tag every generated DAG carries, besides the user's and the version


def dag_version_tag(source: str) -> str:
    """``kak_version:<12 hex digits>`` of ``source`` (rendered without this tag)."""
    return VERSION_TAG_PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def version_in(tags: Iterable[str]) -> str | None:
    """The version tag among ``tags``, if any."""
    return next((tag for tag in tags if tag.startswith(VERSION_TAG_PREFIX)), None)
