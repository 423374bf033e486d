"""A Kedro project's metadata and settings.py, read without Kedro's CLI, session or dynaconf.

The commands that only talk to Airflow need airflow-k8s.yml and nothing else of the
project. Kedro's own bootstrap (``kedro.framework.project``) costs more than a second
of start-up, most of it dynaconf, and logs a line; reading pyproject.toml and
importing settings.py as Kedro does gives the same config loader for a fraction.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Kedro depends on tomli there
    import tomli as tomllib

# Kedro's defaults for the settings the config needs (kedro.framework.project._ProjectSettings).
DEFAULT_CONF_SOURCE = "conf"
DEFAULT_CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}


@dataclass(frozen=True)
class ProjectMetadata:
    """The ``[tool.kedro]`` keys of pyproject.toml that name the project."""

    package_name: str
    project_name: str
    source_dir: Path


class SettingsFile:
    """The values of settings.py, with Kedro's defaults where it sets none."""

    def __init__(self, module: ModuleType | None) -> None:
        self._module = module

    def _get(self, name: str, default: Any) -> Any:
        value = getattr(self._module, name, None) if self._module is not None else None
        return default if value is None else value

    @property
    def CONF_SOURCE(self) -> str:  # noqa: N802 - the name Kedro's settings object uses
        return str(self._get("CONF_SOURCE", DEFAULT_CONF_SOURCE))

    @property
    def CONFIG_LOADER_CLASS(self) -> type:  # noqa: N802
        found = self._get("CONFIG_LOADER_CLASS", None)
        if found is None:
            from kedro.config import OmegaConfigLoader

            return OmegaConfigLoader
        return found

    @property
    def CONFIG_LOADER_ARGS(self) -> dict[str, Any]:  # noqa: N802
        return dict(self._get("CONFIG_LOADER_ARGS", DEFAULT_CONFIG_LOADER_ARGS))

    @property
    def DATA_CATALOG_CLASS(self) -> type:  # noqa: N802
        found = self._get("DATA_CATALOG_CLASS", None)
        if found is None:
            from kedro.io import DataCatalog

            return DataCatalog
        return found


def read_metadata(path: Path) -> ProjectMetadata:
    """``[tool.kedro]`` of ``path``/pyproject.toml; RuntimeError naming what is missing."""
    pyproject = path / "pyproject.toml"
    try:
        with pyproject.open("rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise RuntimeError(f"{pyproject} is not valid TOML: {error}") from error
    kedro = document.get("tool", {}).get("kedro")
    if not isinstance(kedro, dict):
        raise RuntimeError(f"{pyproject} has no [tool.kedro] section")
    missing = [key for key in ("package_name", "project_name") if not kedro.get(key)]
    if missing:
        raise RuntimeError(f"[tool.kedro] in {pyproject} lacks {', '.join(missing)}")
    source_dir = (path / Path(str(kedro.get("source_dir", "src"))).expanduser()).resolve()
    return ProjectMetadata(str(kedro["package_name"]), str(kedro["project_name"]), source_dir)


def read_settings(path: Path) -> tuple[ProjectMetadata, SettingsFile]:
    """The project's metadata and settings.py, its source folder put on ``sys.path`` as
    Kedro's bootstrap does. Whatever settings.py raises is raised."""
    metadata = read_metadata(path)
    source = str(metadata.source_dir)
    if source not in sys.path:
        sys.path.insert(0, source)
    forget_other_copies(metadata.package_name, metadata.source_dir)
    name = f"{metadata.package_name}.settings"
    module = importlib.import_module(name) if importlib.util.find_spec(name) else None
    return metadata, SettingsFile(module)


def forget_other_copies(package_name: str, source_dir: Path) -> None:
    """Drop an imported package of this name that comes from another folder (another copy
    of the project read earlier in this process), so settings.py is this project's."""
    loaded = sys.modules.get(package_name)
    where = getattr(loaded, "__file__", None) if loaded is not None else None
    if where is None or source_dir in Path(where).resolve().parents:
        return
    for name in [n for n in sys.modules if n == package_name or n.startswith(package_name + ".")]:
        del sys.modules[name]
