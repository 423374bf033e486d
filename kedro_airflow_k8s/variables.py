"""Task environments whose values may come from Airflow Variables at run time."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kedro_airflow_k8s.source import literal, neutralise_template, template_literal

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_variable_names(names: list[str]) -> list[str]:
    """``names`` when each is both an environment variable name and an Airflow Variable key."""
    for name in names:
        if not VARIABLE_NAME.fullmatch(name):
            raise ValueError(
                f"'{name}' cannot name both an environment variable and an Airflow Variable; "
                "use letters, digits and underscores"
            )
    return names


def variable_template(name: str) -> str:
    """The Airflow template that reads the Variable ``name`` when the task runs."""
    return "{{ var.value." + name + " }}"


def environment_source(
    env_vars: Mapping[str, str] | list[str],
    extra: Mapping[str, str] | None = None,
    indent: int = 0,
    templates: Mapping[str, str] | None = None,
) -> str:
    """A dict literal of a task environment: ``env_vars`` as configured (a mapping of values,
    rendered exactly as written, or a list of Airflow Variable names), then ``extra``, then
    ``templates``: Airflow templates of this plugin's own, rendered when the task runs."""
    if isinstance(env_vars, list):
        entries = [(name, literal(variable_template(name))) for name in env_vars]
    else:
        entries = [(name, template_literal(value, indent + 4)) for name, value in env_vars.items()]
    for name, value in (extra or {}).items():
        entries = [entry for entry in entries if entry[0] != name]
        entries.append((name, template_literal(value, indent + 4)))
    for name, template in (templates or {}).items():
        entries = [entry for entry in entries if entry[0] != name]
        entries.append((name, literal(template)))
    if not entries:
        return "{}"
    pad = " " * (indent + 4)
    # The operators render environment names as templates too.
    lines = [f"{pad}{literal(neutralise_template(name))}: {value}," for name, value in entries]
    return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
