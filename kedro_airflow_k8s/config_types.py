"""Building blocks of the config models: the strict base model, YAML-friendly types, secrets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

DEFAULT_PROFILE = "__default__"
SPARK_TAG = "kedro-airflow-k8s.group.pyspark"


def _to_str(value: Any) -> Any:
    # YAML reads `cpu: 1` as an int and `memory: 1.5` as a float; Kubernetes wants strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Quantity = Annotated[str, BeforeValidator(_to_str)]
Text = Annotated[str, BeforeValidator(_to_str)]
NameList = Annotated[list[str], BeforeValidator(_split_commas)]


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


class SecretRef(StrictModel):
    """A Kubernetes secret exposed to the pod as env variables or a mounted volume."""

    secret: str = Field(description="Name of the Kubernetes Secret object.")
    deploy_type: Literal["env", "volume"] = "env"
    """env: variables in the container; volume: files mounted at deploy_target."""
    deploy_target: str | None = Field(
        default=None,
        description="Env variable name (env) or mount path (volume). "
        "With deploy_type env and no key, every key of the secret becomes a variable.",
    )
    key: str | None = Field(default=None, description="One key of the secret; all keys if unset.")

    @model_validator(mode="after")
    def _volume_needs_path(self) -> SecretRef:
        if self.deploy_type == "volume" and not self.deploy_target:
            raise ValueError("a volume secret needs deploy_target: the path to mount it at")
        if self.deploy_type == "env" and self.key and not self.deploy_target:
            raise ValueError("an env secret with a key needs deploy_target: the variable name")
        return self
