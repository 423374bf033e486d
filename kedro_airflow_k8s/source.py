"""Python literals and template-safe strings for the generated DAG source."""

from __future__ import annotations

import pprint
import re
from typing import Any

_JINJA_OPENERS = re.compile(r"\{[{%#]")


def neutralise_template(text: str) -> str:
    """Make ``text`` render to itself in Airflow's Jinja: ``{{``, ``{%`` and ``{#`` become
    expressions that print those two characters, so no user value is ever evaluated.
    """
    return _JINJA_OPENERS.sub(lambda m: "{{ '" + m.group(0) + "' }}", text)


def neutralise_all(value: Any) -> Any:
    """``neutralise_template`` applied to every string inside lists, tuples and dicts."""
    if isinstance(value, str):
        return neutralise_template(value)
    if isinstance(value, dict):
        return {neutralise_all(k): neutralise_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(neutralise_all(v) for v in value)
    return value


def literal(value: Any, indent: int = 0, width: int = 88) -> str:
    """A Python literal for ``value`` (str, numbers, bools, None, lists, tuples, dicts).

    Built on ``repr``, so quotes, backslashes, newlines and non-ASCII text survive
    exactly. Long containers are wrapped and indented by ``indent`` spaces after
    their first line.
    """
    _check_literal(value)
    text = repr(value)
    if len(text) + indent > width and isinstance(value, (dict, list, tuple)):
        text = pprint.pformat(value, width=max(width - indent, 40), sort_dicts=False)
    if indent and "\n" in text:
        pad = " " * indent
        text = text.replace("\n", "\n" + pad)
    return text


def template_literal(value: Any, indent: int = 0) -> str:
    """``literal`` of a value that lands in an Airflow templated field."""
    return literal(neutralise_all(value), indent=indent)


def _check_literal(value: Any) -> None:
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_literal(key)
            _check_literal(item)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_literal(item)
        return
    raise TypeError(f"cannot write {type(value).__name__} into the DAG as a literal")


def identifier(text: str, prefix: str = "task") -> str:
    """A Python identifier derived from ``text`` (for variable names in the DAG)."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    name = re.sub(r"_+", "_", name).strip("_").lower()
    if not name or name[0].isdigit():
        name = f"{prefix}_{name}".rstrip("_")
    return name
