"""Order preparation: raw CSV in, priced order lines out for Spark to read."""

from kedro.pipeline import Pipeline, node

from mixed_demo.pipelines.orders.nodes import clean_orders, price_order_lines


def create_pipeline() -> Pipeline:
    return Pipeline(
        [
            node(
                clean_orders,
                inputs=["orders", "params:min_quantity"],
                outputs="valid_orders",  # not in the catalog: a MemoryDataset
                name="clean_orders",
            ),
            node(
                price_order_lines,
                inputs=["valid_orders", "products"],
                outputs="order_lines@pandas",
                name="price_order_lines",
                tags=["kedro-airflow-k8s.resources.heavy"],
            ),
        ]
    )
