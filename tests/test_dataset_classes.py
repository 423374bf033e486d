"""Catalog types resolved from source: what Kedro would load, without importing dataset modules."""

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kedro.io.core import DatasetError, parse_dataset_definition

from kedro_airflow_k8s.dataset_classes import class_path_from_source, dataset_class_exists

REPO = Path(__file__).resolve().parent.parent
_package_numbers = itertools.count()

KEDRO_TYPES = [
    "pandas.CSVDataset",
    "pandas.ParquetDataset",
    "pandas.SQLTableDataset",
    "pickle.PickleDataset",
    "json.JSONDataset",
    "partitions.PartitionedDataset",
    "MemoryDataset",
    "SharedMemoryDataset",
    "CachedDataset",
    "kedro.io.MemoryDataset",
    "kedro_datasets.pandas.CSVDataset",
    "kedro_datasets.pandas.csv_dataset.CSVDataset",
]


@pytest.mark.parametrize("dataset_type", KEDRO_TYPES)
def test_source_names_the_class_kedro_loads(dataset_type):
    dataset_class, _ = parse_dataset_definition({"type": dataset_type})

    found = class_path_from_source(dataset_type)

    assert found == f"{dataset_class.__module__}.{dataset_class.__qualname__}"
    assert dataset_class_exists(dataset_type)


def test_reading_types_imports_no_dataset_module():
    # A fresh process: this one has imported pandas and pyspark long ago.
    script = textwrap.dedent(
        f"""
        import json, sys
        from kedro_airflow_k8s.dataset_classes import class_path_from_source, dataset_class_exists
        types = {KEDRO_TYPES + ["spark.SparkDataset", "databricks.ManagedTableDataset"]!r}
        found = {{t: class_path_from_source(t) for t in types}}
        exists = all(dataset_class_exists(t) for t in types)
        heavy = [m for m in ("pandas", "pyspark", "sqlalchemy", "google.cloud.bigquery")
                 if m in sys.modules]
        print(json.dumps({{"found": found, "exists": exists, "heavy": heavy}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.splitlines()[-1])

    assert result["heavy"] == []
    assert result["exists"]
    assert result["found"]["spark.SparkDataset"] == (
        "kedro_datasets.spark.spark_dataset.SparkDataset"
    )
    assert result["found"]["databricks.ManagedTableDataset"] == (
        "kedro_datasets.databricks.managed_table_dataset.ManagedTableDataset"
    )
    assert None not in result["found"].values()


@pytest.mark.parametrize(
    "dataset_type",
    ["pandas.NoSuchDataset", "nowhere.CSVDataset", "pandas.csvdataset", "NoSuchDataset", "."],
)
def test_a_type_no_module_declares_is_not_a_class(dataset_type):
    assert class_path_from_source(dataset_type) is None
    assert not dataset_class_exists(dataset_type)


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Write a package of modules (name -> source) on sys.path and return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(modules: dict[str, str]) -> str:
        name = f"source_case_{next(_package_numbers)}"
        root = tmp_path / name
        root.mkdir()
        for module, source in modules.items():
            path = root / f"{module}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return name

    return write


def test_a_project_dataset_reexported_by_its_package_is_found_where_defined(package):
    name = package(
        {
            "__init__": "from .readers import TableDataset\n",
            "readers": """
                from kedro.io import AbstractDataset

                class TableDataset(AbstractDataset):
                    pass
            """,
        }
    )

    assert class_path_from_source(f"{name}.TableDataset") == f"{name}.readers.TableDataset"
    assert name not in sys.modules


def test_a_lazy_loader_table_is_followed_to_the_defining_module(package):
    name = package(
        {
            "__init__": """
                import lazy_loader as lazy

                __getattr__, __dir__, __all__ = lazy.attach(
                    __name__, submod_attrs={"tables": ["LakeDataset"]}
                )
            """,
            "tables": "class LakeDataset:\n    pass\n",
        }
    )

    assert class_path_from_source(f"{name}.LakeDataset") == f"{name}.tables.LakeDataset"


def test_a_class_whose_dependency_is_missing_still_exists(package):
    name = package(
        {
            "__init__": """
                try:
                    from .remote import RemoteDataset
                except ImportError:
                    pass
            """,
            "remote": "import no_such_client_library\n\n\nclass RemoteDataset:\n    pass\n",
        }
    )

    assert class_path_from_source(f"{name}.RemoteDataset") == f"{name}.remote.RemoteDataset"
    assert dataset_class_exists(f"{name}.RemoteDataset")
    with pytest.raises(DatasetError):
        parse_dataset_definition({"type": f"{name}.RemoteDataset"})


def test_names_made_at_run_time_are_looked_up_by_importing(package):
    name = package(
        {
            "__init__": """
                def __getattr__(attribute):
                    if attribute == "MadeDataset":
                        from .made import MadeDataset
                        return MadeDataset
                    raise AttributeError(attribute)
            """,
            "made": "class MadeDataset:\n    pass\n",
        }
    )

    assert class_path_from_source(f"{name}.MadeDataset") is None  # Kedro is asked instead
    assert dataset_class_exists(f"{name}.MadeDataset")
    assert not dataset_class_exists(f"{name}.OtherDataset")


def test_a_decorated_class_is_left_to_kedro(package):
    # A decorator may return another class: only importing tells which.
    name = package(
        {
            "__init__": """
                import functools

                @functools.total_ordering
                class SortedDataset:
                    pass
            """
        }
    )

    assert class_path_from_source(f"{name}.SortedDataset") is None
    assert dataset_class_exists(f"{name}.SortedDataset")


def test_an_import_for_type_checkers_only_declares_nothing(package):
    name = package(
        {
            "__init__": """
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from .hidden import HiddenDataset
            """,
            "hidden": "class HiddenDataset:\n    pass\n",
        }
    )

    assert class_path_from_source(f"{name}.HiddenDataset") is None
    assert not dataset_class_exists(f"{name}.HiddenDataset")


def test_a_deleted_class_is_left_to_kedro(package):
    name = package({"__init__": "class GoneDataset:\n    pass\n\n\ndel GoneDataset\n"})

    assert class_path_from_source(f"{name}.GoneDataset") is None
    assert not dataset_class_exists(f"{name}.GoneDataset")
