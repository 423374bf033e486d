"""Which files of conf/ ship to the Spark cluster: what Kedro's config loader reads, plus
``run_config.spark.conf_include``; never conf/local, credentials or hidden files."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

# OmegaConfigLoader's own patterns (Kedro 1.x), and the ones Kedro projects commonly add:
# logging (KEDRO_LOGGING_CONFIG usually points into conf/) and spark (the pyspark starter).
KEDRO_PATTERNS: dict[str, list[str]] = {
    "catalog": ["catalog*", "catalog*/**", "**/catalog*"],
    "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
    "credentials": ["credentials*", "credentials*/**", "**/credentials*"],
    "globals": ["globals.yml"],
    "logging": ["logging*"],
    "spark": ["spark*", "spark*/**"],
}
# Pattern keys whose files never leave the machine, whatever else matches them.
NEVER_SHIPPED = frozenset({"credentials", "airflow-k8s"})
# The suffixes Kedro's config loader reads.
KEDRO_SUFFIXES = (".yml", ".yaml", ".json")
# Directories that never travel, even when a pattern reaches into them.
DENIED_DIRS = frozenset({"__pycache__", "data", "venv", ".venv", ".git", ".ipynb_checkpoints"})


@cache
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A glob of the config loader (``**`` spans folders, ``*`` and ``?`` stay in one)."""
    parts = []
    for index, segment in enumerate(pattern.strip("/").split("/")):
        last = index == len(pattern.strip("/").split("/")) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
            continue
        text = "".join(
            "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment
        )
        parts.append(text if last else text + "/")
    return re.compile("".join(parts) + r"\Z")


def matches(relative: str, patterns: Iterable[str]) -> bool:
    """Whether the POSIX path ``relative`` (inside one env folder) matches a pattern."""
    return any(_pattern_regex(p).match(relative) for p in patterns)


def loader_patterns(project_patterns: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """Kedro's patterns updated with the project's (settings.py CONFIG_LOADER_ARGS)."""
    merged = {key: list(value) for key, value in KEDRO_PATTERNS.items()}
    for key, value in (project_patterns or {}).items():
        merged[key] = list(value)
    return merged


def select_conf_files(
    conf_dir: Path,
    env: str,
    patterns: Mapping[str, Sequence[str]] | None = None,
    include: Sequence[str] = (),
) -> tuple[list[str], list[tuple[str, str]]]:
    """Config files to ship and those left out, with why, as POSIX paths like conf/base/x.yml.

    From conf/base and conf/<env> (never local), a file ships when the config
    loader reads it (a pattern of ``patterns`` other than credentials, with a
    suffix Kedro reads) or when a ``include`` glob matches it.
    """
    everything = loader_patterns(patterns)
    secret = [p for key in NEVER_SHIPPED for p in everything.get(key, [])]
    readable = [p for key, pats in everything.items() if key not in NEVER_SHIPPED for p in pats]
    included: list[str] = []
    excluded: list[tuple[str, str]] = []
    for env_dir in ["base"] + ([] if env in ("base", "local") else [env]):
        root = conf_dir / env_dir
        if not root.is_dir():
            continue
        for current, dirs, files in os.walk(root):
            here = Path(current)
            for name in sorted(dirs):
                path = here / name
                reason = _dir_reason(path)
                if reason:
                    dirs.remove(name)
                    excluded.append((_shown(conf_dir, path) + "/", reason))
            for name in files:
                path = here / name
                relative = path.relative_to(root).as_posix()
                reason = _file_reason(path, relative, readable, secret, include)
                if reason:
                    excluded.append((_shown(conf_dir, path), reason))
                else:
                    included.append(_shown(conf_dir, path))
    return sorted(included), sorted(excluded)


def _shown(conf_dir: Path, path: Path) -> str:
    return path.relative_to(conf_dir.parent).as_posix()


def _dir_reason(path: Path) -> str | None:
    if path.name.startswith("."):
        return "hidden folders are never packaged"
    if path.name.lower() in DENIED_DIRS:
        return f"'{path.name}' folders are never packaged"
    if (path / "pyvenv.cfg").exists():
        return "virtual environments are never packaged"
    if path.is_symlink():
        return "symbolic links are not followed"
    return None


def _file_reason(
    path: Path, relative: str, readable: list[str], secret: list[str], include: Sequence[str]
) -> str | None:
    if path.name.startswith("."):
        return "hidden files are never packaged"
    if path.is_symlink():
        return "symbolic links are not followed"
    if matches(relative, secret):
        return "credentials never leave the machine"
    if include and matches(relative, include):
        return None
    if path.suffix in KEDRO_SUFFIXES and matches(relative, readable):
        return None
    return (
        "Kedro's config loader does not read it; list it under "
        "run_config.spark.conf_include to ship it"
    )
