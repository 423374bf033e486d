"""run_config.trigger_params: Airflow Params with the project's defaults and JSON types."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from kedro_airflow_k8s.trigger_params import LAUNCHER
from tests.conftest import DEFAULT_CONFIG, compiled, pod_env
from tests.spark_projects import restore_environ  # noqa: F401 - autouse: Spark DAGs set env vars

PARAMETERS = """
note: plain text
model:
  layers: [64, 32]
  rate: 0.1
  options: {early_stop: true}
  name: null
epochs: 3
"""
NAMES = ["note", "model.layers", "model.rate", "model.options", "model.name", "epochs"]


def project_with(make_project, **run_config):
    config = {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], **run_config}}
    project = make_project(config=config)
    (project / "conf" / "base" / "parameters.yml").write_text(PARAMETERS)
    return project


def test_each_trigger_param_is_an_airflow_param_with_default_and_type(make_project, cli):
    dag = compiled(cli, project_with(make_project, trigger_params=NAMES))
    params = {name: dag.params.get_param(name) for name in NAMES}
    assert {name: param.value for name, param in params.items()} == {
        "note": "plain text",
        "model.layers": [64, 32],
        "model.rate": 0.1,
        "model.options": {"early_stop": True},
        "model.name": None,
        "epochs": 3,
    }
    types = {name: param.schema.get("type") for name, param in params.items()}
    assert types == {
        "note": "string",
        "model.layers": "array",
        "model.rate": "number",
        "model.options": "object",
        "model.name": None,
        "epochs": "integer",
    }


def test_pods_run_kedro_through_the_launcher_with_the_runs_values(make_project, cli):
    dag = compiled(cli, project_with(make_project, trigger_params=["note", "epochs"]))
    for task in dag.tasks:
        assert task.cmds == ["python", "-c", LAUNCHER]
        assert task.arguments[0] == "run"
        env = pod_env(task)
        template = env["KEDRO_AIRFLOW_K8S_TRIGGER_PARAMS"]
        assert template == '{{ {"note": params["note"], "epochs": params["epochs"]} | tojson }}'


def test_local_tasks_run_kedro_through_the_launcher(make_project, cli):
    project = project_with(
        make_project,
        trigger_params=["note"],
        node_runner="local",
        local_runner={"kedro_command": "/opt/venv/bin/kedro"},
    )
    dag = compiled(cli, project)
    for task in dag.tasks:
        assert task.bash_command.startswith(
            '/opt/venv/bin/python -c "$KEDRO_WITH_TRIGGER_PARAMS" run'
        )
        assert task.env["KEDRO_WITH_TRIGGER_PARAMS"] == LAUNCHER


def test_unknown_trigger_param_names_the_missing_key(make_project, cli):
    project = project_with(make_project, trigger_params=["model.depth"])
    result = cli(project, "compile")
    assert result.exit_code == 2
    assert "names 'model.depth', but 'model' has no 'depth'" in result.output
    assert not (project / "dags").exists() or not list((project / "dags").glob("*.py"))


def test_a_param_cannot_be_both_a_trigger_and_a_macro_param():
    config = {
        **DEFAULT_CONFIG,
        "run_config": {
            **DEFAULT_CONFIG["run_config"],
            "trigger_params": ["run_date"],
            "macro_params": ["run_date"],
        },
    }
    with pytest.raises(ConfigError, match="trigger_params run_date also in macro_params"):
        parse_config(config)


def test_spark_entry_script_takes_the_trigger_params_as_typed():
    import json

    from kedro_airflow_k8s.artifacts import render_entry_script

    namespace: dict = {}
    exec(render_entry_script("demo"), namespace)  # noqa: S102 - our own generated script
    merge = namespace["trigger_params"]
    given = {"note": "a b, c=\"d\" = 'e'", "model.layers": [1, {"k": "v, w"}]}
    merged = merge(json.dumps(given), {"model": {"layers": [0], "name": "base"}, "ds": "x"})
    assert merged == {
        "note": given["note"],
        "model": {"layers": given["model.layers"], "name": "base"},
        "ds": "x",
    }
    with pytest.raises(ValueError, match=r"trigger param model\.name contains '\$\{'"):
        merge(json.dumps({"model.name": "${oc.env:HOME}"}), {})


def test_spark_tasks_receive_the_runs_trigger_params(make_project):
    import json

    from tests.spark_projects import SIMPLE_CATALOG, SIMPLE_NODES, compile_to, config, load_dag
    from tests.spark_projects import task_id_of as spark_task_id

    spark = {"type": "standalone", "resources": {"big": {"driver_memory": "2g"}}}
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config(spark, trigger_params=["note", "model.layers"], macro_params=["ds"]),
    )
    (project / "conf" / "base" / "parameters.yml").write_text(PARAMETERS)
    folder, compiled = compile_to(project, artifacts={"entry": "/srv/spark_run.py"})
    dag = load_dag(folder, compiled.dag_id)
    task = dag.get_task(spark_task_id(compiled, "score"))

    values = {"note": "x, y = 'z'", "model.layers": [[1, 2], {"a": None}]}
    context = {"params": values, "ds": "2025-01-31"}
    args = task.render_template(task.application_args, context, dag.get_template_env())

    assert json.loads(args[args.index("--trigger-params") + 1]) == values
    assert args[args.index("--params") + 1] == "ds=2025-01-31"
