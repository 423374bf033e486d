"""Load a Kedro project for compiling: metadata, pipeline, catalog types and plugin config.

Nothing here runs project hooks or instantiates datasets, so compiling never
starts a SparkSession, never needs Java and never reads credentials.
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.config import CONFIG_FILE, PluginConfig, parse_config
from kedro_airflow_k8s.config_files import ConfigSources, matching_files, read_mapping
from kedro_airflow_k8s.cycle_collection import cycle_collection_paused
from kedro_airflow_k8s.errors import UserError, one_paragraph
from kedro_airflow_k8s.selection import NothingSelected, PipelineFilter
from kedro_airflow_k8s.spark_config import with_env_section

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
        return _read(self.config_loader, "parameters", required=False, env=self.env)

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
        loader_class = settings.CONFIG_LOADER_CLASS
        loader_args = with_env_resolver(loader_class, settings.CONFIG_LOADER_ARGS)
        with warnings.catch_warnings():
            # OmegaConf deprecates the resolver-registration call Kedro makes for us.
            warnings.filterwarnings(
                "ignore", message=".*register_new_resolver", category=UserWarning
            )
            config_loader = loader_class(conf_source=str(conf_source), env=env, **loader_args)
        config_loader.config_patterns.update({"airflow-k8s": CONFIG_PATTERNS})
        catalog_class = settings.DATA_CATALOG_CLASS if load_pipelines else None
    except Exception as error:  # noqa: BLE001 - settings.py and the loader are project code
        raise UserError(
            f"the settings of the Kedro project at {path} do not load (settings.py, "
            f"env '{env}'): {one_paragraph(error, path)}"
        ) from error

    sources = ConfigSources(matching_files(conf_source, env, CONFIG_PATTERNS), conf_source.parent)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*register_new_resolver", category=UserWarning)
        raw_config = _read(config_loader, "airflow-k8s", required=require_config, env=env)
    if env != "base":
        files = matching_files(conf_source, env, CONFIG_PATTERNS)
        raw_config = with_env_section(
            raw_config,
            _own_spark_section(files, conf_source / "base"),
            _own_spark_section(files, conf_source / env),
        )
    catalog_config: dict[str, Any] = {}
    catalog = None
    if load_pipelines:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*register_new_resolver", category=UserWarning
            )
            catalog_config = _read(config_loader, "catalog", required=False, env=env)
        catalog_config = {k: v for k, v in catalog_config.items() if not str(k).startswith("_")}
        check_catalog_types(catalog_config, env)
        catalog_config = _strip_credentials(catalog_config)
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


def check_conf_source(conf_source: Path, env: str) -> Path:
    """A ``--conf-source`` directory must hold the env's directory, as Kedro requires."""
    if conf_source.is_dir() and not (conf_source / env).is_dir():
        raise UserError(
            f"--conf-source {conf_source} has no '{env}' directory: Kedro reads conf/base "
            f"and conf/<env> from it; create {conf_source / env} or pass another --env"
        )
    return conf_source


def registered_pipeline_names(path: Path) -> list[str]:
    """Names of the registered pipelines that have nodes, ``__default__`` first."""
    from kedro.framework.project import pipelines

    try:
        registered = dict(pipelines)
    except Exception as error:  # noqa: BLE001 - the registry runs the project's code
        raise UserError(
            f"the pipeline registry of the project at {path} fails: {one_paragraph(error, path)}"
        ) from error
    names = sorted(
        (str(name) for name, pipeline in registered.items() if getattr(pipeline, "nodes", None)),
        key=lambda name: (name != "__default__", name),
    )
    if not names:
        raise UserError(f"the project at {path} registers no pipeline with nodes")
    return names


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


def project_patterns(config_loader: Any) -> dict[str, list[str]]:
    """The config loader's file patterns (Kedro's and settings.py's), ours left out."""
    patterns = getattr(config_loader, "config_patterns", None) or {}
    return {
        str(key): [str(p) for p in value]
        for key, value in patterns.items()
        if key != "airflow-k8s" and isinstance(value, (list, tuple))
    }


def load_pipeline(path: Path, pipeline_name: str) -> Any:
    """The registered pipeline ``pipeline_name``; a registry or node module that fails, a
    pipeline Kedro refuses (cycle, duplicate outputs) or an empty one is a UserError."""
    from kedro.framework.project import pipelines
    from kedro.pipeline import Pipeline

    try:
        registered = dict(pipelines)
    except Exception as error:  # noqa: BLE001 - the registry runs the project's code
        raise UserError(
            f"the pipeline registry of the project at {path} fails: {one_paragraph(error, path)}"
        ) from error
    if pipeline_name not in registered:
        known = ", ".join(sorted(map(str, registered))) or "none"
        raise UserError(
            f"pipeline '{pipeline_name}' is not registered in the project; known pipelines: {known}"
        )
    pipeline = registered[pipeline_name]
    if not isinstance(pipeline, Pipeline):
        raise UserError(
            f"register_pipelines() maps '{pipeline_name}' to a {type(pipeline).__name__}, "
            "not a kedro Pipeline"
        )
    if not pipeline.nodes:
        raise UserError(
            f"pipeline '{pipeline_name}' has no nodes: there is nothing to compile; "
            "check register_pipelines() or choose another pipeline with --pipelines"
        )
    return pipeline


def check_catalog_types(catalog_config: dict[str, Any], env: str) -> None:
    """Refuse catalog entries that are not mappings or name a dataset class that does not
    exist. A class whose own dependencies are missing here still passes: it exists, and
    the image that runs it may have them."""
    from kedro_airflow_k8s.dataset_classes import dataset_class_exists

    checked: dict[str, bool] = {}
    for name, entry in catalog_config.items():
        where = f"catalog entry '{name}' (env '{env}')"
        if not isinstance(entry, dict):
            # The value itself is not shown: it may be a credential written in the wrong place.
            raise UserError(
                f"{where} must be a mapping with a `type`, not a {type(entry).__name__}"
            )
        dataset_type = entry.get("type")
        if not isinstance(dataset_type, str) or not dataset_type.strip():
            raise UserError(
                f"{where} has no `type`: set it to a dataset class such as pandas.CSVDataset"
            )
        if dataset_type not in checked:
            checked[dataset_type] = dataset_class_exists(dataset_type)
        if not checked[dataset_type]:
            raise UserError(
                f"{where} has the type '{dataset_type}', which is not a dataset class "
                "Kedro can find (tried it as given, under kedro_datasets. and under kedro.io.); "
                "check the spelling or install the package that provides it"
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


def _own_spark_section(files: list[Path], conf_dir: Path) -> dict[str, Any] | None:
    """run_config.spark as the files of one conf folder write it (interpolations unresolved).

    Only its keys and ``type`` are used: whether the env changes the Spark backend, and which
    keys it sets itself.
    """
    section: dict[str, Any] | None = None
    for path in files:
        if conf_dir not in path.parents:
            continue
        content = read_mapping(path, str(path)) or {}
        run_config = content.get("run_config")
        spark = run_config.get("spark") if isinstance(run_config, dict) else None
        if isinstance(spark, dict):
            section = {**(section or {}), **spark}
    return section


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
        _refuse_non_mappings(config_loader, key, env)
        raise UserError(
            f"cannot read the {key} configuration of env '{env}': {one_paragraph(error)}"
        ) from error
    if value is not None and not hasattr(value, "items"):
        _refuse_non_mappings(config_loader, key, env)
        raise UserError(f"the {key} configuration of env '{env}' must be a mapping of keys")
    return dict(value or {})


def _refuse_non_mappings(config_loader: Any, key: str, env: str) -> None:
    """Name the file whose top level is a list or scalar, the usual cause of a merge error."""
    conf_source = Path(getattr(config_loader, "conf_source", "") or ".")
    patterns = getattr(config_loader, "config_patterns", {}).get(key) or []
    ConfigSources(matching_files(conf_source, env, patterns), conf_source.parent)
