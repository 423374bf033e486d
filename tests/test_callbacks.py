"""run_config.callbacks: notifiers and callables at DAG and task level, checked at compile."""

from __future__ import annotations

import ast

import pytest

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError
from tests.conftest import DEFAULT_CONFIG, load_dagbag

MAIL = {"to": ["data-team@example.com"], "subject": "{{ dag.dag_id }} failed"}


def config_with(**run_config):
    return {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], **run_config}}


def compile_result(cli, project):
    return cli(project, "compile")


def compiled(cli, project):
    result = compile_result(cli, project)
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    source = (project / "dags" / f"{project.name}.py").read_text()
    return bag.dags[project.name], source


def test_smtp_shorthand_notifies_on_dag_failure(make_project, cli):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    project = make_project(config=config_with(callbacks={"dag": {"on_failure": {"smtp": MAIL}}}))
    dag, _ = compiled(cli, project)
    (notifier,) = dag.on_failure_callback
    assert isinstance(notifier, SmtpNotifier)
    assert notifier.to == ["data-team@example.com"]
    assert notifier.subject == "{{ dag.dag_id }} failed", "notifier text stays a template"
    assert not dag.on_success_callback


def test_task_callbacks_reach_every_task(make_project, cli):
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    callbacks = {
        "tasks": {
            "on_retry": [{"slack_webhook": {"text": "retrying {{ ti.task_id }}"}}],
            "on_execute": {"callable": "logging.info", "kwargs": {"msg": "starting"}},
        }
    }
    dag, source = compiled(cli, make_project(config=config_with(callbacks=callbacks)))
    for task in dag.tasks:
        (retry,) = task.on_retry_callback
        assert isinstance(retry, SlackWebhookNotifier)
        (execute,) = task.on_execute_callback
        assert execute.func.__name__ == "info" and execute.keywords == {"msg": "starting"}
        assert not task.on_failure_callback
    imports = {ast.unparse(n) for n in ast.parse(source).body if isinstance(n, ast.ImportFrom)}
    assert "from logging import info" in imports
    assert not any("smtp" in line for line in imports), "only what is configured is imported"


def test_unknown_notifier_argument_names_the_key(make_project, cli):
    callbacks = {"dag": {"on_failure": [{"smtp": {**MAIL, "recipients": ["x@example.com"]}}]}}
    project = make_project(config=config_with(callbacks=callbacks))
    result = compile_result(cli, project)
    assert result.exit_code == 2
    assert "run_config.callbacks.dag.on_failure[0].smtp" in result.output
    assert "SmtpNotifier takes no argument 'recipients'" in result.output


def test_a_callable_that_does_not_import_is_named(make_project, cli):
    callbacks = {"tasks": {"on_failure": {"callable": "no_such_package.alerts.page"}}}
    result = compile_result(cli, make_project(config=config_with(callbacks=callbacks)))
    assert result.exit_code == 2
    assert "run_config.callbacks.tasks.on_failure[0].callable" in result.output
    assert "cannot import 'no_such_package.alerts.page'" in result.output


@pytest.mark.parametrize(
    ("callbacks", "message"),
    [
        ({"dag": {"on_retry": {"smtp": MAIL}}}, r"callbacks\.dag\.on_retry: unknown key"),
        ({"dag": {"on_failure": {"smtp": MAIL, "callable": "a.b"}}}, "exactly one of"),
        ({"tasks": {"on_failure": {"smtp": MAIL, "kwargs": {"x": 1}}}}, "'kwargs' goes with"),
    ],
)
def test_malformed_callbacks_are_refused(callbacks, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(config_with(callbacks=callbacks))
