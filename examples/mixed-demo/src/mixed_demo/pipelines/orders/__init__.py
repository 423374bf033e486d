"""Order preparation in pandas: clean the raw export and price each line."""

from mixed_demo.pipelines.orders.pipeline import create_pipeline

__all__ = ["create_pipeline"]
