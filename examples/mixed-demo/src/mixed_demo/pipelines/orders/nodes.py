"""pandas nodes that turn the raw order export into priced order lines."""

import pandas as pd


def clean_orders(orders: pd.DataFrame, min_quantity: int) -> pd.DataFrame:
    """Drop duplicated export rows and lines below the minimum quantity."""
    orders = orders.drop_duplicates(subset="order_id")
    orders = orders[orders["quantity"] >= min_quantity]
    return orders.assign(order_date=pd.to_datetime(orders["order_date"]).dt.date)


def price_order_lines(orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Attach product category and price, and compute each line's revenue."""
    lines = orders.merge(products, on="product_id", how="inner", validate="many_to_one")
    lines["revenue"] = (lines["quantity"] * lines["unit_price"]).round(2)
    columns = ["order_id", "order_date", "shop_id", "product_id", "category", "quantity"]
    return lines[[*columns, "revenue"]].sort_values("order_id", ignore_index=True)
