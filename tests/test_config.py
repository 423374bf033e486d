"""Config validation: every mistake names its key path and says what to do."""

from __future__ import annotations

import json

import pytest
import yaml

from kedro_airflow_k8s.config import PluginConfig, json_schema, parse_config
from kedro_airflow_k8s.errors import ConfigError
from kedro_airflow_k8s.init_config import initial_config


def base() -> dict:
    return {"run_config": {"image": "img:1", "namespace": "ns"}}


def with_run(**values) -> dict:
    config = base()
    config["run_config"].update(values)
    return config


MALFORMED = [
    pytest.param(
        {"run_config": {"imgae": "x", "namespace": "n"}},
        ["run_config.imgae", "did you mean 'image'", "run_config.image"],
        id="misspelt-image",
    ),
    pytest.param(
        {"run_config": {"namespace": "n"}}, ["run_config.image", "required"], id="missing-image"
    ),
    pytest.param(
        {"run_config": {"image": "i"}}, ["run_config.namespace", "required"], id="missing-namespace"
    ),
    pytest.param({"hots": "x", **base()}, ["hots", "did you mean 'host'"], id="misspelt-host"),
    pytest.param({"host": "x"}, ["run_config", "required"], id="missing-run-config"),
    pytest.param(
        with_run(retries="many"), ["run_config.retries", "'many'", "integer"], id="retries-not-int"
    ),
    pytest.param(
        with_run(retries=-1), ["run_config.retries", "greater than or equal"], id="negative-retries"
    ),
    pytest.param(with_run(max_active_runs=0), ["run_config.max_active_runs"], id="zero-runs"),
    pytest.param(
        with_run(catchup="perhaps"), ["run_config.catchup", "'perhaps'"], id="catchup-not-bool"
    ),
    pytest.param(
        with_run(image_pull_policy="Sometimes"),
        ["run_config.image_pull_policy", "'Always'"],
        id="bad-pull-policy",
    ),
    pytest.param(
        with_run(node_runner="docker"),
        ["run_config.node_runner", "'kubernetes'"],
        id="bad-node-runner",
    ),
    pytest.param(
        with_run(cron_expression="every day"),
        ["run_config.cron_expression", "not a cron expression"],
        id="bad-cron",
    ),
    pytest.param(
        with_run(start_date="yesterday"),
        ["run_config.start_date", "'yesterday'"],
        id="bad-start-date",
    ),
    pytest.param(
        with_run(resources={"__default__": {"request": {"cpu": 1}}}),
        ["run_config.resources.__default__.request", "did you mean 'requests'"],
        id="misspelt-requests",
    ),
    pytest.param(
        with_run(resources={"big": {"tolerations": [{"effect": "Never"}]}}),
        ["run_config.resources.big.tolerations[0].effect"],
        id="bad-toleration",
    ),
    pytest.param(
        with_run(secrets=[{"secret": "s", "deploy_type": "volume"}]),
        ["run_config.secrets[0]", "deploy_target"],
        id="volume-secret-no-path",
    ),
    pytest.param(
        with_run(secrets=[{"deploy_type": "env"}]),
        ["run_config.secrets[0].secret", "required"],
        id="secret-without-name",
    ),
    pytest.param(
        with_run(spark={"type": "emr"}),
        ["run_config.spark.type", "'dataproc'"],
        id="unknown-spark-type",
    ),
    pytest.param(
        with_run(spark={"type": "custom"}),
        ["run_config.spark", "operator_factory"],
        id="custom-without-factory",
    ),
    pytest.param(
        with_run(spark={"type": "custom", "operator_factory": "not a path"}),
        ["run_config.spark.operator_factory", "dotted path"],
        id="bad-factory-path",
    ),
    pytest.param(
        with_run(spark={"group_spark_node": False}),
        ["run_config.spark.group_spark_node", "did you mean 'group_spark_nodes'"],
        id="misspelt-group-switch",
    ),
    pytest.param(
        with_run(macro_params=["ds", "not valid!"]),
        ["run_config.macro_params", "'not valid!'"],
        id="bad-macro-param",
    ),
    pytest.param(
        with_run(external_dependencies=[{"task_id": "t"}]),
        ["run_config.external_dependencies[0].dag_id", "required"],
        id="dep-no-dag",
    ),
    pytest.param(
        with_run(kubernetes_pod_templates={"x": {}}),
        ["run_config.kubernetes_pod_templates.x", "exactly one"],
        id="empty-template",
    ),
    pytest.param(
        with_run(env_vars=["A-B"]),
        ["run_config.env_vars", "letters, digits and underscores"],
        id="env-vars-list-bad-name",
    ),
    pytest.param(["not", "a", "mapping"], ["must be a mapping"], id="not-a-mapping"),
    pytest.param({}, ["missing or empty", "kedro airflow-k8s init"], id="empty"),
]


@pytest.mark.parametrize(("raw", "expected"), MALFORMED)
def test_malformed_config_names_the_key(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    message = str(info.value)
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize(("raw", "expected"), MALFORMED[:18])
def test_malformed_config_fails_compile_without_dag(raw, expected, make_project, cli):
    project = make_project(config=raw if raw else "")
    result = cli(project, "compile")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert expected[0] in result.output
    assert not (project / "dags").exists()


def test_minimal_config_has_sensible_defaults():
    config = parse_config(base())
    run = config.run_config
    assert run.node_runner == "kubernetes"
    assert run.spark.type == "none" and run.spark.group_spark_nodes
    assert run.group_memory_nodes and run.retries == 0 and run.cron_expression is None


def test_quantities_and_comma_lists_are_normalised():
    config = parse_config(
        with_run(
            image_pull_secrets="a, b",
            resources={"__default__": {"requests": {"cpu": 1, "memory": 1.5}}},
        )
    )
    assert config.run_config.image_pull_secrets == ["a", "b"]
    assert config.run_config.resources["__default__"].requests == {"cpu": "1", "memory": "1.5"}


def test_overrides_apply_before_validation():
    config = parse_config(
        {"run_config": {"namespace": "n"}}, overrides={"run_config.image": "cli:1"}
    )
    assert config.run_config.image == "cli:1"


def test_schema_is_json_schema_of_models(make_project, cli):
    schema = json_schema()
    assert schema["properties"]["run_config"]
    project = make_project()
    result = cli(project, "schema")
    assert result.exit_code == 0
    assert json.loads(result.output) == schema
    assert schema == {**PluginConfig.model_json_schema(), "title": schema["title"]}


def test_initial_config_validates_as_written():
    text = initial_config("my_pkg", "https://airflow.example.com", "gs://bucket/dags")
    raw = yaml.safe_load(text)
    config = parse_config(raw)
    assert config.host == "https://airflow.example.com"
    assert config.output == "gs://bucket/dags"
    assert config.run_config.image == "my_pkg:latest"
    assert text.count("#") > 20


def test_initial_config_quotes_odd_urls():
    text = initial_config("p", 'http://h/"x": #y', "dags/ with space")
    config = parse_config(yaml.safe_load(text))
    assert config.host == 'http://h/"x": #y'


def test_init_command_refuses_to_overwrite(make_project, cli):
    project = make_project()
    target = project / "conf" / "base" / "airflow-k8s.yml"
    target.unlink()
    result = cli(project, "init", "https://airflow.example.com", "--output", "gs://b/dags")
    assert result.exit_code == 0, result.output
    written = target.read_text()
    assert "gs://b/dags" in written
    target.write_text(written + "\n# mine\n")
    result = cli(project, "init", "https://other")
    assert result.exit_code != 0 and "--force" in result.output
    assert target.read_text().endswith("# mine\n")
    result = cli(project, "init", "https://other", "--force")
    assert result.exit_code == 0
    assert "https://other" in target.read_text()
    assert cli(project, "compile").exit_code == 0


def test_start_date_in_the_earlier_plugins_compact_form():
    assert str(parse_config(with_run(start_date="20210721")).run_config.start_date) == "2021-07-21"
