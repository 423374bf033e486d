"""Python literals and template-safe strings for the generated DAG source."""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Callable
from typing import Any

# A brace that opens a delimiter, or a carriage return (with a brace before it, which would
# otherwise open a delimiter with the expression written for the return).
_JINJA_SPECIAL = re.compile(r"\{[{%#]|\{?\r")
_JINJA_REPLACEMENT = {"\r": "{{ '\\r' }}", "{\r": "{{ '{\\r' }}"}


def neutralise_template(text: str) -> str:
    r"""Make ``text`` render to itself in Airflow's Jinja.

    ``{{``, ``{%`` and ``{#`` become expressions that print those two characters,
    so no user value is ever evaluated. Jinja also turns ``\r`` into ``\n`` and
    drops one trailing newline; those are written as expressions too.
    """
    text = _JINJA_SPECIAL.sub(
        lambda m: _JINJA_REPLACEMENT.get(m.group(0)) or "{{ '" + m.group(0) + "' }}", text
    )
    if text.endswith("\n"):
        text += "{{ '' }}"
    return text


def neutralise_all(value: Any) -> Any:
    """``neutralise_template`` applied to every string value inside lists, tuples and dicts.

    Mapping keys stay as written: Airflow renders values, never keys, so an escaped
    key would reach the pod changed.
    """
    if isinstance(value, str):
        return neutralise_template(value)
    if isinstance(value, dict):
        return {k: neutralise_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(neutralise_all(v) for v in value)
    return value


def literal(value: Any, indent: int = 0, width: int = 88) -> str:
    """A Python literal for ``value`` (str, numbers, bools, None, lists, tuples, dicts).

    Built on ``repr``, so quotes, backslashes, newlines and non-ASCII text survive
    exactly. A container that does not fit in ``width`` columns is written one item
    per line, with ``indent`` spaces before its closing bracket.
    """
    _check_literal(value)
    return _format(value, indent, width)


def _format(value: Any, indent: int, width: int) -> str:
    return layout(value, indent, width)


def layout(value: Any, indent: int, width: int, flat: Callable[[Any], str] = repr) -> str:
    """``value`` as source: ``flat(value)`` when it fits in ``width`` columns, else a
    container one item per line and a long multi-line string one line per text line.

    ``flat`` writes a value on one line; values inside containers are laid out the same way.
    """
    text = flat(value)
    if isinstance(value, str) and "\n" in value.rstrip("\n") and len(text) + indent > width:
        # Implicit concatenation, one source line per text line: readable and exact.
        pad = " " * (indent + 4)
        parts = [f"{pad}{repr(line)}" for line in value.splitlines(keepends=True)]
        return "(\n" + "\n".join(parts) + "\n" + " " * indent + ")"
    if len(text) + indent <= width or not isinstance(value, (dict, list, tuple)) or not value:
        return text
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{repr(k)}: {layout(v, indent + 4, width, flat)}," for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [f"{pad}{layout(v, indent + 4, width, flat)}," for v in value]
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
    return opening + "\n" + "\n".join(items) + "\n" + " " * indent + closing


def comment(text: str) -> str:
    """``text`` as ``#`` comment lines; control characters cannot end a comment early."""
    lines = []
    for line in text.split("\n"):
        clean = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in line)
        lines.append(f"# {clean}".rstrip())
    return "\n".join(lines)


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
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name = f"{name}_{prefix}"  # `class` is no variable name; `class_task` is
    return name
