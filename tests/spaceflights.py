"""A namespaced Kedro project of the spaceflights shape: data_processing, data_science,
reporting, each a namespace and a registered pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NODES = """
from kedro.pipeline import Pipeline, node


def preprocess_companies(companies):
    return [dict(row, rating=float(row["rating"])) for row in companies]


def preprocess_shuttles(shuttles):
    return [dict(row, price=float(row["price"])) for row in shuttles]


def create_model_input_table(shuttles, companies):
    rating = {row["company"]: row["rating"] for row in companies}
    return [dict(row, rating=rating[row["company"]]) for row in shuttles]


def split_data(table, fraction):
    cut = max(1, int(len(table) * fraction))
    return table[:cut], table[cut:]


def train_model(train):
    return {"mean_price": sum(row["price"] for row in train) / len(train)}


def evaluate_model(model, test):
    errors = [abs(row["price"] - model["mean_price"]) for row in test]
    return {"mae": sum(errors) / max(1, len(errors))}


def make_report(table, metrics):
    return {"rows": len(table), "mae": metrics["mae"]}


def create_pipeline(**kwargs):
    data_processing = Pipeline(
        [
            node(preprocess_companies, "companies", "preprocessed_companies",
                 name="preprocess_companies", namespace="data_processing", tags=["prep"]),
            node(preprocess_shuttles, "shuttles", "preprocessed_shuttles",
                 name="preprocess_shuttles", namespace="data_processing", tags=["prep"]),
            node(create_model_input_table, ["preprocessed_shuttles", "preprocessed_companies"],
                 "model_input_table", name="create_model_input_table",
                 namespace="data_processing"),
        ]
    )
    data_science = Pipeline(
        [
            # train and test are MemoryDatasets: they never leave the namespace's task.
            node(split_data, ["model_input_table", "params:fraction"], ["train", "test"],
                 name="split_data", namespace="data_science"),
            node(train_model, "train", "model", name="train_model", namespace="data_science",
                 tags=["training"]),
            node(evaluate_model, ["model", "test"], "metrics", name="evaluate_model",
                 namespace="data_science"),
        ]
    )
    reporting = Pipeline(
        [
            node(make_report, ["model_input_table", "metrics"], "report",
                 name="make_report", namespace="reporting"),
        ]
    )
    return {
        "data_processing": data_processing,
        "data_science": data_science,
        "reporting": reporting,
    }
"""

REGISTRY = """from {package}.pipelines.main import create_pipeline


def register_pipelines():
    pipelines = create_pipeline()
    pipelines["__default__"] = sum(pipelines.values(), start=type(pipelines["reporting"])([]))
    return pipelines
"""

DATASETS = [
    "companies",
    "shuttles",
    "preprocessed_companies",
    "preprocessed_shuttles",
    "model_input_table",
    "model",
    "metrics",
    "report",
]
CATALOG = {name: {"type": "json.JSONDataset", "filepath": f"data/{name}.json"} for name in DATASETS}

STDOUT_LOGGING = """
version: 1
disable_existing_loggers: false
handlers:
  console:
    class: logging.StreamHandler
    stream: ext://sys.stdout
    formatter: plain
formatters:
  plain:
    format: "LOG %(name)s %(message)s"
loggers:
  kedro:
    level: INFO
root:
  level: INFO
  handlers: [console]
"""


def make_spaceflights(make_project: Any, config: dict[str, Any] | None = None) -> Path:
    """The project, its raw data written, with a logging.yml that writes to stdout."""
    project = make_project(nodes=NODES, catalog=CATALOG, config=config)
    package = next(project.glob("src/*/pipeline_registry.py")).parent
    (package / "pipeline_registry.py").write_text(REGISTRY.format(package=package.name))
    (project / "conf" / "base" / "parameters.yml").write_text("fraction: 0.5\n")
    (project / "conf" / "logging.yml").write_text(STDOUT_LOGGING)
    companies = [{"company": "a", "rating": "0.9"}, {"company": "b", "rating": "0.7"}]
    shuttles = [{"company": "a", "price": "10"}, {"company": "b", "price": "30"}]
    (project / "data" / "companies.json").write_text(json.dumps(companies))
    (project / "data" / "shuttles.json").write_text(json.dumps(shuttles))
    return project


NAMESPACE_NODES = {
    "data_processing": [
        "data_processing.preprocess_companies",
        "data_processing.preprocess_shuttles",
        "data_processing.create_model_input_table",
    ],
    "data_science": [
        "data_science.split_data",
        "data_science.train_model",
        "data_science.evaluate_model",
    ],
    "reporting": ["reporting.make_report"],
}
