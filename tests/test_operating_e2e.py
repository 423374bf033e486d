"""Operating the DAG in a real Airflow 3 on 127.0.0.1: trigger params, one-off runs, mail."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_server import AirflowServer, airflow  # noqa: F401 - session fixture
from conftest import ProjectFactory
from test_airflow_commands import ADMIN, expect, invoke, local_config

RECORDING_NODES = """
from kedro.pipeline import Pipeline, node


def first(note, model):
    return {"note": note, "model": model}


def second(received, note, layers):
    return {"note": note, "layers": layers, "first_saw": received["note"]}


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(first, ["params:note", "params:model"], "received_first", name="first"),
            node(
                second,
                ["received_first", "params:note", "params:model.layers"],
                "received_second",
                name="second",
            ),
        ]
    )
"""
RECORDING_CATALOG = {
    "received_first": {"type": "json.JSONDataset", "filepath": "data/received_first.json"},
    "received_second": {"type": "json.JSONDataset", "filepath": "data/received_second.json"},
}
PARAMETERS = {"note": "plain", "model": {"layers": [64, 32], "name": "base"}}
NASTY_NOTE = 'a b, c="d" = e\'f {x} ; $HOME \\n ünï'
NASTY_LAYERS = [1, [2, 3], {"k": "v, w=x", "empty": None, "flag": False}, 2.5]


def api(server: AirflowServer, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{server.url}/api/v2{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {server.token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def finished_run(server: AirflowServer, dag_id: str, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api(server, "GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(2)
    message = f"run {run_id} of {dag_id} unfinished after {timeout}s"
    raise AssertionError(f"{message}\n{server.log_tail()}")


def trigger(server: AirflowServer, dag_id: str, conf: dict[str, Any]) -> str:
    run = api(server, "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    return finished_run(server, dag_id, run["dag_run_id"])


def received(project: Path, name: str) -> Any:
    return json.loads((project / "data" / f"received_{name}.json").read_text())


@pytest.fixture(scope="module")
def recording_project(airflow: AirflowServer, tmp_path_factory) -> Path:  # noqa: F811
    """Two tasks that record the params Kedro gave them; the DAG waits for another DAG."""
    factory = ProjectFactory(tmp_path_factory.mktemp("operating"))
    config = local_config(
        airflow.url,
        airflow.dags_folder,
        trigger_params=["note", "model.layers"],
        external_dependencies=[{"dag_id": "upstream_never_runs", "timeout": 3600}],
    )
    project = factory(nodes=RECORDING_NODES, catalog=RECORDING_CATALOG, config=config)
    (project / "conf" / "base" / "parameters.yml").write_text(yaml.safe_dump(PARAMETERS))
    return project


@pytest.mark.e2e
def test_run_once_finishes_although_the_dag_waits_for_another_dag(
    recording_project: Path,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    output = expect(
        invoke(recording_project, "run-once", "--wait-for-completion", "5", env=ADMIN), 0, airflow
    )
    assert "upstream_never_runs" not in output
    assert "first: success" in output and "second: success" in output
    assert received(recording_project, "first") == {"note": "plain", "model": PARAMETERS["model"]}


@pytest.mark.e2e
def test_trigger_params_reach_every_task_exactly_as_typed(
    recording_project: Path,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    dag_id = recording_project.name
    state = trigger(airflow, dag_id, {"note": NASTY_NOTE, "model.layers": NASTY_LAYERS})

    assert state == "success", airflow.log_tail()
    assert received(recording_project, "first") == {
        "note": NASTY_NOTE,
        "model": {"layers": NASTY_LAYERS, "name": "base"},
    }
    assert received(recording_project, "second") == {
        "note": NASTY_NOTE,
        "layers": NASTY_LAYERS,
        "first_saw": NASTY_NOTE,
    }


@pytest.mark.e2e
def test_a_value_kedro_would_interpolate_is_refused_when_the_run_starts(
    recording_project: Path,
    airflow: AirflowServer,  # noqa: F811
) -> None:
    dag_id = recording_project.name
    before = received(recording_project, "first")

    state = trigger(airflow, dag_id, {"note": "${oc.env:HOME}"})

    assert state == "failed"
    assert received(recording_project, "first") == before, "no node ran with an altered value"
    logs = "\n".join(
        path.read_text(errors="replace")
        for path in (airflow.home / "logs").rglob("*.log")
        if f"dag_id={dag_id}" in str(path)
    )
    assert "trigger param note contains '$' followed by '{'" in logs


FAILING_NODES = """
from kedro.pipeline import Pipeline, node


def explode(frame):
    raise ValueError("this node fails on purpose")


def create_pipeline(**kwargs):
    return Pipeline([node(explode, "raw", "never_written", name="explode")])
"""


class Mailbox:
    """Messages an aiosmtpd server on 127.0.0.1 received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 180) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(1)
        return list(self.messages)


@pytest.fixture
def mailbox(airflow: AirflowServer) -> Any:  # noqa: F811
    """An SMTP server on 127.0.0.1 where the deployment's connection `kak_test_smtp` points."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=airflow.smtp_port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.mark.e2e
def test_a_failed_run_mails_the_dag_and_task_failure_notifications(
    mailbox: Mailbox,
    airflow: AirflowServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    mail = {"to": ["data-team@example.com"], "from_email": "airflow@example.com"}
    callbacks = {
        "dag": {
            "on_failure": {
                "smtp": {
                    **mail,
                    "smtp_conn_id": "kak_test_smtp",
                    "subject": "DAG {{ dag.dag_id }} failed",
                    "html_content": "Run {{ run_id }} failed.",
                }
            }
        },
        "tasks": {
            "on_failure": {
                "smtp": {
                    **mail,
                    "smtp_conn_id": "kak_test_smtp",
                    "subject": "Task {{ ti.task_id }} failed",
                    "html_content": "{{ exception }}",
                }
            }
        },
    }
    config = local_config(airflow.url, airflow.dags_folder, callbacks=callbacks)
    project = ProjectFactory(tmp_path)(
        nodes=FAILING_NODES,
        catalog={"raw": {"type": "pandas.CSVDataset", "filepath": "data/raw.csv"}},
        config=config,
    )
    (project / "data" / "raw.csv").write_text("x\n1\n")

    invoke(project, "run-once", "--wait-for-completion", "5", env=ADMIN)
    messages = mailbox.wait_for(2)

    subjects = sorted(message["Subject"] for message in messages)
    assert subjects == [f"DAG {project.name} failed", "Task explode failed"], airflow.log_tail()
    for message in messages:
        assert message["To"] == "data-team@example.com"
        assert message["From"] == "airflow@example.com"
    (task_mail,) = [m for m in messages if m["Subject"] == "Task explode failed"]
    assert "non-zero exit code 1" in task_mail.get_body().get_content(), "{{ exception }}"
