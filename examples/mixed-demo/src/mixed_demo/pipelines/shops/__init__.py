"""Shop performance: Spark aggregation and ranking, with one pandas step in between."""

from mixed_demo.pipelines.shops.pipeline import create_pipeline

__all__ = ["create_pipeline"]
