"""Kedro's config loader as compile uses it: airflow-k8s.yml, the catalog and parameters."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.config import CONFIG_FILE
from kedro_airflow_k8s.config_files import ConfigSources, matching_files, read_mapping
from kedro_airflow_k8s.errors import UserError, one_paragraph

CONFIG_PATTERNS = ["airflow-k8s*", "airflow-k8s/**"]


@contextmanager
def quiet_resolver_notice() -> Iterator[None]:
    """Hide OmegaConf's deprecation of the resolver-registration call Kedro makes for us."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*register_new_resolver", category=UserWarning)
        yield


def make_config_loader(settings: Any, conf_source: Path, env: str) -> Any:
    """The project's config loader (settings.py's class and arguments) for ``env``, reading
    airflow-k8s.yml too."""
    loader_class = settings.CONFIG_LOADER_CLASS
    loader_args = with_env_resolver(loader_class, settings.CONFIG_LOADER_ARGS)
    with quiet_resolver_notice():
        config_loader = loader_class(conf_source=str(conf_source), env=env, **loader_args)
    config_loader.config_patterns.update({"airflow-k8s": CONFIG_PATTERNS})
    return config_loader


def check_conf_source(conf_source: Path, env: str) -> Path:
    """A ``--conf-source`` directory must hold the env's directory, as Kedro requires."""
    if conf_source.is_dir() and not (conf_source / env).is_dir():
        raise UserError(
            f"--conf-source {conf_source} has no '{env}' directory: Kedro reads conf/base "
            f"and conf/<env> from it; create {conf_source / env} or pass another --env"
        )
    return conf_source


def project_patterns(config_loader: Any) -> dict[str, list[str]]:
    """The config loader's file patterns (Kedro's and settings.py's), ours left out."""
    patterns = getattr(config_loader, "config_patterns", None) or {}
    return {
        str(key): [str(p) for p in value]
        for key, value in patterns.items()
        if key != "airflow-k8s" and isinstance(value, (list, tuple))
    }


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


def own_spark_section(files: list[Path], conf_dir: Path) -> dict[str, Any] | None:
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


def read_config(config_loader: Any, key: str, required: bool, env: str) -> dict[str, Any]:
    """The ``key`` configuration (airflow-k8s, catalog, parameters) of ``env`` as a mapping;
    a missing required one, or one that does not read, is a UserError."""
    from kedro.config import MissingConfigException

    try:
        with quiet_resolver_notice():
            value = config_loader[key]
    except MissingConfigException:
        if required:
            raise UserError(
                f"no {CONFIG_FILE} found in conf/base or conf/{env}: run "
                "'kedro airflow-k8s init <AIRFLOW_URL>' to create conf/base/airflow-k8s.yml"
            ) from None
        return {}
    except Exception as error:  # noqa: BLE001 - YAML and interpolation errors
        refuse_non_mappings(config_loader, key, env)
        raise UserError(
            f"cannot read the {key} configuration of env '{env}': {one_paragraph(error)}"
        ) from error
    if value is not None and not hasattr(value, "items"):
        refuse_non_mappings(config_loader, key, env)
        raise UserError(f"the {key} configuration of env '{env}' must be a mapping of keys")
    return dict(value or {})


def refuse_non_mappings(config_loader: Any, key: str, env: str) -> None:
    """Name the file whose top level is a list or scalar, the usual cause of a merge error."""
    conf_source = Path(getattr(config_loader, "conf_source", "") or ".")
    patterns = getattr(config_loader, "config_patterns", {}).get(key) or []
    ConfigSources(matching_files(conf_source, env, patterns), conf_source.parent)
