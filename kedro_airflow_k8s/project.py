"""Load a Kedro project for compiling: metadata, pipeline, catalog types and plugin config.

Nothing here runs project hooks or instantiates datasets, so compiling never
starts a SparkSession, never needs Java and never reads credentials.
"""

from __future__ import annotations

import copy
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.config import CONFIG_FILE, PluginConfig, parse_config
from kedro_airflow_k8s.errors import UserError

CONFIG_PATTERNS = ["airflow-k8s*", "airflow-k8s/**"]


def default_env() -> str:
    return os.environ.get("KEDRO_ENV") or "local"


@dataclass
class KedroProject:
    """What compile needs to know about one Kedro project in one environment."""

    path: Path
    package_name: str
    project_name: str
    env: str
    pipeline_name: str
    pipeline: Any
    catalog: Any
    catalog_config: dict[str, Any]
    raw_config: dict[str, Any]
    conf_source: Path
    config_source: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def config(self) -> PluginConfig:
        return parse_config(self.raw_config, source=self.config_source, overrides=self.overrides)

    @cached_property
    def _catalog_type(self) -> Any:
        from kedro_airflow_k8s.classify import cached_catalog_type, catalog_types

        return cached_catalog_type(catalog_types(self.catalog))

    def catalog_type(self, name: str) -> str | None:
        """Fully qualified dataset class of ``name``, or None when it is not declared."""
        return self._catalog_type(name)

    def dataset_config(self, name: str) -> dict[str, Any]:
        """The catalog entry of ``name`` (patterns resolved), credentials removed."""
        entry = self.catalog_config.get(name)
        if entry is None:
            try:
                resolved = self.catalog.config_resolver.resolve_pattern(name)
            except Exception:  # noqa: BLE001
                resolved = None
            entry = resolved or {}
        return dict(entry) if isinstance(entry, dict) else {}

    @cached_property
    def commit_sha(self) -> str | None:
        return git_commit(self.path)

    @property
    def dag_id(self) -> str:
        from kedro_airflow_k8s.naming import dag_id_from

        return dag_id_from(self.config.run_config.run_name or self.package_name)


def git_commit(path: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and sha else None


def _strip_credentials(catalog_config: dict[str, Any]) -> dict[str, Any]:
    # Dataset types never depend on credentials; leaving them out means compile
    # works where conf/local is absent and no secret is ever loaded.
    cleaned = copy.deepcopy(catalog_config)
    for entry in cleaned.values():
        if isinstance(entry, dict):
            entry.pop("credentials", None)
            for nested in ("dataset", "filepath_arguments"):
                if isinstance(entry.get(nested), dict):
                    entry[nested].pop("credentials", None)
    return cleaned


def load_project(
    project_path: Path | str | None = None,
    env: str | None = None,
    pipeline_name: str = "__default__",
    overrides: dict[str, Any] | None = None,
    require_config: bool = True,
) -> KedroProject:
    """Bootstrap the Kedro project at ``project_path`` and read what compile needs."""
    from kedro.framework.project import pipelines, settings
    from kedro.framework.startup import bootstrap_project

    path = Path(project_path or Path.cwd()).resolve()
    if not (path / "pyproject.toml").is_file():
        raise UserError(f"{path} is not a Kedro project: there is no pyproject.toml")
    try:
        metadata = bootstrap_project(path)
    except Exception as error:  # noqa: BLE001 - Kedro raises plain exceptions here
        raise UserError(f"cannot load the Kedro project at {path}: {error}") from None
    env = env or default_env()
    conf_source = path / settings.CONF_SOURCE
    loader_args = with_env_resolver(settings.CONFIG_LOADER_CLASS, settings.CONFIG_LOADER_ARGS)
    with warnings.catch_warnings():
        # OmegaConf deprecates the resolver-registration call Kedro makes for us.
        warnings.filterwarnings("ignore", message=".*register_new_resolver", category=UserWarning)
        config_loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(conf_source), env=env, **loader_args
        )
    config_loader.config_patterns.update({"airflow-k8s": CONFIG_PATTERNS})

    raw_config = _read(config_loader, "airflow-k8s", required=require_config, env=env)
    catalog_config = _read(config_loader, "catalog", required=False, env=env)
    catalog_config = {k: v for k, v in catalog_config.items() if not str(k).startswith("_")}
    catalog_config = _strip_credentials(catalog_config)
    try:
        catalog = settings.DATA_CATALOG_CLASS.from_config(catalog=catalog_config)
    except Exception as error:  # noqa: BLE001
        raise UserError(f"the data catalog of env '{env}' does not load: {error}") from None

    try:
        pipeline = pipelines[pipeline_name]
    except KeyError:
        known = ", ".join(sorted(pipelines)) or "none"
        raise UserError(
            f"pipeline '{pipeline_name}' is not registered in the project; known pipelines: {known}"
        ) from None

    return KedroProject(
        path=path,
        package_name=metadata.package_name,
        project_name=metadata.project_name,
        env=env,
        pipeline_name=pipeline_name,
        pipeline=pipeline,
        catalog=catalog,
        catalog_config=catalog_config,
        raw_config=raw_config,
        conf_source=conf_source,
        config_source=f"conf/{env}/{CONFIG_FILE} (merged with conf/base)",
        overrides=dict(overrides or {}),
    )


def with_env_resolver(loader_class: type, loader_args: dict[str, Any]) -> dict[str, Any]:
    """Loader arguments for reading airflow-k8s.yml.

    ``${oc.env:...}`` is enabled (deployment settings such as image tags come from
    the environment; Kedro enables it only for credentials by default), and an
    environment's file is merged key by key into conf/base ("soft" merge), so
    conf/prod/airflow-k8s.yml can change one value without repeating the rest.
    """
    from kedro.config import OmegaConfigLoader
    from omegaconf.resolvers import oc

    args = dict(loader_args)
    if isinstance(loader_class, type) and issubclass(loader_class, OmegaConfigLoader):
        resolvers = dict(args.get("custom_resolvers") or {})
        resolvers.setdefault("oc.env", oc.env)
        args["custom_resolvers"] = resolvers
        strategies = dict(args.get("merge_strategy") or {})
        strategies.setdefault("airflow-k8s", "soft")
        args["merge_strategy"] = strategies
    return args


def _read(config_loader: Any, key: str, required: bool, env: str) -> dict[str, Any]:
    from kedro.config import MissingConfigException

    try:
        value = config_loader[key]
    except MissingConfigException:
        if required:
            raise UserError(
                f"no {CONFIG_FILE} found in conf/base or conf/{env}: run "
                "'kedro airflow-k8s init <AIRFLOW_URL>' to create conf/base/airflow-k8s.yml"
            ) from None
        return {}
    except Exception as error:  # noqa: BLE001 - YAML and interpolation errors
        raise UserError(f"cannot read the {key} configuration of env '{env}': {error}") from None
    return dict(value or {})
