"""Dataset factory patterns resolve exactly as Kedro's own resolver resolves them."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from kedro.io import DataCatalog
from kedro.io.core import DatasetError

from kedro_airflow_k8s.catalog_patterns import CatalogPatterns
from kedro_airflow_k8s.classify import quiet_catch_all_notices

CATALOG = {
    "declared": {"type": "pandas.CSVDataset", "filepath": "data/declared.csv"},
    "{namespace}.int_{name}": {
        "type": "pandas.ParquetDataset",
        "filepath": "s3://lake/{namespace}/{name}.parquet",
        "save_args": {"partition_cols": ["{name}_day"]},
    },
    "{layer}.{name}@spark": {"type": "spark.SparkDataset", "filepath": "gs://b/{layer}/{name}"},
    "{same}-{same}": {"type": "pandas.CSVDataset", "filepath": "twice/{same}.csv"},
    "{name}": {"type": "pandas.CSVDataset", "filepath": "data/{name}.csv"},
}
NAMES = [
    "declared",
    "raw.int_orders",
    "RAW.INT_Orders",  # Kedro matches patterns without regard to case
    "a.b.int_c",
    "silver.orders@spark",
    "x-x",
    "x-y",
    "plain",
    "with space",
]


def kedro_resolved(catalog: DataCatalog, name: str) -> dict:
    with quiet_catch_all_notices():
        return catalog.config_resolver.resolve_pattern(name)


@pytest.mark.parametrize("name", NAMES)
def test_resolves_as_kedro_does(name):
    catalog = DataCatalog.from_config(CATALOG)
    patterns = CatalogPatterns(catalog.config_resolver)
    if name == "declared":
        return  # declared entries are read from the catalog config, not from patterns
    assert patterns.resolve(name) == kedro_resolved(catalog, name)


@pytest.mark.parametrize("name", NAMES)
def test_matches_the_pattern_kedro_matches(name):
    catalog = DataCatalog.from_config(CATALOG)
    resolver = catalog.config_resolver
    expected = resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(name)
    found = CatalogPatterns(resolver).match(name, user_only=True)
    assert (found[0] if found else None) == expected


def test_without_a_catch_all_an_undeclared_name_has_no_user_pattern():
    catalog = DataCatalog.from_config({k: v for k, v in CATALOG.items() if k != "{name}"})
    patterns = CatalogPatterns(catalog.config_resolver)
    assert patterns.match("plain", user_only=True) is None
    assert patterns.resolve("plain") == kedro_resolved(catalog, "plain")  # the MemoryDataset


def test_a_pattern_of_other_syntax_is_left_to_kedro():
    config = {"part {index}": {"type": "pandas.CSVDataset", "filepath": "p/{index}.csv"}}
    catalog = DataCatalog.from_config(config)
    patterns = CatalogPatterns(catalog.config_resolver)
    assert patterns.resolve("part 7") == kedro_resolved(catalog, "part 7")
    assert patterns.resolve("part 7")["filepath"] == "p/7.csv"
    assert patterns.match("part7", user_only=True) is None


# Patterns of literal text and {fields}, a field possibly used twice, over a small alphabet so
# that names often match several patterns and Kedro's ordering decides.
_LITERALS = st.text(alphabet="ab._-@", min_size=1, max_size=3)
_FIELDS = st.sampled_from(["{x}", "{y}"])
_PATTERNS = st.lists(st.one_of(_LITERALS, _FIELDS), min_size=1, max_size=4).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    patterns=st.lists(_PATTERNS, min_size=1, max_size=3, unique=True),
    names=st.lists(st.text(alphabet="ab._-@AB", min_size=1, max_size=8), max_size=8),
)
def test_random_patterns_resolve_as_kedro_resolves_them(patterns, names):
    config = {}
    for pattern in patterns:
        fields = sorted(set(re.findall(r"\{\w+\}", pattern)))
        config[pattern] = {"type": "pandas.CSVDataset", "filepath": "p/" + "/".join(fields)}
    try:
        catalog = DataCatalog.from_config(config)
    except DatasetError:
        assume(False)  # e.g. two catch-all patterns, which Kedro refuses
    resolver = catalog.config_resolver
    patterns_here = CatalogPatterns(resolver)
    for name in names:
        if name in config:
            continue
        expected = resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(
            name
        )
        found = patterns_here.match(name, user_only=True)
        assert (found[0] if found else None) == expected, name
        assert patterns_here.resolve(name) == kedro_resolved(catalog, name), name
