"""pandas node that summarises shop sales and the ranking per region."""

import pandas as pd


def build_region_report(
    shop_sales: pd.DataFrame, shops: pd.DataFrame, shop_ranking: pd.DataFrame
) -> pd.DataFrame:
    """One row per region: shops, orders, units, revenue and the best shop."""
    sales = shops.merge(shop_sales, on="shop_id", how="left").fillna(
        {"orders": 0, "units": 0, "revenue": 0.0}
    )
    report = sales.groupby("region", as_index=False).agg(
        shops=("shop_id", "nunique"),
        orders=("orders", "sum"),
        units=("units", "sum"),
        revenue=("revenue", "sum"),
    )
    report["revenue"] = report["revenue"].round(2)
    best = shop_ranking.loc[shop_ranking["rank"] == 1, ["region", "shop_name"]]
    report = report.merge(best.rename(columns={"shop_name": "best_shop"}), on="region", how="left")
    return report.astype({"orders": "int64", "units": "int64"})
