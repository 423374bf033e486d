"""DAG and task callbacks: import paths of callables or notifiers, and the stock notifiers."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.signatures import load, unknown_arguments
from kedro_airflow_k8s.source import literal

# Shorthand -> (notifier class, the provider package that ships it).
NOTIFIERS = {
    "smtp": (
        "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
        "apache-airflow-providers-smtp",
    ),
    "slack_webhook": (
        "airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier",
        "apache-airflow-providers-slack",
    ),
}


@dataclass
class CallbackSources:
    """What the callbacks add to the DAG: imports, DAG arguments and default_args entries."""

    imports: set[str] = field(default_factory=set)
    dag_arguments: list[tuple[str, str]] = field(default_factory=list)
    default_args: list[tuple[str, str]] = field(default_factory=list)


def render_callbacks(callbacks: Any, source: str) -> CallbackSources:
    """The DAG source of ``run_config.callbacks`` (a ``Callbacks`` model)."""
    result = CallbackSources()
    for level, target in (("dag", result.dag_arguments), ("tasks", result.default_args)):
        events = getattr(callbacks, level)
        for event in type(events).model_fields:
            entries = getattr(events, event)
            if not entries:
                continue
            items = []
            for index, entry in enumerate(entries):
                where = f"run_config.callbacks.{level}.{event}[{index}]"
                item, imports = callback_source(entry, where, source)
                items.append(item)
                result.imports |= imports
            value = "[\n" + "".join(f"{' ' * 8}{item},\n" for item in items) + " " * 4 + "]"
            target.append((f"{event}_callback", value))
    return result


def callback_source(entry: Any, where: str, source: str) -> tuple[str, set[str]]:
    """Source of one callback and the imports it needs; arguments checked against the class."""
    for shorthand, (path, package) in NOTIFIERS.items():
        arguments = getattr(entry, shorthand)
        if arguments is None:
            continue
        notifier = load(path)
        if notifier is None:
            raise UserError(
                f"{where}.{shorthand} in {source} needs {package}: install it where you "
                "compile and in Airflow"
            )
        check_arguments(notifier, arguments, f"{where}.{shorthand}", source)
        return instance(path, arguments), {import_line(path)}
    path, arguments = entry.callable, entry.kwargs
    target = load(path)
    if target is None or not callable(target):
        raise UserError(
            f"{where}.callable in {source}: cannot import '{path}' as a callable here; check "
            "the path (package.module.name) and that its package is installed"
        )
    if inspect.isclass(target):
        check_arguments(target, arguments, f"{where}.kwargs", source)
        return instance(path, arguments), {import_line(path)}
    name = path.rpartition(".")[2]
    if not arguments:
        return name, {import_line(path)}
    return instance(path, arguments, "functools.partial(" + name), {
        import_line(path),
        "import functools",
    }


def check_arguments(cls: type, arguments: dict[str, Any], where: str, source: str) -> None:
    unknown = unknown_arguments(cls, list(arguments))
    if unknown:
        raise UserError(
            f"{where} in {source}: {cls.__name__} takes no argument "
            f"{', '.join(repr(name) for name in unknown)}; see its documentation for the names"
        )


def instance(path: str, arguments: dict[str, Any], opening: str | None = None) -> str:
    name = path.rpartition(".")[2]
    call = opening + ", " if opening else name + "("
    body = ", ".join(f"{key}={literal(value, 8)}" for key, value in arguments.items())
    return f"{call}{body})"


def import_line(path: str) -> str:
    module, _, name = path.rpartition(".")
    return f"from {module} import {name}"
