"""Keyword arguments a class accepts, read from the real signatures of its constructors."""

from __future__ import annotations

import importlib
import inspect
from functools import cache


def load(path: str) -> object | None:
    """The object at ``package.module.Name``; None when it cannot be imported here."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@cache
def accepted_arguments(cls: type) -> frozenset[str] | None:
    """Names ``cls(...)`` accepts: the constructors' named parameters along the MRO, as far
    as each passes ``**kwargs`` on. None when a constructor takes any keyword at all."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {
            p.name
            for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return frozenset(names)
    return None


def unknown_arguments(cls: type, names: list[str]) -> list[str]:
    """The ``names`` that ``cls`` does not accept (none when it accepts any keyword)."""
    accepted = accepted_arguments(cls)
    if accepted is None:
        return []
    return [name for name in names if name not in accepted]
