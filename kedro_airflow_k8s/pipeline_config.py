"""One pipeline's airflow-k8s.yml: run_config with its ``pipelines.<name>`` section merged in."""

from __future__ import annotations

import copy
from typing import Any


def config_for_pipeline(raw: dict[str, Any], pipeline_name: str) -> dict[str, Any]:
    """``raw`` with ``pipelines.<pipeline_name>`` merged into ``run_config``.

    Mappings merge key by key and anything else is replaced, so a pipeline changes
    one resource profile or one env var without repeating the rest. A ``spark``
    section of another ``type`` replaces ``run_config.spark`` whole: the settings of
    one backend mean nothing to another.
    """
    override = (raw.get("pipelines") or {}).get(pipeline_name)
    if not isinstance(override, dict) or not override:
        return raw
    merged = copy.deepcopy(raw)
    base = merged.get("run_config")
    base = base if isinstance(base, dict) else {}
    for key, value in override.items():
        current = base.get(key)
        if key == "spark" and _other_backend(current, value):
            base[key] = copy.deepcopy(value)
        else:
            base[key] = _merged(current, value)
    merged["run_config"] = base
    return merged


def _other_backend(current: Any, value: Any) -> bool:
    if not isinstance(current, dict) or not isinstance(value, dict) or "type" not in value:
        return False
    return value["type"] != current.get("type", "none")


def _merged(current: Any, value: Any) -> Any:
    if isinstance(current, dict) and isinstance(value, dict):
        result = dict(current)
        for key, item in value.items():
            result[key] = _merged(current.get(key), item)
        return result
    return copy.deepcopy(value)
