"""Which Kedro nodes need Spark, and why: by tag, type annotation or catalog dataset type."""

from __future__ import annotations

import contextlib
import functools
import logging
import typing
from collections.abc import Callable, Iterator
from typing import Any

from kedro.io.core import DatasetError, parse_dataset_definition
from kedro.pipeline import Pipeline

from kedro_airflow_k8s.config import SPARK_TAG, SparkConfig
from kedro_airflow_k8s.dataset_classes import class_path_from_source
from kedro_airflow_k8s.spark_annotations import AnnotationReader

CatalogType = Callable[[str], str | None]

BUILTIN_SPARK_DATASET_PACKAGES = (
    "kedro_datasets.spark.",
    "kedro_datasets.databricks.",
    "kedro_datasets_experimental.databricks.",
)
# Kedro resolves a configured ``type`` by trying these prefixes in turn.
_KEDRO_TYPE_PREFIXES = ("", "kedro_datasets.", "kedro.io.")


def classify(pipeline: Pipeline, catalog_type: CatalogType, spark: SparkConfig) -> dict[str, str]:
    """Node name -> reason, for every node that is directly a Spark node.

    A node is Spark when it carries a Spark tag, when its function's parameter or
    return annotation is a pyspark DataFrame, or when one of its datasets is a
    Spark dataset in the catalog. pyspark is never imported.
    """
    spark_tags = {SPARK_TAG, *spark.tags}
    type_of = cached_catalog_type(catalog_type)
    extra_types = tuple(spark.dataset_types)

    # Names are many and types few: judge each type once.
    is_spark_type = functools.cache(lambda path: is_spark_dataset_type(path, extra_types))

    @functools.cache
    def spark_dataset_type(name: str) -> str | None:
        type_path = None if is_parameter(name) else type_of(name)
        return type_path if is_spark_type(type_path) else None

    annotations = AnnotationReader()
    reasons: dict[str, str] = {}
    for node in pipeline.nodes:
        reason = (
            _tag_reason(node.tags, spark_tags)
            or annotations.reason(node.func)
            or _dataset_reason([*node.inputs, *node.outputs], spark_dataset_type)
        )
        if reason:
            reasons[node.name] = reason
    return reasons


def catalog_types(catalog: Any) -> CatalogType:
    """``CatalogType`` of a Kedro ``DataCatalog``: what ``catalog.get_type`` says, in time
    independent of the catalog's size per dataset class rather than per dataset.

    ``get_type`` resolves a dataset factory pattern for every name (a deep copy and,
    for a catch-all pattern, one logged warning each) and then imports the class
    again. Here a name's pattern is matched once and each configured ``type`` is
    resolved to its class once, from the dataset modules' source where it declares
    the class (see ``dataset_classes``): no dataset library is imported, and a class
    whose dependencies are missing here (``kedro_datasets.spark`` without ``hdfs``) is
    still named as Kedro would load it. A ``type`` the source cannot tell and that does
    not import is reported as configured: its spelling still says what the dataset is.
    """
    from kedro_airflow_k8s.catalog_patterns import CatalogPatterns

    resolver = catalog.config_resolver
    declared = resolver.config
    explicit = set(catalog.keys())
    pattern_config = getattr(resolver, "_get_pattern_config", None)
    patterns = CatalogPatterns(resolver)

    @functools.cache
    def class_path(configured: Any) -> str | None:
        # Read from source first: importing kedro_datasets.pandas alone takes a second.
        found = class_path_from_source(configured) if isinstance(configured, str) else None
        if found is not None:
            return found
        try:
            dataset_class, _ = parse_dataset_definition({"type": configured})
        except DatasetError:
            return configured if isinstance(configured, str) else None
        return f"{dataset_class.__module__}.{dataset_class.__qualname__}"

    def type_of(name: str) -> str | None:
        if name in declared:
            configured = declared[name].get("type")
        elif name in explicit:
            return catalog.get_type(name)  # a dataset object given to the catalog
        else:
            found = patterns.match(name, user_only=True)
            if found is None:
                return None  # undeclared: a MemoryDataset at run time
            config = pattern_config(found[0]) if pattern_config else {}
            configured = config.get("type")
            if not isinstance(configured, str) or "{" in configured:
                configured = patterns.resolve(name).get("type")  # placeholders in the type
        try:
            return class_path(configured)
        except TypeError:  # an unhashable type entry: let Kedro judge it
            return catalog.get_type(name)

    return type_of


def pattern_matcher(resolver: Any) -> Callable[[str], str | None]:
    """``resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(name)``,
    with each pattern compiled once instead of once per name (Kedro parses the pattern
    again for every lookup, most of the time a big catalog's types take)."""
    from kedro_airflow_k8s.catalog_patterns import CatalogPatterns

    patterns = CatalogPatterns(resolver)

    def match(name: str) -> str | None:
        found = patterns.match(name, user_only=True)
        return found[0] if found else None

    return match


# Kedro logs this once per dataset a catch-all pattern ("{name}") resolves: one rich-formatted
# line per lookup, most of a big plan's time and nothing the user asked about.
_PATTERN_LOGGER = "kedro.io.catalog_config_resolver"
_CATCH_ALL_NOTICE = "Config from the dataset pattern"


def _not_catch_all_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_CATCH_ALL_NOTICE)


@contextlib.contextmanager
def quiet_catch_all_notices() -> Iterator[None]:
    """Drop Kedro's per-dataset catch-all pattern notice, and only it, during catalog lookups."""
    logger = logging.getLogger(_PATTERN_LOGGER)
    logger.addFilter(_not_catch_all_notice)
    try:
        yield
    finally:
        logger.removeFilter(_not_catch_all_notice)


def cached_catalog_type(catalog_type: CatalogType) -> CatalogType:
    """Memoise ``catalog_type``: pattern resolution is not free and names repeat."""
    return functools.cache(catalog_type)


def is_parameter(name: str) -> bool:
    return name == "parameters" or name.startswith("params:")


def is_memory_type(type_path: str | None) -> bool:
    """True for undeclared datasets and every *MemoryDataset class (data lives in one process)."""
    return type_path is None or type_path.rpartition(".")[2].endswith("MemoryDataset")


def is_spark_dataset_type(type_path: str | None, extra_types: typing.Sequence[str] = ()) -> bool:
    if not type_path:
        return False
    for spelling in _kedro_spellings(type_path):
        if spelling.startswith(BUILTIN_SPARK_DATASET_PACKAGES):
            return True
        if any(same_class(spelling, extra) for extra in extra_types):
            return True
    return False


def same_class(path: str, other: str) -> bool:
    """Whether two dotted paths name one class, one possibly via a re-exporting package.

    ``kedro_datasets.spark.SparkDataset`` and ``kedro_datasets.spark.spark_dataset.SparkDataset``
    are the same class: equal class names and one module path a prefix of the other.
    A bare class name matches that class in any module.
    """
    module, _, name = path.rpartition(".")
    other_module, _, other_name = other.rpartition(".")
    if name != other_name:
        return False
    if not module or not other_module or module == other_module:
        return True
    return module.startswith(other_module + ".") or other_module.startswith(module + ".")


def _kedro_spellings(type_path: str) -> Iterator[str]:
    for prefix in _KEDRO_TYPE_PREFIXES:
        yield prefix + type_path


def _tag_reason(tags: typing.Iterable[str], spark_tags: set[str]) -> str | None:
    matching = sorted(spark_tags.intersection(tags))
    return f"tag {matching[0]}" if matching else None


def _dataset_reason(names: list[str], spark_dataset_type: CatalogType) -> str | None:
    for name in names:
        type_path = spark_dataset_type(name)
        if type_path:
            return f"dataset '{name}' is {type_path}"
    return None
