"""Load a Kedro project for compiling: metadata, pipeline, catalog types and plugin config.

Nothing here runs project hooks or instantiates datasets, so compiling never
starts a SparkSession, never needs Java and never reads credentials.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.catalog_entries import check_catalog_types, strip_credentials
from kedro_airflow_k8s.config import PluginConfig, parse_config
from kedro_airflow_k8s.config_files import ConfigSources, matching_files
from kedro_airflow_k8s.config_loader import (
    CONFIG_PATTERNS,
    check_conf_source,
    make_config_loader,
    own_spark_section,
    project_patterns,
    read_config,
)
from kedro_airflow_k8s.cycle_collection import cycle_collection_paused
from kedro_airflow_k8s.errors import UserError, one_paragraph
from kedro_airflow_k8s.pipeline_registry import load_pipeline, registered_pipeline_names
from kedro_airflow_k8s.selection import NothingSelected, PipelineFilter
from kedro_airflow_k8s.spark_config import with_env_section


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
    config_sources: ConfigSources | None = None
    registered_pipeline: Any = None
    """The pipeline as registered, before the command's node filters."""
    params: str | None = None
    """``--params`` of the command: Kedro params baked into every task."""
    config_patterns: dict[str, list[str]] = field(default_factory=dict)
    config_loader: Any = None

    @cached_property
    def config(self) -> PluginConfig:
        """The plugin config, with this pipeline's ``pipelines.<name>`` section applied."""
        from kedro_airflow_k8s.pipeline_config import config_for_pipeline

        locate = self.config_sources.file_of if self.config_sources else None
        whole = parse_config(
            self.raw_config, source=self.config_source, overrides=self.overrides, locate=locate
        )
        if self.pipeline_name not in whole.pipelines:
            return whole
        return parse_config(
            config_for_pipeline(self.raw_config, self.pipeline_name),
            source=f"{self.config_source} with pipelines.{self.pipeline_name} applied",
            overrides=self.overrides,
            locate=locate,
        )

    @cached_property
    def parameters(self) -> dict[str, Any]:
        """The project's parameters in this env (read only when a feature needs them)."""
        if self.config_loader is None:
            return {}
        return read_config(self.config_loader, "parameters", required=False, env=self.env)

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
            entry = self._patterns.resolve(name)
        return dict(entry) if isinstance(entry, dict) else {}

    @cached_property
    def _patterns(self) -> Any:
        from kedro_airflow_k8s.catalog_patterns import CatalogPatterns

        return CatalogPatterns(self.catalog.config_resolver)

    @cached_property
    def commit_sha(self) -> str | None:
        return git_commit(self.path)

    @property
    def dag_id(self) -> str:
        """``pipelines.<name>.run_name`` as given; else ``<run_name>-<pipeline>``, with
        plain ``<run_name>`` (default: the package name) for ``__default__``."""
        from kedro_airflow_k8s.naming import dag_id_for_pipeline

        own = self.config.pipelines.get(self.pipeline_name)
        if own is not None and own.run_name:
            return dag_id_for_pipeline(own.run_name, None)
        run_name = self.config.run_config.run_name or self.package_name
        return dag_id_for_pipeline(run_name, self.pipeline_name)


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


def load_project(
    project_path: Path | str | None = None,
    env: str | None = None,
    pipeline_name: str = "__default__",
    overrides: dict[str, Any] | None = None,
    require_config: bool = True,
    conf_source: str | None = None,
    filters: PipelineFilter | None = None,
    params: str | None = None,
) -> KedroProject:
    """Bootstrap the Kedro project at ``project_path`` and read what compile needs.

    Whatever the project's own code raises (settings.py, the pipeline registry, node
    modules, the catalog) becomes a UserError with Kedro's message and the place in
    the project; the original exception is its cause, for ``--verbose``.
    """
    (project,) = load_projects(
        project_path, env, [pipeline_name], overrides, require_config, conf_source, filters, params
    )
    return project


def load_projects(
    project_path: Path | str | None = None,
    env: str | None = None,
    pipeline_names: list[str] | tuple[str, ...] | None = None,
    overrides: dict[str, Any] | None = None,
    require_config: bool = True,
    conf_source: str | None = None,
    filters: PipelineFilter | None = None,
    params: str | None = None,
    load_pipelines: bool = True,
) -> list[KedroProject]:
    """The project once per pipeline of ``pipeline_names`` (None: every registered
    pipeline, ``__default__`` first), each filtered by ``filters``; loaded once.

    ``load_pipelines=False`` reads airflow-k8s.yml alone: the projects have no
    pipeline and no catalog, enough for the commands that only talk to Airflow. With
    ``pipeline_names`` given, it reads settings.py without Kedro's session either.
    """
    path = Path(project_path or Path.cwd()).resolve()
    if not (path / "pyproject.toml").is_file():
        raise UserError(f"{path} is not a Kedro project: there is no pyproject.toml")
    try:
        if load_pipelines or pipeline_names is None:
            metadata, settings = bootstrap_kedro(path)
        else:
            from kedro_airflow_k8s.project_settings import read_settings

            metadata, settings = read_settings(path)
    except Exception as error:  # noqa: BLE001 - Kedro raises plain exceptions here
        raise UserError(
            f"cannot load the Kedro project at {path}: {one_paragraph(error, path)}"
        ) from error
    env = env or default_env()
    try:
        if conf_source:
            conf_source = check_conf_source(Path(conf_source), env)
        else:
            conf_source = path / settings.CONF_SOURCE
        config_loader = make_config_loader(settings, conf_source, env)
        catalog_class = settings.DATA_CATALOG_CLASS if load_pipelines else None
    except Exception as error:  # noqa: BLE001 - settings.py and the loader are project code
        raise UserError(
            f"the settings of the Kedro project at {path} do not load (settings.py, "
            f"env '{env}'): {one_paragraph(error, path)}"
        ) from error

    sources = ConfigSources(matching_files(conf_source, env, CONFIG_PATTERNS), conf_source.parent)
    raw_config = read_config(config_loader, "airflow-k8s", required=require_config, env=env)
    if env != "base":
        files = matching_files(conf_source, env, CONFIG_PATTERNS)
        raw_config = with_env_section(
            raw_config,
            own_spark_section(files, conf_source / "base"),
            own_spark_section(files, conf_source / env),
        )
    catalog_config: dict[str, Any] = {}
    catalog = None
    if load_pipelines:
        catalog_config = read_config(config_loader, "catalog", required=False, env=env)
        catalog_config = {k: v for k, v in catalog_config.items() if not str(k).startswith("_")}
        check_catalog_types(catalog_config, env)
        catalog_config = strip_credentials(catalog_config)
        try:
            catalog = catalog_class.from_config(catalog=catalog_config)
        except Exception as error:  # noqa: BLE001
            raise UserError(
                f"the data catalog of env '{env}' does not load: {one_paragraph(error, path)}"
            ) from error

    patterns = project_patterns(config_loader)
    if pipeline_names is None:
        pipeline_names = registered_pipeline_names(path)
    projects = []
    names = list(dict.fromkeys(pipeline_names))
    skipped: list[NothingSelected] = []
    for pipeline_name in names:
        pipeline = selected = None
        if load_pipelines:
            try:
                with cycle_collection_paused():
                    pipeline = load_pipeline(path, pipeline_name)
                    selected = (filters or PipelineFilter()).apply(pipeline, pipeline_name)
            except NothingSelected as nothing:
                # Of several pipelines, those the filter empties are left out.
                skipped.append(nothing)
                continue
        projects.append(
            KedroProject(
                path=path,
                package_name=metadata.package_name,
                project_name=metadata.project_name,
                env=env,
                pipeline_name=pipeline_name,
                pipeline=selected,
                catalog=catalog,
                catalog_config=catalog_config,
                raw_config=raw_config,
                conf_source=conf_source,
                config_source=sources.describe(),
                overrides=dict(overrides or {}),
                config_sources=sources,
                config_patterns=patterns,
                registered_pipeline=pipeline,
                params=params,
                config_loader=config_loader,
            )
        )
    if not projects:
        raise skipped[0]
    for nothing in skipped:
        logging.getLogger(__name__).warning("%s: left out", nothing)
    return projects


def bootstrap_kedro(path: Path) -> tuple[Any, Any]:
    """Kedro's bootstrap of the project at ``path``: its metadata and settings."""
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project

    from kedro_airflow_k8s.startup import bootstrapped_metadata

    metadata = bootstrapped_metadata(path) or bootstrap_project(path)
    import_settings(metadata.package_name)
    return metadata, settings


def import_settings(package_name: str) -> None:
    """Import the project's settings.py, so that an ImportError in it is an error: Kedro's
    settings loader (dynaconf) skips a settings module that fails that way."""
    import importlib
    import importlib.util

    name = f"{package_name}.settings"
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)
