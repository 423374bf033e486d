"""Spark node classification: tags, type annotations (with or without pyspark), dataset types."""

import functools
import importlib.util
import itertools
import json
import logging
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import DatasetError
from kedro.pipeline import Pipeline, node
from pydantic import TypeAdapter

from kedro_airflow_k8s.classify import (
    catalog_types,
    classify,
    is_memory_type,
    is_spark_dataset_type,
    pattern_matcher,
    quiet_catch_all_notices,
    same_class,
)
from kedro_airflow_k8s.config import SPARK_TAG, SparkConfig

REPO = Path(__file__).resolve().parent.parent
_module_numbers = itertools.count()


def anything(*args):
    return None


def spark_reasons(*nodes, types=None, **spark_settings) -> dict[str, str]:
    catalog_type = (types or {}).get
    spark = TypeAdapter(SparkConfig).validate_python(spark_settings)
    return classify(Pipeline(list(nodes)), catalog_type, spark)


def load_module(tmp_path: Path, source: str) -> typing.Any:
    """Import ``source`` as a real module file, so its imports can be read back from source."""
    name = f"classify_case_{next(_module_numbers)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_spark_tag_marks_node():
    reasons = spark_reasons(
        node(anything, "a", "b", name="tagged", tags=[SPARK_TAG]),
        node(anything, "b", "c", name="plain"),
    )
    assert reasons == {"tagged": f"tag {SPARK_TAG}"}


def test_configured_tag_marks_node():
    reasons = spark_reasons(node(anything, "a", "b", name="n", tags=["heavy"]), tags=["heavy"])
    assert reasons == {"n": "tag heavy"}


def test_real_pyspark_class_annotation_marks_node():
    pyspark_sql = pytest.importorskip("pyspark.sql")

    def transform(df: pyspark_sql.DataFrame) -> int:
        return 0

    reasons = spark_reasons(node(transform, "a", "b", name="n"))
    assert reasons == {"n": "annotation: input 'df' is pyspark.sql.dataframe.DataFrame"}


@pytest.mark.parametrize(
    "annotation",
    [
        "Optional[DataFrame]",
        "DataFrame | None",
        "list[DataFrame]",
        "dict[str, DataFrame]",
        "tuple[int, Union[str, DataFrame]]",
        "'DataFrame'",
        "Optional['DataFrame']",
    ],
)
def test_nested_and_quoted_annotations_mark_node(tmp_path, annotation):
    module = load_module(
        tmp_path,
        f"""
        from __future__ import annotations
        from typing import Optional, Union
        from pyspark.sql import DataFrame

        def transform(df: {annotation}):
            return df
        """,
    )
    reasons = spark_reasons(node(module.transform, "a", "b", name="n"))
    assert reasons["n"].startswith("annotation: input 'df' is pyspark.sql")


def test_nested_runtime_annotations_mark_node():
    pyspark_sql = pytest.importorskip("pyspark.sql")

    def transform(df: typing.Optional[dict[str, list[pyspark_sql.DataFrame]]]):  # noqa: UP045
        return df

    def produce(x) -> pyspark_sql.DataFrame | None:
        return None

    reasons = spark_reasons(
        node(transform, "a", "b", name="consumer"), node(produce, "c", "d", name="producer")
    )
    assert reasons["consumer"] == "annotation: input 'df' is pyspark.sql.dataframe.DataFrame"
    assert reasons["producer"] == "annotation: output is pyspark.sql.dataframe.DataFrame"


def test_spark_connect_dataframe_annotation_marks_node(tmp_path):
    module = load_module(
        tmp_path,
        """
        def transform(df: "pyspark.sql.connect.dataframe.DataFrame"):
            return df
        """,
    )
    reasons = spark_reasons(node(module.transform, "a", "b", name="n"))
    assert reasons == {"n": "annotation: input 'df' is pyspark.sql.connect.dataframe.DataFrame"}


def test_real_spark_connect_class_marks_node():
    connect = pytest.importorskip("pyspark.sql.connect.dataframe")

    def transform(df: connect.DataFrame):
        return df

    reasons = spark_reasons(node(transform, "a", "b", name="n"))
    assert reasons == {"n": "annotation: input 'df' is pyspark.sql.connect.dataframe.DataFrame"}


def test_subclass_of_spark_dataframe_marks_node():
    pyspark_sql = pytest.importorskip("pyspark.sql")

    class Frame(pyspark_sql.DataFrame):
        pass

    def transform(df: Frame):
        return df

    assert "n" in spark_reasons(node(transform, "a", "b", name="n"))


def test_aliases_and_pandas_on_spark_names_mark_node(tmp_path):
    module = load_module(
        tmp_path,
        """
        from __future__ import annotations
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            import pyspark.pandas as ps
            from pyspark.sql import DataFrame as SparkDF

        def aliased(df: SparkDF) -> None:
            return None

        def pandas_on_spark(x) -> ps.DataFrame:
            return x

        def frame_module(x) -> "pyspark.pandas.frame.DataFrame":
            return x
        """,
    )
    reasons = spark_reasons(
        node(module.aliased, "a", "b", name="aliased"),
        node(module.pandas_on_spark, "c", "d", name="pandas_on_spark"),
        node(module.frame_module, "e", "f", name="frame_module"),
    )
    assert reasons == {
        "aliased": "annotation: input 'df' is pyspark.sql.DataFrame",
        "pandas_on_spark": "annotation: output is pyspark.pandas.DataFrame",
        "frame_module": "annotation: output is pyspark.pandas.frame.DataFrame",
    }


def test_pandas_dataframe_is_not_spark(tmp_path):
    module = load_module(
        tmp_path,
        """
        from typing import Literal, Optional
        import pandas as pd
        from pandas import DataFrame

        def runtime(df: pd.DataFrame) -> Optional[pd.DataFrame]:
            return df

        def quoted(df: "DataFrame", kind: Literal["DataFrame"] = "DataFrame") -> "pd.DataFrame":
            return df

        def unannotated(df):
            return df
        """,
    )
    reasons = spark_reasons(
        node(module.runtime, "a", "b", name="runtime"),
        node(module.quoted, "c", "d", name="quoted"),
        node(module.unannotated, "e", "f", name="unannotated"),
    )
    assert reasons == {}


def test_partial_and_decorated_functions_are_unwrapped(tmp_path):
    decorators = load_module(
        tmp_path,
        """
        import functools

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper

        def opaque(func):
            def wrapper(*args):
                return func(*args)
            wrapper.__wrapped__ = func
            return wrapper
        """,
    )
    module = load_module(
        tmp_path,
        f"""
        from __future__ import annotations
        from pyspark.sql import DataFrame
        from {decorators.__name__} import logged, opaque

        def scaled(df: DataFrame, factor: float):
            return df

        @logged
        def decorated(df: DataFrame):
            return df

        @opaque
        def hidden(df: DataFrame):
            return df

        class Job:
            def __call__(self, df: DataFrame):
                return df
        """,
    )
    reasons = spark_reasons(
        node(functools.partial(module.scaled, factor=2.0), "a", "b", name="partial"),
        node(module.decorated, "c", "d", name="decorated"),
        node(module.hidden, "e", "f", name="hidden"),
        node(module.Job(), "g", "h", name="callable"),
    )
    assert set(reasons) == {"partial", "decorated", "hidden", "callable"}
    assert reasons["partial"].startswith("annotation: input 'df' is pyspark.sql.")


CLASSIFY_WITHOUT_PYSPARK = """
import importlib.abc, json, sys

class NoPyspark(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(f"No module named {{name!r}} (blocked)")
        return None

if {block}:
    sys.meta_path.insert(0, NoPyspark())
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")]:
        del sys.modules[name]
    try:
        import pyspark.sql
    except ImportError:
        pass
    else:
        raise SystemExit("pyspark is still importable")
sys.path.insert(0, {directory!r})

from kedro.pipeline import Pipeline, node
from kedro_airflow_k8s.classify import classify
from kedro_airflow_k8s.spark_config import NoSparkConfig
import typed_nodes as m

pipeline = Pipeline([
    node(m.plain_name, "a", "b", name="plain_name"),
    node(m.optional_alias, "c", "d", name="optional_alias"),
    node(m.pandas_on_spark, "e", "f", name="pandas_on_spark"),
    node(m.connect, "g", "h", name="connect"),
    node(m.pandas_frame, "i", "j", name="pandas_frame"),
])
reasons = classify(pipeline, lambda name: None, NoSparkConfig())
print(json.dumps({{"reasons": reasons, "imported": "pyspark" in sys.modules}}))
"""

TYPED_NODES = """
from __future__ import annotations
from typing import TYPE_CHECKING, Optional
import pandas as pd

if TYPE_CHECKING:
    import pyspark.pandas as ps
    from pyspark.sql import DataFrame
    from pyspark.sql import DataFrame as SparkDF

def plain_name(df: DataFrame) -> int:
    return 0

def optional_alias(df: Optional[SparkDF]) -> None:
    return None

def pandas_on_spark(x) -> ps.DataFrame:
    return x

def connect(x: "pyspark.sql.connect.dataframe.DataFrame"):
    return x

def pandas_frame(df: pd.DataFrame) -> pd.DataFrame:
    return df
"""


@pytest.mark.parametrize("block", [True, False], ids=["pyspark-unimportable", "pyspark-present"])
def test_annotations_classified_without_importing_pyspark(tmp_path, block):
    (tmp_path / "typed_nodes.py").write_text(TYPED_NODES)
    script = CLASSIFY_WITHOUT_PYSPARK.format(block=block, directory=str(tmp_path))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["imported"] is False
    assert result["reasons"] == {
        "plain_name": "annotation: input 'df' is pyspark.sql.DataFrame",
        "optional_alias": "annotation: input 'df' is pyspark.sql.DataFrame",
        "pandas_on_spark": "annotation: output is pyspark.pandas.DataFrame",
        "connect": "annotation: input 'x' is pyspark.sql.connect.dataframe.DataFrame",
    }


@pytest.mark.parametrize(
    "type_path",
    [
        "kedro_datasets.spark.spark_dataset.SparkDataset",
        "kedro_datasets.spark.SparkDataset",
        "kedro_datasets.spark.spark_dataset_v2.SparkDatasetV2",
        "kedro_datasets.spark.spark_hive_dataset.SparkHiveDataset",
        "kedro_datasets.spark.spark_jdbc_dataset.SparkJDBCDataset",
        "kedro_datasets.spark.spark_streaming_dataset.SparkStreamingDataset",
        "kedro_datasets.spark.deltatable_dataset.DeltaTableDataset",
        "kedro_datasets.databricks.managed_table_dataset.ManagedTableDataset",
        "spark.SparkDataset",
    ],
)
def test_spark_dataset_types(type_path):
    assert is_spark_dataset_type(type_path)
    reasons = spark_reasons(node(anything, "raw", "out", name="n"), types={"out": type_path})
    assert reasons == {"n": f"dataset 'out' is {type_path}"}


@pytest.mark.parametrize(
    "type_path",
    [
        None,
        "kedro.io.memory_dataset.MemoryDataset",
        "kedro_datasets.pandas.csv_dataset.CSVDataset",
        "kedro_datasets.pandas.parquet_dataset.ParquetDataset",
        "my_project.sparkle.SparkDataset",
    ],
)
def test_non_spark_dataset_types(type_path):
    assert not is_spark_dataset_type(type_path)


@pytest.mark.parametrize(
    ("configured", "reported"),
    [
        ("my_project.datasets.IcebergDataset", "my_project.datasets.iceberg.IcebergDataset"),
        ("my_project.datasets.iceberg.IcebergDataset", "my_project.datasets.IcebergDataset"),
        ("my_project.datasets.IcebergDataset", "my_project.datasets.IcebergDataset"),
    ],
)
def test_configured_dataset_types_match_either_spelling(configured, reported):
    reasons = spark_reasons(
        node(anything, "raw", "out", name="n"), types={"out": reported}, dataset_types=[configured]
    )
    assert reasons == {"n": f"dataset 'out' is {reported}"}


def test_same_class_needs_equal_class_name_and_module_prefix():
    assert same_class("a.b.C", "a.b.c_module.C")
    assert not same_class("a.b.C", "a.bc.C")
    assert not same_class("a.b.C", "a.b.D")


def test_transcoded_names_are_judged_on_the_full_name():
    types = {
        "table@spark": "kedro_datasets.spark.spark_dataset.SparkDataset",
        "table@pandas": "kedro_datasets.pandas.parquet_dataset.ParquetDataset",
    }
    reasons = spark_reasons(
        node(anything, "raw", "table@spark", name="writer"),
        node(anything, "table@pandas", "report", name="reader"),
        types=types,
    )
    assert reasons == {
        "writer": "dataset 'table@spark' is kedro_datasets.spark.spark_dataset.SparkDataset"
    }


def test_parameters_are_never_datasets():
    reasons = spark_reasons(
        node(anything, ["raw", "params:spark", "parameters"], "out", name="n"),
        types={"params:spark": "kedro_datasets.spark.SparkDataset"},
    )
    assert reasons == {}


def test_memory_types():
    assert is_memory_type(None)
    assert is_memory_type("kedro.io.memory_dataset.MemoryDataset")
    assert is_memory_type("kedro.io.shared_memory_dataset.SharedMemoryDataset")
    assert is_memory_type("MemoryDataset")
    assert not is_memory_type("kedro_datasets.pandas.csv_dataset.CSVDataset")


def test_catalog_types_reads_real_catalog_with_patterns(tmp_path):
    catalog = DataCatalog.from_config(
        {
            "{name}_spark": {"type": "spark.SparkDataset", "filepath": str(tmp_path / "{name}")},
            "table@spark": {"type": "spark.SparkDataset", "filepath": str(tmp_path / "t")},
            "table@pandas": {"type": "pandas.ParquetDataset", "filepath": str(tmp_path / "t")},
            "scratch": {"type": "MemoryDataset"},
            "shared": {"type": "SharedMemoryDataset"},
            "report": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "r.csv")},
        }
    )
    catalog["params:alpha"] = 1
    type_of = catalog_types(catalog)
    assert is_spark_dataset_type(type_of("features_spark"))
    assert is_spark_dataset_type(type_of("table@spark"))
    assert type_of("table@pandas") == "kedro_datasets.pandas.parquet_dataset.ParquetDataset"
    assert type_of("table") is None
    assert type_of("undeclared") is None
    assert type_of("scratch") == "kedro.io.memory_dataset.MemoryDataset"
    assert is_memory_type(type_of("shared"))
    assert type_of("report") == "kedro_datasets.pandas.csv_dataset.CSVDataset"
    assert is_memory_type(type_of("params:alpha"))


def test_classify_is_pure_and_ordered_like_the_pipeline():
    nodes = [node(anything, f"d{i}", f"d{i + 1}", name=f"n{i}", tags=[SPARK_TAG]) for i in range(5)]
    first = spark_reasons(*nodes)
    assert list(first) == [f"n{i}" for i in range(5)]
    assert spark_reasons(*reversed(nodes)) == first


def catalog_with_patterns(tmp_path, catch_all=True):
    config = {
        "explicit_table": {"type": "spark.SparkDataset", "filepath": str(tmp_path / "t")},
        "explicit_csv": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "e.csv")},
        "{name}_parquet": {
            "type": "pandas.ParquetDataset",
            "filepath": str(tmp_path / "{name}.pq"),
        },
        "{kind}#{name}": {"type": "pandas.{kind}Dataset", "filepath": str(tmp_path / "{name}")},
        "{name}_mem": {"type": "MemoryDataset"},
    }
    if catch_all:
        config["{name}"] = {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "{name}.csv")}
    catalog = DataCatalog.from_config(config)
    catalog["given_object"] = MemoryDataset()
    return catalog


NAMES = [
    "explicit_table",
    "explicit_csv",
    "sales_parquet",
    "JSON#events",
    "CSV#orders",
    "scratch_mem",
    "given_object",
    "anything_else",
    "params:alpha",
]


@pytest.mark.parametrize("catch_all", [True, False])
def test_catalog_types_agree_with_kedro_get_type(tmp_path, catch_all):
    catalog = catalog_with_patterns(tmp_path, catch_all)
    type_of = catalog_types(catalog)
    expected = {}
    for name in NAMES:
        try:
            expected[name] = catalog.get_type(name)
        except DatasetError:  # without hdfs: named as Kedro loads it where hdfs is installed
            expected[name] = "kedro_datasets.spark.spark_dataset.SparkDataset"
    assert {name: type_of(name) for name in NAMES} == expected
    assert (type_of("anything_else") is None) is not catch_all


def test_compiled_patterns_match_as_kedro_matches(tmp_path):
    resolver = catalog_with_patterns(tmp_path).config_resolver
    names = [*NAMES, "a_parquet_parquet", "#", "x#", "_parquet", "a.b@c", "line\nbreak", ""]
    match = pattern_matcher(resolver)

    for name in names:
        expected = resolver.match_dataset_pattern(name) or (
            resolver.match_user_catch_all_pattern(name)
        )
        assert match(name) == expected, name


def test_catch_all_pattern_notice_is_dropped_only_inside_lookups(tmp_path, caplog):
    catalog = catalog_with_patterns(tmp_path)
    resolver = catalog.config_resolver
    logger = logging.getLogger("kedro.io.catalog_config_resolver")
    caplog.set_level(logging.WARNING)
    with quiet_catch_all_notices():
        resolver.resolve_pattern("quiet_one")
        logger.warning("another warning")
    assert [r.getMessage() for r in caplog.records] == ["another warning"]
    resolver.resolve_pattern("loud_one")
    assert "'loud_one'" in caplog.records[-1].getMessage()
