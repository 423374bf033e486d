"""run_config.spark: one section per backend, chosen by `type`, and what an env switch keeps."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from kedro_airflow_k8s.spark_config import (
    BACKEND_MODELS,
    CustomSparkConfig,
    DataprocConfig,
    KubernetesSparkConfig,
    NoSparkConfig,
    SparkApplicationConfig,
    SparkCommonConfig,
    StandaloneConfig,
    with_env_section,
)
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    config,
    restore_environ,  # noqa: F401 - autouse fixture
)


def spark_of(spark: dict):
    return parse_config(config(spark)).run_config.spark


def refusal(spark: dict) -> str:
    with pytest.raises(ConfigError) as info:
        spark_of(spark)
    return str(info.value)


@pytest.mark.parametrize(
    ("spark", "model"),
    [
        ({}, NoSparkConfig),
        ({"type": "none"}, NoSparkConfig),
        ({"type": "dataproc"}, DataprocConfig),
        ({"type": "k8s", "master": "k8s://https://api:6443"}, KubernetesSparkConfig),
        ({"type": "kubernetes", "master": "k8s://https://api:6443"}, KubernetesSparkConfig),
        ({"type": "standalone", "master": "local[2]"}, StandaloneConfig),
        ({"type": "custom", "operator_factory": "pkg.mod.Factory"}, CustomSparkConfig),
    ],
)
def test_type_selects_the_backend_model(spark, model):
    assert type(spark_of(spark)) is model


def test_kubernetes_is_the_k8s_backend():
    assert spark_of({"type": "kubernetes"}).backend == "k8s"


def test_dataproc_section_with_other_backends_keys_is_refused_naming_each_key():
    message = refusal(
        {"type": "dataproc", "master": "spark://m:7077", "conn_id": "spark", "spark_operator": {}}
    )
    assert "run_config.spark.master: belongs to the k8s, standalone backends" in message
    assert "run_config.spark.conn_id: belongs to the k8s, standalone backends" in message
    assert "run_config.spark.spark_operator: belongs to the spark-operator backend" in message
    assert "not to type 'dataproc'" in message


@pytest.mark.parametrize(
    ("spark", "key", "owners"),
    [
        ({"type": "standalone", "image": "spark:4"}, "image", "k8s, spark-operator"),
        ({"type": "standalone", "cluster_config": {}}, "cluster_config", "dataproc"),
        ({"type": "k8s", "dataproc": {"region": "x"}}, "dataproc", "dataproc"),
        ({"type": "spark-operator", "master": "k8s://x"}, "master", "k8s, standalone"),
        ({"type": "none", "artifacts_path": "gs://b/a"}, "artifacts_path", "dataproc, k8s"),
        ({"type": "dataproc", "options": {}}, "options", "custom"),
    ],
)
def test_a_key_of_another_backend_names_the_backends_it_belongs_to(spark, key, owners):
    message = refusal(spark)
    assert f"run_config.spark.{key}: belongs to the {owners}" in message


def test_custom_factory_settings_go_under_options():
    message = refusal({"type": "custom", "operator_factory": "a.B", "cluster_config": {"x": 1}})
    assert "run_config.spark.cluster_config: belongs to the dataproc backend" in message
    assert "move it under run_config.spark.options" in message
    spark = spark_of({"type": "custom", "operator_factory": "a.B", "options": {"x": [1, 2]}})
    assert spark.options == {"x": [1, 2]}


def test_a_key_no_backend_has_is_still_a_typo():
    message = refusal({"type": "k8s", "mastr": "k8s://x"})
    assert "run_config.spark.mastr: unknown key; did you mean 'master'?" in message


def test_nested_key_errors_name_the_path_without_the_backend():
    message = refusal({"type": "dataproc", "dataproc": {"regoin": "x"}})
    assert "run_config.spark.dataproc.regoin: unknown key; did you mean 'region'?" in message


def test_unknown_type_lists_the_backends():
    message = refusal({"type": "emr"})
    assert "run_config.spark.type:" in message
    assert "'spark-operator'" in message and "(got 'emr')" in message


def test_standalone_refuses_cluster_mode():
    message = refusal({"type": "standalone", "deploy_mode": "cluster"})
    assert "run_config.spark.deploy_mode: Spark standalone runs Python applications" in message


def test_every_backend_shares_the_common_keys():
    common = set(SparkCommonConfig.model_fields)
    application = set(SparkApplicationConfig.model_fields)
    for name, model in BACKEND_MODELS.items():
        assert common <= set(model.model_fields), name
        if name != "none":
            assert application <= set(model.model_fields), name


def test_schema_has_one_variant_per_backend():
    from kedro_airflow_k8s.config import json_schema

    schema = json_schema()
    spark = schema["$defs"]["RunConfig"]["properties"]["spark"]
    variants = spark.get("oneOf") or spark.get("anyOf")
    assert len(variants) == len(BACKEND_MODELS)


# -- environments -----------------------------------------------------------------------------

STANDALONE_BASE = {
    "type": "standalone",
    "master": "local[2]",
    "python": "/home/me/project/.venv/bin/python",
    "project_path": "/home/me/project",
    "tags": ["spark"],
}


def merged(base: dict, env: dict) -> dict:
    """What Kedro's soft merge gives for run_config.spark."""
    combined = dict(base)
    for key, value in env.items():
        if isinstance(value, dict) and isinstance(combined.get(key), dict):
            combined[key] = {**combined[key], **value}
        else:
            combined[key] = value
    return {"run_config": {"spark": combined}}


def test_env_that_changes_type_starts_the_section_afresh():
    env = {"type": "dataproc", "artifacts_path": "gs://b/a"}
    result = with_env_section(merged(STANDALONE_BASE, env), STANDALONE_BASE, env)
    assert result["run_config"]["spark"] == env


def test_env_with_the_same_type_merges_key_by_key():
    env = {"type": "standalone", "master": "spark://m:7077"}
    result = with_env_section(merged(STANDALONE_BASE, env), STANDALONE_BASE, env)
    assert result["run_config"]["spark"] == {**STANDALONE_BASE, "master": "spark://m:7077"}


def test_env_without_type_merges_key_by_key():
    env = {"conf": {"spark.ui.enabled": "false"}}
    result = with_env_section(merged(STANDALONE_BASE, env), STANDALONE_BASE, env)
    assert result["run_config"]["spark"] == {**STANDALONE_BASE, **env}


def test_env_switch_keeps_resolved_values_and_only_the_envs_nested_keys():
    base = {"type": "dataproc", "conf": {"a": "1"}}
    env = {"type": "standalone", "conf": {"b": "${oc.env:B}"}}
    soft = {"run_config": {"spark": {"type": "standalone", "conf": {"a": "1", "b": "resolved"}}}}
    result = with_env_section(soft, base, env)
    assert result["run_config"]["spark"] == {"type": "standalone", "conf": {"b": "resolved"}}


def test_dataproc_env_over_a_standalone_base_leaks_no_local_path(make_project, tmp_path):
    """The case of the issue: conf/base runs standalone with this machine's interpreter and
    project folder; conf/dataproc switches to Dataproc. Nothing local reaches the DAG."""
    from kedro_airflow_k8s.build import compile_project
    from kedro_airflow_k8s.project import load_project

    base = config({**STANDALONE_BASE, "python": str(tmp_path / "venv" / "bin" / "python")})
    dataproc = {
        "run_config": {
            "spark": {
                "type": "dataproc",
                "artifacts_path": "gs://bucket/artifacts",
                "resources": {"big": {}},
            }
        }
    }
    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=base, env_config={"dataproc": dataproc}
    )
    loaded = load_project(project, env="dataproc")
    spark = loaded.config.run_config.spark
    assert isinstance(spark, DataprocConfig)
    assert spark.python is None and spark.project_path is None and spark.tags == []
    artifacts = {
        "entry": "gs://bucket/artifacts/v1/spark_run.py",
        "init": "gs://bucket/artifacts/v1/init.sh",
    }
    source = compile_project(loaded, artifacts=artifacts).source
    assert str(tmp_path) not in source
    assert "/home/me" not in source
    assert "spark.pyspark.python" not in source
