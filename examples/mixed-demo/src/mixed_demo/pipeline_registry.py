"""The project's pipelines: each part on its own, and all of them as __default__."""

from kedro.pipeline import Pipeline

from mixed_demo.pipelines import orders, reporting, shops


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {
        "orders": orders.create_pipeline(),
        "shops": shops.create_pipeline(),
        "reporting": reporting.create_pipeline(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
