"""Shop performance nodes: pyspark, except for the pandas target-setting step."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def aggregate_shop_sales(order_lines: DataFrame) -> DataFrame:
    """Sum orders, units and revenue per shop."""
    return order_lines.groupBy("shop_id").agg(
        F.countDistinct("order_id").alias("orders"),
        F.sum("quantity").alias("units"),
        F.round(F.sum("revenue"), 2).alias("revenue"),
    )


def set_shop_targets(shop_sales: pd.DataFrame, shops: pd.DataFrame, uplift: float) -> pd.DataFrame:
    """Set each shop's revenue target for next period: this period's revenue plus an uplift."""
    targets = shops.merge(shop_sales, on="shop_id", how="inner", validate="one_to_one")
    targets["target_revenue"] = (targets["revenue"] * (1 + uplift)).round(2)
    return targets[["shop_id", "shop_name", "region", "target_revenue"]]


def join_shop_targets(shop_sales: DataFrame, shop_targets: DataFrame) -> DataFrame:
    """Put each shop's sales next to its name, region and target."""
    return shop_sales.join(shop_targets, on="shop_id", how="inner")


def rank_shops(shop_performance, top_n):
    """Keep the top shops by revenue in each region.

    Deliberately without type hints: only its node tag says it needs Spark.
    """
    by_revenue = Window.partitionBy("region").orderBy(F.desc("revenue"), F.asc("shop_id"))
    ranked = shop_performance.withColumn("rank", F.row_number().over(by_revenue))
    return ranked.where(F.col("rank") <= top_n)


def collect_shop_ranking(top_shops: DataFrame) -> pd.DataFrame:
    """Bring the small ranking to the driver as pandas, for a plain CSV report."""
    columns = ["region", "rank", "shop_id", "shop_name", "revenue", "target_revenue"]
    ranking = top_shops.select(*columns).toPandas()
    return ranking.sort_values(["region", "rank"], ignore_index=True)
