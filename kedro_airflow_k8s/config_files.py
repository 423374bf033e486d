"""Which file of conf/base or conf/<env> each airflow-k8s.yml key comes from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from kedro_airflow_k8s.errors import ConfigError

# The suffixes Kedro's OmegaConfigLoader reads.
CONFIG_SUFFIXES = (".yml", ".yaml", ".json")


def matching_files(conf_dir: Path, env: str, patterns: Sequence[str]) -> list[Path]:
    """Files the config loader merges for ``patterns``: conf/base first, then conf/<env>."""
    found: list[Path] = []
    for env_dir in dict.fromkeys(["base", env]):
        root = conf_dir / env_dir
        if not root.is_dir():
            continue
        names: set[Path] = set()
        for pattern in patterns:
            names.update(
                path
                for path in root.glob(pattern)
                if path.is_file()
                and path.suffix.lower() in CONFIG_SUFFIXES
                and not any(part.startswith(".") for part in path.relative_to(root).parts)
            )
        found += sorted(names)
    return found


def read_mapping(path: Path, shown: str) -> dict[str, Any] | None:
    """The YAML mapping in ``path``; None when it does not parse (the loader says why).

    A file whose top level is a list or a scalar is an error naming the file.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if data is None or isinstance(data, dict):
        return data
    kind = "list" if isinstance(data, list) else type(data).__name__
    raise ConfigError(
        f"{shown} holds a {kind} at the top level; it must be a mapping of keys such as "
        "`run_config:` (write `key: value` lines, not `- item` lines)"
    )


class ConfigSources:
    """The files one configuration was merged from, to say which file a key is in."""

    def __init__(self, files: Sequence[Path], root: Path) -> None:
        self.root = root
        self.files = [(self._shown(path), read_mapping(path, self._shown(path))) for path in files]

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.files]

    def describe(self) -> str:
        """The files as a phrase: 'conf/base/airflow-k8s.yml and conf/prod/airflow-k8s.yml'."""
        names = self.names
        if not names:
            return "airflow-k8s.yml"
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def file_of(self, loc: Sequence[Any]) -> str | None:
        """The file that sets the longest prefix of the key path ``loc`` (the env's file
        wins over base's, as in the merge)."""
        best: tuple[int, str] | None = None
        for name, data in self.files:
            depth = _depth(data, loc)
            if depth and (best is None or depth >= best[0]):
                best = (depth, name)
        return best[1] if best else None

    def locator(self) -> Callable[[Sequence[Any]], str | None]:
        return self.file_of


def _depth(data: Any, loc: Sequence[Any]) -> int:
    depth = 0
    for key in loc:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            break
        depth += 1
    return depth
