"""Reporting in pandas, from what the Spark part wrote."""

from mixed_demo.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
