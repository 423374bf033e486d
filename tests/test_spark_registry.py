"""The backend registry: one descriptor per backend, and its checks run while planning."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.spark.registry import BACKENDS
from kedro_airflow_k8s.spark.standalone import StandaloneFactory
from kedro_airflow_k8s.spark_config import BACKEND_MODELS
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    config,
    restore_environ,  # noqa: F401 - autouse fixture
)

STANDALONE = {"type": "standalone", "master": "local[2]", "resources": {"big": {}}}


def project_with(make_project, spark: dict):
    return make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))


def test_every_backend_has_one_descriptor_with_its_config_model():
    assert set(BACKENDS) == set(BACKEND_MODELS)
    for name, backend in BACKENDS.items():
        assert backend.config_model is BACKEND_MODELS[name]
        if backend.factory is not None:
            assert backend.factory_class().__name__.endswith("Factory")


@pytest.mark.parametrize(
    ("spark", "message"),
    [
        (
            {**STANDALONE, "master": "k8s://https://api:6443"},
            "the standalone backend submits to spark://host:port or local[N]",
        ),
        (
            {"type": "dataproc", "resources": {"big": {}}},
            "run_config.spark.artifacts_path is None; the dataproc backend fetches",
        ),
        ({**STANDALONE, "resources": {}}, "run_config.spark.resources has no profile 'big'"),
        (
            {**STANDALONE, "submit_args": {"packagez": "x"}},
            "run_config.spark.submit_args.packagez",
        ),
        (
            {
                "type": "custom",
                "operator_factory": "no_such_package.Factory",
                "resources": {"big": {}},
            },
            "cannot import module 'no_such_package'",
        ),
    ],
)
def test_plan_reports_backend_errors(make_project, cli, spark, message):
    result = cli(project_with(make_project, spark), "plan")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_compile_refuses_a_wrong_master_before_building_artifacts(make_project, cli):
    project = project_with(make_project, {**STANDALONE, "master": "yarn"})
    result = cli(project, "compile")
    assert result.exit_code == 2, result.output
    assert "run_config.spark.master is 'yarn'" in result.output
    assert not (project / "dags").exists()


def test_operator_factory_of_a_builtin_backend_must_extend_its_factory(make_project, cli):
    spark = {**STANDALONE, "operator_factory": "tests.factories.LocalCommandFactory"}
    result = cli(project_with(make_project, spark), "plan")
    assert result.exit_code == 2, result.output
    expected = f"{StandaloneFactory.__module__}.{StandaloneFactory.__qualname__}"
    assert f"is not a subclass of {expected}" in " ".join(result.output.split())


def test_a_subclass_of_the_builtin_factory_replaces_it(make_project, cli):
    spark = {**STANDALONE, "operator_factory": "tests.e2e_support.SparkSubmitWithLocalCluster"}
    project = project_with(make_project, spark)
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    source = next((project / "dags").glob("*.py")).read_text()
    assert "create_spark_cluster" in source and "SparkSubmitOperator(" in source
