"""A generated Kedro project of N nodes whose catalog is one catch-all ``"{name}"`` pattern."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

PACKAGE = "big_catalog"

PIPELINE_REGISTRY = '''\
"""{size} nodes in chains with fan-in: mostly recent inputs, sometimes an old one."""

import random

from kedro.pipeline import Pipeline, node

SIZE = {size}
SPARK_TAG = "kedro-airflow-k8s.group.pyspark"


def step(*frames):
    return frames[0] if frames else None


def register_pipelines() -> dict[str, Pipeline]:
    rng = random.Random(0)
    nodes, outputs = [], []
    for index in range(SIZE):
        inputs = {{"raw"}}
        if outputs:
            window = min(len(outputs), 30)
            inputs = {{outputs[-rng.randint(1, window)] for _ in range(rng.randint(1, 3))}}
            if rng.random() < 0.2:
                inputs.add(rng.choice(outputs))
        written = f"dataset_{{index}}"
        outputs.append(written)
        tags = [SPARK_TAG] if rng.random() < 0.1 else []
        nodes.append(node(step, sorted(inputs), written, name=f"node_{{index}}", tags=tags))
    return {{"__default__": Pipeline(nodes)}}
'''

CATALOG = """\
# One catch-all pattern: every dataset of the pipeline resolves through it.
"{name}":
  type: pandas.CSVDataset
  filepath: data/{name}.csv
"""

PLUGIN_CONFIG = """\
run_config:
  image: registry.example.com/big-catalog:latest
  namespace: data-pipelines
"""


def write_project(root: Path, size: int) -> Path:
    """Write the project under ``root`` (created) and return its path."""
    root.mkdir(parents=True, exist_ok=True)
    package = root / "src" / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "big-catalog"
            version = "0.1"

            [tool.kedro]
            package_name = "{PACKAGE}"
            project_name = "big-catalog"
            kedro_init_version = "1.0.0"
            source_dir = "src"
            """
        )
    )
    (package / "__init__.py").write_text('__version__ = "0.1"\n')
    (package / "settings.py").write_text('"""Kedro defaults."""\n')
    (package / "pipeline_registry.py").write_text(PIPELINE_REGISTRY.format(size=size))
    for env in ("base", "local"):
        (root / "conf" / env).mkdir(parents=True, exist_ok=True)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "airflow-k8s.yml").write_text(PLUGIN_CONFIG)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    print(write_project(args.path, args.nodes))


if __name__ == "__main__":
    main()
