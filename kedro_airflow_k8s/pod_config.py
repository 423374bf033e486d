"""Pod settings of run_config: resource profiles with tolerations, and pod templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kedro_airflow_k8s.config_types import Quantity, StrictModel, Text


class Toleration(StrictModel):
    """A Kubernetes toleration for the pod."""

    key: str | None = None
    """Taint key the toleration matches; all keys when unset with operator Exists."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """Equal matches key and value; Exists matches any value of the key."""
    value: Text | None = None
    """Taint value to match (operator Equal)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; all effects when unset."""
    toleration_seconds: int | None = None
    """How long a NoExecute taint is tolerated before eviction."""


class ResourceProfile(StrictModel):
    """Pod settings for the nodes tagged ``kedro-airflow-k8s.resources.<profile>``."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict, description="Container requests, e.g. {cpu: '1', memory: 2Gi}."
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict, description="Container limits, e.g. {memory: 4Gi, nvidia.com/gpu: 1}."
    )
    node_selectors: dict[str, Text] = Field(default_factory=dict)
    """Node labels the pod must be scheduled on, e.g. {pool: highmem}."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Taints the pod tolerates."""
    labels: dict[str, Text] = Field(default_factory=dict)
    """Labels added to the pod."""
    annotations: dict[str, Text] = Field(default_factory=dict)
    """Annotations added to the pod."""


class PodTemplate(StrictModel):
    """A pod template for nodes tagged ``kedro-airflow-k8s.pod-template.<name>``."""

    file: str | None = Field(
        default=None, description="Path of a pod template YAML file on the Airflow worker."
    )
    spec: dict[str, Any] | None = Field(
        default=None, description="The pod template itself, as a mapping (apiVersion, kind, spec)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PodTemplate:
        if (self.file is None) == (self.spec is None):
            raise ValueError("set exactly one of 'file' and 'spec'")
        return self
