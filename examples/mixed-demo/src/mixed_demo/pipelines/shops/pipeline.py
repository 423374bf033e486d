"""Shop performance: how the Spark nodes and the pandas step between them connect."""

from kedro.pipeline import Pipeline, node

from mixed_demo.pipelines.shops.nodes import (
    aggregate_shop_sales,
    collect_shop_ranking,
    join_shop_targets,
    rank_shops,
    set_shop_targets,
)


def create_pipeline() -> Pipeline:
    return Pipeline(
        [
            node(
                aggregate_shop_sales,
                inputs="order_lines@spark",
                outputs="shop_sales@spark",
                name="aggregate_shop_sales",
            ),
            node(
                set_shop_targets,
                inputs=["shop_sales@pandas", "shops", "params:target_uplift"],
                outputs="shop_targets@pandas",
                name="set_shop_targets",
            ),
            node(
                join_shop_targets,
                inputs=["shop_sales@spark", "shop_targets@spark"],
                outputs="shop_performance",  # MemoryDataset holding a Spark DataFrame
                name="join_shop_targets",
            ),
            node(
                rank_shops,
                inputs=["shop_performance", "params:top_shops_per_region"],
                outputs="top_shops",  # MemoryDataset holding a Spark DataFrame
                name="rank_shops",
                tags=["kedro-airflow-k8s.group.pyspark"],
            ),
            node(
                collect_shop_ranking,
                inputs="top_shops",
                outputs="shop_ranking",
                name="collect_shop_ranking",
            ),
        ]
    )
