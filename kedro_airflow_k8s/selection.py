"""Which pipelines and nodes a command compiles, chosen with the options of `kedro run`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from kedro_airflow_k8s.errors import UserError

DEFAULT_PIPELINE = "__default__"


@dataclass(frozen=True)
class PipelineFilter:
    """``kedro run``'s node filters; a pipeline keeps the nodes that pass all of them."""

    tags: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    from_nodes: tuple[str, ...] = ()
    to_nodes: tuple[str, ...] = ()
    node_names: tuple[str, ...] = ()
    from_inputs: tuple[str, ...] = ()
    to_outputs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        """The filter as the options that set it, e.g. ``--tags a,b --to-nodes c``."""
        options = {"node_names": "--nodes"}
        return " ".join(
            f"{options.get(f.name, '--' + f.name.replace('_', '-'))} {','.join(values)}"
            for f in fields(self)
            if (values := getattr(self, f.name))
        )

    def apply(self, pipeline: Any, pipeline_name: str) -> Any:
        """``pipeline`` filtered as ``kedro run`` filters it; a filter that matches
        nothing, or names an unknown node, is a UserError naming the pipeline."""
        if not self:
            return pipeline
        try:
            filtered = pipeline.filter(
                tags=self.tags or None,
                from_nodes=list(self.from_nodes) or None,
                to_nodes=list(self.to_nodes) or None,
                node_names=list(self.node_names) or None,
                from_inputs=list(self.from_inputs) or None,
                to_outputs=list(self.to_outputs) or None,
                node_namespaces=list(self.namespaces) or None,
            )
        except ValueError as error:
            if "no nodes after applying" in str(error):
                raise NothingSelected(self.describe(), pipeline_name) from None
            raise UserError(
                f"{self.describe()} does not apply to pipeline '{pipeline_name}': {error}"
            ) from None
        if not filtered.nodes:
            raise NothingSelected(self.describe(), pipeline_name)
        return filtered


class NothingSelected(UserError):
    """A node filter that leaves a pipeline empty."""

    def __init__(self, described: str, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        super().__init__(
            f"{described} leaves no node of pipeline '{pipeline_name}' to compile; check "
            f"the names against `kedro registry describe {pipeline_name}`"
        )


@dataclass(frozen=True)
class Selection:
    """The project view a command works on: env, pipelines, config source, params, filter.

    ``pipelines`` None means every registered pipeline (``--all``).
    """

    env: str
    pipelines: tuple[str, ...] | None = (DEFAULT_PIPELINE,)
    conf_source: str | None = None
    params: str | None = None
    filter: PipelineFilter = PipelineFilter()

    @property
    def several(self) -> bool:
        return self.pipelines is None or len(self.pipelines) > 1


def check_params(text: str | None) -> str | None:
    """``--params k=v,k2.sub=v2`` as ``kedro run`` reads it; a malformed item is an error."""
    if not text or not text.strip():
        return None
    for item in text.split(","):
        key, equals, _ = item.partition("=")
        if not equals or not key.strip():
            raise UserError(
                f"--params item '{item.strip()}' must look like key=value "
                "(items separated by commas, as for `kedro run --params`)"
            )
    return text.strip()
