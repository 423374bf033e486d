"""`kedro airflow-k8s init`: write a commented starting configuration that validates."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kedro_airflow_k8s.config import CONFIG_FILE, parse_config
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.render import jinja_environment, write_atomic


def initial_config(package_name: str, airflow_url: str, output: str) -> str:
    env = jinja_environment()
    # JSON strings are valid YAML scalars: any URL or path is quoted safely.
    env.filters["yaml_str"] = lambda value: json.dumps(value, ensure_ascii=False)
    text = env.get_template("airflow-k8s.yml.j2").render(
        package_name=package_name, airflow_url=airflow_url, output=output
    )
    parse_config(yaml.safe_load(text), source=f"conf/base/{CONFIG_FILE}")
    return text


def write_initial_config(project_path: Path, airflow_url: str, output: str, force: bool) -> Path:
    from kedro.framework.startup import bootstrap_project

    if not (project_path / "pyproject.toml").is_file():
        raise UserError(f"{project_path} is not a Kedro project: there is no pyproject.toml")
    try:
        metadata = bootstrap_project(project_path)
    except Exception as error:  # noqa: BLE001
        raise UserError(f"cannot load the Kedro project at {project_path}: {error}") from None
    target = project_path / "conf" / "base" / CONFIG_FILE
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    write_atomic(target, initial_config(metadata.package_name, airflow_url, output))
    return target
