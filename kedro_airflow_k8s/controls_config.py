"""Config models of the Airflow controls: callbacks and notifications."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from kedro_airflow_k8s.config_types import StrictModel


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Callback(StrictModel):
    """One callback: a callable or notifier by import path, or a stock notifier."""

    callable: str | None = Field(
        default=None,
        description="package.module.name of a function called with the context, or of a "
        "BaseNotifier subclass, created with kwargs.",
    )
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the callable (bound with functools.partial) or notifier."""
    smtp: dict[str, Any] | None = Field(
        default=None,
        description="SmtpNotifier arguments (apache-airflow-providers-smtp): to, subject, "
        "html_content, smtp_conn_id, ... Text values are Airflow templates.",
    )
    slack_webhook: dict[str, Any] | None = Field(
        default=None,
        description="SlackWebhookNotifier arguments (apache-airflow-providers-slack): "
        "slack_webhook_conn_id, text, blocks, ... Text values are Airflow templates.",
    )

    @field_validator("callable")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", value):
            raise ValueError(f"'{value}' is not an import path like my_package.alerts.notify")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Callback:
        chosen = [k for k in ("callable", "smtp", "slack_webhook") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of 'callable', 'smtp' and 'slack_webhook'")
        if self.kwargs and self.callable is None:
            raise ValueError("'kwargs' goes with 'callable'; give a notifier its arguments inline")
        return self


Callbacks_ = Annotated[list[Callback], BeforeValidator(_one_or_many)]


class DagCallbacks(StrictModel):
    """Callbacks of the DAG run (Airflow has no retry or execute callbacks for a DAG)."""

    on_failure: Callbacks_ = Field(default_factory=list)
    """When a run of the DAG fails."""
    on_success: Callbacks_ = Field(default_factory=list)
    """When a run of the DAG succeeds."""


class TaskCallbacks(StrictModel):
    """Callbacks of every task (set through the DAG's default_args)."""

    on_failure: Callbacks_ = Field(default_factory=list)
    """When a task fails (after its last retry)."""
    on_success: Callbacks_ = Field(default_factory=list)
    """When a task succeeds."""
    on_retry: Callbacks_ = Field(default_factory=list)
    """When a task fails and will be retried."""
    on_execute: Callbacks_ = Field(default_factory=list)
    """Right before a task runs."""


class CallbacksConfig(StrictModel):
    """Notifications and callbacks of the DAG and of its tasks."""

    dag: DagCallbacks = Field(default_factory=DagCallbacks)
    """DAG-level callbacks."""
    tasks: TaskCallbacks = Field(default_factory=TaskCallbacks)
    """Task-level callbacks, for every task."""
