"""Trigger-time Kedro params: Airflow Params on the DAG, carried to every task as exact JSON."""

from __future__ import annotations

import json
from typing import Any

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.source import literal, neutralise_template

ENV_NAME = "KEDRO_AIRFLOW_K8S_TRIGGER_PARAMS"
LAUNCHER_NAME = "KEDRO_WITH_TRIGGER_PARAMS"
PARAMS_NAME = "TRIGGER_PARAMS"

# Runs `kedro <arguments>` with the run's values as Kedro runtime params. They travel as
# JSON and reach Kedro as a Python mapping (the `--params` default of `kedro run`), so
# spaces, commas, quotes, `=` and nested structures arrive exactly as typed. Text that
# Kedro's config loader would interpolate is refused instead of being altered.
LAUNCHER = '''"""Run kedro with this Airflow run's trigger-time params (kedro-airflow-k8s)."""
import json
import os
import sys
from pathlib import Path

from kedro.framework.cli.cli import KedroCLI
from kedro.utils import find_kedro_project
from omegaconf import OmegaConf


def refuse(where, value):
    sys.exit(
        f"kedro-airflow-k8s: the value {value!r} of trigger param {where} contains '$' "
        "followed by '{', which Kedro would read as an interpolation and change; trigger "
        "the run again without it"
    )


def check(where, value):
    if isinstance(value, str) and "${" in value:
        refuse(where, value)
    if isinstance(value, dict):
        for key, item in value.items():
            check(f"{where}.{key}", key)
            check(f"{where}.{key}", item)
    if isinstance(value, list):
        for index, item in enumerate(value):
            check(f"{where}[{index}]", item)


params = {}
for name, value in json.loads(os.environ["KEDRO_AIRFLOW_K8S_TRIGGER_PARAMS"]).items():
    check(name, value)
    *parents, last = name.split(".")
    target = params
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value

args = sys.argv[1:]
if "--params" in args:  # macro_params and variables_params, read as `kedro run` reads them
    at = args.index("--params")
    items = [item.strip() for item in args[at + 1].split(",") if item.strip()]
    del args[at : at + 2]
    dotlist = [f"{key.strip()}={value}" for key, _, value in (i.partition("=") for i in items)]
    macros = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist))
    params = OmegaConf.to_container(OmegaConf.merge(macros, params))

cli = KedroCLI(project_path=find_kedro_project(Path.cwd()) or Path.cwd())
cli(args=args, prog_name="kedro", default_map={"run": {"params": params}})'''
assert neutralise_template(LAUNCHER) == LAUNCHER, "Airflow renders the launcher as a template"

JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def parameter_value(parameters: dict[str, Any], name: str, source: str) -> Any:
    """The value of the dotted parameter ``name``, or an error naming it and what to do."""
    value: Any = parameters
    for depth, part in enumerate(name.split(".")):
        if not isinstance(value, dict) or part not in value:
            parent = ".".join(name.split(".")[:depth])
            where = f"'{parent}' has" if parent else "the parameters have"
            known = ", ".join(sorted(map(str, value))) if isinstance(value, dict) else ""
            raise UserError(
                f"run_config.trigger_params in {source} names '{name}', but {where} no "
                f"'{part}' (known: {known or 'none'}); add it to conf/<env>/parameters.yml "
                "or remove it from trigger_params"
            )
        value = value[part]
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise UserError(
            f"Kedro parameter '{name}' ({type(value).__name__}) has no JSON form, so the "
            f"trigger form cannot show it; remove it from run_config.trigger_params in {source}"
        ) from None
    return value


def json_type(value: Any) -> str | None:
    """The JSON schema type of a parameter's default; None for null (any type accepted)."""
    for kind, name in JSON_TYPES:
        if isinstance(value, kind):
            return name
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def params_source(defaults: dict[str, Any]) -> str:
    """The DAG's ``params`` mapping: one ``Param`` per trigger param, default from Kedro."""
    lines = []
    for name, value in defaults.items():
        if isinstance(value, tuple):
            value = list(value)
        args = [literal(value, 8)]
        kind = json_type(value)
        if kind:
            args.append(f"type={literal(kind)}")
        args.append(f"description={literal(f'Kedro parameter {name}')}")
        lines.append(f"    {literal(name)}: Param({', '.join(args)}),")
    return "{\n" + "\n".join(lines) + "\n}"


def env_template(names: list[str]) -> str:
    """The Airflow template rendering this run's values of ``names`` as one JSON object."""
    items = ", ".join(f"{json.dumps(name)}: params[{json.dumps(name)}]" for name in names)
    return "{{ {" + items + "} | tojson }}"
