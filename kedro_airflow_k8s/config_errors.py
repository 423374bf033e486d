"""Validation errors of airflow-k8s.yml as one line per key: its path, its file, what to do."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from kedro_airflow_k8s.spark_config import BACKEND_MODELS, foreign_key_hint

# Which file a key path comes from, for error messages.
Locate = Callable[[Sequence[Any]], "str | None"]

REQUIRED_HINTS = {
    "run_config": "add a run_config section (kedro airflow-k8s init writes one)",
    "run_config.image": "set it to the Docker image that has your project installed, "
    "or pass --image",
    "run_config.namespace": "set it to the Kubernetes namespace the pods run in",
    "run_config.spark.operator_factory": "type 'custom' needs operator_factory: "
    "package.module.Class of your SparkOperatorFactoryBase subclass",
}


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys valid at ``loc`` (the path of the mapping that holds the offending key)."""
    annotation: Any = model
    for item in loc:
        if isinstance(item, int):
            annotation = _unwrap(annotation, list)
            continue
        model_cls = _model_in(annotation)
        container = _unwrap(annotation, dict)
        if container is not annotation and _model_in(container) is not None:
            annotation = container  # the item is a user key such as a profile name
        elif model_cls is not None and str(item) in model_cls.model_fields:
            annotation = model_cls.model_fields[str(item)].annotation
        else:
            return []
    found = _model_in(annotation)
    return list(found.model_fields) if found is not None else []


def _unwrap(annotation: Any, origin: type) -> Any:
    """The value type of ``list[X]`` / ``dict[str, X]`` (also inside ``| None``)."""
    for candidate in (annotation, *(typing.get_args(annotation) or ())):
        if typing.get_origin(candidate) is origin:
            return typing.get_args(candidate)[-1]
    return annotation


def _model_in(annotation: Any) -> Any:
    """The BaseModel class of ``M`` or ``M | None`` (not inside containers)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, dict):
        return None
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


SPARK_LOC = ("run_config", "spark")


def _without_backend_tag(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str | None]:
    """``loc`` without the backend name pydantic inserts after run_config.spark, and that name."""
    if loc[:2] == SPARK_LOC and len(loc) > 2 and loc[2] in BACKEND_MODELS:
        return loc[:2] + loc[3:], str(loc[2])
    return loc, None


def _valid_keys(root: type[BaseModel], loc: tuple[Any, ...], backend: str | None) -> list[str]:
    if backend is None:
        return _known_keys(root, loc)
    return _known_keys(BACKEND_MODELS[backend], loc[len(SPARK_LOC) :])


def describe_errors(
    error: ValidationError, source: str, root: type[BaseModel], locate: Locate | None = None
) -> str:
    """One line per error of validating ``root``: the key path, the file it is in
    (``locate``), what is wrong and what to do."""
    lines = [f"{source} is not valid:"]
    for item in error.errors():
        loc, backend = _without_backend_tag(tuple(item["loc"]))
        value = item.get("input")
        if item["type"] == "spark_type":  # the union's error is about its `type` key
            loc = (*loc, "type")
            value = value.get("type") if isinstance(value, dict) else value
        path = _path(loc)
        where = locate(loc) if locate is not None else None
        if where:
            path = f"{path} (in {where})"
        kind = item["type"]
        if kind == "extra_forbidden":
            foreign = foreign_key_hint(backend, str(loc[-1])) if len(loc) == 3 else None
            if backend and foreign:
                lines.append(f"  - {path}: {foreign}")
                continue
            known = _valid_keys(root, loc[:-1], backend)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            if not close and known:
                hint = f"; valid keys here: {', '.join(known)}"
            lines.append(f"  - {path}: unknown key{hint}")
        elif kind == "missing":
            hint = REQUIRED_HINTS.get(_path(loc), "add it")
            lines.append(f"  - {path}: required key is missing; {hint}")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            lines.append(f"  - {path}: {message} (got {shown})")
    return "\n".join(lines)
