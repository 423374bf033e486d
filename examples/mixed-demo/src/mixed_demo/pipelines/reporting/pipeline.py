"""Reporting: a pandas node reading the Spark outputs through persisted datasets."""

from kedro.pipeline import Pipeline, node

from mixed_demo.pipelines.reporting.nodes import build_region_report


def create_pipeline() -> Pipeline:
    return Pipeline(
        [
            node(
                build_region_report,
                inputs=["shop_sales@pandas", "shops", "shop_ranking"],
                outputs="region_report",
                name="build_region_report",
            ),
        ]
    )
