"""Dataset factory patterns resolved as Kedro resolves them, each pattern compiled once.

Kedro's ``resolve_pattern`` parses every pattern again for every name and copies the
pattern's config: about a millisecond a dataset, seconds for a large pipeline on a
catch-all catalog. Plain ``{field}`` patterns become one regular expression each here;
a catalog with any other pattern syntax is resolved by Kedro itself.
"""

from __future__ import annotations

import re
from typing import Any

_FIELD = re.compile(r"\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CatalogPatterns:
    """The dataset factory patterns of one Kedro ``CatalogConfigResolver``."""

    def __init__(self, resolver: Any) -> None:
        self._resolver = resolver
        user = [
            *(getattr(resolver, "_dataset_patterns", None) or {}),
            *(getattr(resolver, "_user_catch_all_pattern", None) or {}),
        ]
        self._user = set(user)
        self._pattern_config = getattr(resolver, "_get_pattern_config", None)
        listed = list(resolver.list_patterns()) if hasattr(resolver, "list_patterns") else None
        compiled = [_compiled(pattern) for pattern in listed or ()]
        self._fast = (
            listed is not None
            and self._pattern_config is not None
            and set(user) <= set(listed)
            and all(expression is not None for expression in compiled)
        )
        self._patterns = list(zip(listed or (), compiled, strict=True)) if self._fast else []

    def match(self, name: str, user_only: bool = False) -> tuple[str, dict[str, str]] | None:
        """The first pattern ``name`` matches in Kedro's order, with the field values;
        ``user_only`` leaves out Kedro's own runtime patterns (the MemoryDataset default)."""
        if not self._fast:
            return self._kedro_match(name, user_only)
        for pattern, expression in self._patterns:
            if user_only and pattern not in self._user:
                continue
            found = expression.fullmatch(name)
            if found is not None:
                return pattern, found.groupdict()
        return None

    def resolve(self, name: str) -> dict[str, Any]:
        """The catalog entry of the undeclared dataset ``name``, as ``resolve_pattern`` gives it."""
        if not self._fast:
            return _kedro_resolve(self._resolver, name)
        found = self.match(name)
        if found is None:
            return {}
        pattern, fields = found
        config = self._pattern_config(pattern)  # type: ignore[misc]
        try:
            return _filled(config, fields) if isinstance(config, dict) else {}
        except (KeyError, IndexError, ValueError):  # a placeholder Kedro itself must judge
            return _kedro_resolve(self._resolver, name)

    def _kedro_match(self, name: str, user_only: bool) -> tuple[str, dict[str, str]] | None:
        from parse import parse

        resolver = self._resolver
        pattern = resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(
            name
        )
        if pattern is None and not user_only:
            pattern = resolver.match_runtime_pattern(name)
        if pattern is None:
            return None
        found = parse(pattern, name)
        return pattern, dict(found.named) if found else {}


def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The expression ``parse`` matches ``pattern`` with, for plain ``{field}`` patterns
    (case-insensitive, a repeated field matching the same text); None for any other syntax."""
    if "{{" in pattern or "}}" in pattern or any(c.isspace() for c in pattern):
        return None
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for field in _FIELD.finditer(pattern):
        name = field.group(1)
        if not _IDENTIFIER.fullmatch(name):
            return None
        literal = pattern[position : field.start()]
        if "{" in literal or "}" in literal:
            return None
        parts.append(re.escape(literal))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = field.end()
    rest = pattern[position:]
    if "{" in rest or "}" in rest:
        return None
    parts.append(re.escape(rest))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _filled(config: Any, fields: dict[str, str]) -> Any:
    """``config`` with the field values in every string that has a placeholder (a new copy)."""
    if isinstance(config, dict):
        return {key: _filled(value, fields) for key, value in config.items()}
    if type(config) in (list, tuple):
        return [_filled(value, fields) for value in config]
    if isinstance(config, str) and "}" in config:
        return config.format_map(fields)
    return config


def _kedro_resolve(resolver: Any, name: str) -> dict[str, Any]:
    from kedro_airflow_k8s.classify import quiet_catch_all_notices

    try:
        with quiet_catch_all_notices():
            resolved = resolver.resolve_pattern(name)
    except Exception:  # noqa: BLE001 - a pattern Kedro cannot fill means no entry
        return {}
    return dict(resolved) if isinstance(resolved, dict) else {}
