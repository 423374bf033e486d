"""Airflow Assets from the catalog: outlets of the writing task, inlets of the readers."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from tests.conftest import DEFAULT_CONFIG, load_dagbag

BUCKET_CATALOG = {
    "raw": {"type": "pandas.CSVDataset", "filepath": "gs://lake/raw.csv"},
    "doubled": {"type": "pandas.ParquetDataset", "filepath": "s3://lake/doubled.parquet"},
    "quadrupled": {"type": "pandas.CSVDataset", "filepath": "/mnt/shared/quadrupled.csv"},
    "total": {"type": "pandas.CSVDataset", "filepath": "data/total.csv"},
}


def config_with(**run_config):
    return {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], **run_config}}


def compiled(cli, project):
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    return bag.dags[project.name], result.output


def uris(assets) -> list[str]:
    return [asset.uri for asset in assets]


def test_each_task_writes_and_reads_its_datasets_as_assets(make_project, cli):
    dag, output = compiled(cli, make_project(catalog=BUCKET_CATALOG))
    double_raw, double_again, add_up = (
        dag.get_task(t) for t in ("double_raw", "double_again", "add_up")
    )
    assert uris(double_raw.inlets) == ["gs://lake/raw.csv"]
    assert uris(double_raw.outlets) == ["s3://lake/doubled.parquet"]
    assert uris(double_again.outlets) == ["file:///mnt/shared/quadrupled.csv"]
    assert uris(add_up.inlets) == ["s3://lake/doubled.parquet", "file:///mnt/shared/quadrupled.csv"]
    assert add_up.outlets == [], "data/total.csv is relative to the project inside the pod"
    assert "1 datasets are no Airflow Asset (total)" in output


def test_relative_paths_resolve_against_the_project_for_local_tasks(make_project, cli):
    config = config_with(node_runner="local", local_runner={"project_path": "/srv/shop"})
    dag, output = compiled(cli, make_project(config=config))
    assert uris(dag.get_task("add_up").outlets) == ["file:///srv/shop/data/total.csv"]
    assert "no Airflow Asset" not in output


def test_assets_false_leaves_lineage_out(make_project, cli):
    dag, _ = compiled(cli, make_project(catalog=BUCKET_CATALOG, config=config_with(assets=False)))
    assert all(not task.inlets and not task.outlets for task in dag.tasks)


def test_the_dag_runs_when_upstream_assets_are_updated(make_project, cli):
    config = config_with(schedule_on_assets=["gs://lake/orders.parquet", "s3://lake/shops"])
    dag, _ = compiled(cli, make_project(config=config))
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"
    assert [asset.uri for asset in condition.objects] == [
        "gs://lake/orders.parquet",
        "s3://lake/shops",
    ]


def test_a_dag_has_a_cron_schedule_or_asset_triggers_not_both():
    config = config_with(cron_expression="0 3 * * *", schedule_on_assets=["gs://lake/x"])
    with pytest.raises(ConfigError, match="cron_expression or schedule_on_assets, not both"):
        parse_config(config)
