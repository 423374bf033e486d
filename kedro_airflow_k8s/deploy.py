"""Publish a compiled DAG, wait until Airflow has parsed that version, trigger and follow a run."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import click

from kedro_airflow_k8s.airflow_api import AirflowApi
from kedro_airflow_k8s.build import CompiledDag
from kedro_airflow_k8s.dag_version import version_in
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.project import KedroProject

PARSE_TIMEOUT = 600.0  # new files are found every [dag_processor] refresh_interval (300 s default)
PARSE_POLL = 2.0
RUN_POLL = 5.0
FINISHED = {"success", "failed"}

Echo = Callable[[str], Any]


def dag_ui_url(host: str, dag_id: str) -> str:
    return f"{host.rstrip('/')}/dags/{quote(dag_id, safe='')}"


def run_ui_url(host: str, dag_id: str, run_id: str) -> str:
    return f"{dag_ui_url(host, dag_id)}/runs/{quote(run_id, safe='')}"


def wait_for_version(
    api: AirflowApi,
    compiled: CompiledDag,
    known_errors: set[tuple[Any, Any]],
    timeout: float = PARSE_TIMEOUT,
    echo: Echo = click.echo,
    sleep: Callable[[float], Any] = time.sleep,
) -> dict[str, Any]:
    """Poll until Airflow's DAG carries ``compiled.version_tag``; import errors stop the wait.

    ``known_errors`` are (id, timestamp) of import errors seen before publishing: those
    belong to an earlier version of the file.
    """
    deadline = time.monotonic() + timeout
    asked_reparse = False
    seen: str | None = None
    echo(f"waiting for Airflow to parse DAG '{compiled.dag_id}' ({compiled.version_tag})")
    while True:
        dag = api.dag(compiled.dag_id)
        if dag is not None:
            seen = version_in(tag["name"] for tag in dag.get("tags", [])) or "no version tag"
            if seen == compiled.version_tag:
                return dag
            if not asked_reparse and dag.get("file_token"):
                asked_reparse = api.request_reparse(dag["file_token"])
        errors = api.import_errors(compiled.filename)
        fresh = [
            e for e in errors if (e.get("import_error_id"), e.get("timestamp")) not in known_errors
        ]
        if fresh:
            raise UserError(
                f"Airflow cannot import {compiled.filename}:\n{fresh[0].get('stack_trace', '')}\n"
                "Fix the cause (often a provider package missing from the Airflow image), "
                "then run again"
            )
        if time.monotonic() > deadline:
            raise UserError(parse_timeout_message(api, compiled, seen, errors, timeout))
        sleep(PARSE_POLL)


def parse_timeout_message(
    api: AirflowApi,
    compiled: CompiledDag,
    seen: str | None,
    errors: list[dict[str, Any]],
    timeout: float,
) -> str:
    found = f"it has {seen}" if seen else f"it has no DAG '{compiled.dag_id}'"
    message = (
        f"Airflow has not parsed {compiled.version_tag} of DAG '{compiled.dag_id}' after "
        f"{timeout / 60:.0f} min ({found}); check that `output` is the DAG folder this Airflow "
        f"at {api.settings.host} reads and that its DAG processor runs (it looks for new files "
        "every [dag_processor] refresh_interval, 5 minutes by default)"
    )
    if errors:
        message += f"\nAirflow reports this import error for {compiled.filename}:\n"
        message += str(errors[0].get("stack_trace", ""))
    return message


def trigger_run(api: AirflowApi, dag: dict[str, Any], echo: Echo = click.echo) -> dict[str, Any]:
    """Unpause the DAG if needed and start one run of it now."""
    dag_id = dag["dag_id"]
    if dag.get("is_paused"):
        api.unpause(dag_id)
        echo(f"unpaused DAG '{dag_id}'")
    now = dt.datetime.now(dt.timezone.utc)
    run_id = f"kedro-airflow-k8s__{now.strftime('%Y-%m-%dT%H%M%S.%fZ')}"
    run = api.trigger(dag_id, run_id, now)
    echo(f"triggered run '{run['dag_run_id']}': {run_ui_url(api.settings.host, dag_id, run_id)}")
    return run


def follow_run(
    api: AirflowApi,
    run: dict[str, Any],
    minutes: float,
    echo: Echo = click.echo,
    sleep: Callable[[float], Any] = time.sleep,
    poll: float = RUN_POLL,
) -> dict[str, Any]:
    """Wait for ``run`` to finish, echoing task states as they change; raise unless it succeeds."""
    dag_id, run_id = run["dag_id"], run["dag_run_id"]
    url = run_ui_url(api.settings.host, dag_id, run_id)
    deadline = time.monotonic() + minutes * 60
    states: dict[str, str] = {}
    while True:
        run = api.dag_run(dag_id, run_id)
        tasks = api.task_instances(dag_id, run_id)
        for task in tasks:
            state = task.get("state") or "no status"
            if states.get(task["task_id"]) != state:
                states[task["task_id"]] = state
                echo(f"  {task['task_id']}: {state}")
        if run.get("state") in FINISHED:
            break
        if time.monotonic() > deadline:
            raise UserError(
                f"run '{run_id}' of DAG '{dag_id}' is still {run.get('state')} after "
                f"{minutes:g} min; it goes on in Airflow: follow it at {url}"
            )
        sleep(poll)
    echo(task_table(tasks))
    if run.get("state") != "success":
        raise UserError(failure_message(api, run, tasks, url))
    echo(f"run '{run_id}' of DAG '{dag_id}' succeeded")
    return run


def task_table(tasks: list[dict[str, Any]]) -> str:
    rows = [("TASK", "STATE", "SECONDS")]
    for task in sorted(tasks, key=lambda t: t.get("start_date") or "~"):
        duration = task.get("duration")
        rows.append(
            (
                task["task_id"],
                task.get("state") or "no status",
                f"{duration:.1f}" if duration else "-",
            )
        )
    return format_table(rows)


def failure_message(
    api: AirflowApi, run: dict[str, Any], tasks: list[dict[str, Any]], url: str
) -> str:
    failed = [t for t in tasks if t.get("state") == "failed"]
    blocked = [t["task_id"] for t in tasks if t.get("state") == "upstream_failed"]
    lines = [
        f"run '{run['dag_run_id']}' of DAG '{run['dag_id']}' {run.get('state')}: "
        f"failed tasks: {', '.join(t['task_id'] for t in failed) or 'none'}"
        + (f"; not run because of them: {', '.join(blocked)}" if blocked else "")
    ]
    for task in failed:
        tail = api.log_tail(task)
        if tail:
            lines.append(f"--- last lines of the log of {task['task_id']} ---")
            lines += tail
    lines.append(f"Logs of every task: {url}")
    return "\n".join(lines)


def format_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def run_once(
    api: AirflowApi,
    project: KedroProject,
    dag_name: str | None,
    output: str,
    wait_minutes: float | None,
    echo: Echo = click.echo,
    parse_timeout: float = PARSE_TIMEOUT,
) -> dict[str, Any]:
    """Publish, wait for Airflow to parse this version, trigger, and follow the run if asked."""
    from kedro_airflow_k8s.release import build_release, publish_release

    api.check()  # wrong host or credentials fail before anything is built or written
    with build_release(project, dag_name) as release:
        compiled = release.compiled
        errors = api.import_errors(compiled.filename)
        known = {(e.get("import_error_id"), e.get("timestamp")) for e in errors}
        url = publish_release(release, output, echo=echo)
    echo(f"published DAG '{compiled.dag_id}' to {url}")
    dag = wait_for_version(api, compiled, known, timeout=parse_timeout, echo=echo)
    run = trigger_run(api, dag, echo=echo)
    if wait_minutes:
        run = follow_run(api, run, wait_minutes, echo=echo)
    return run


def pipelines_table(api: AirflowApi, only: set[str] | None = None) -> str:
    """Name, id, schedule, paused and last run of every DAG this plugin generated (of the
    DAG ids in ``only``, when given)."""
    from kedro_airflow_k8s.dag_version import PLUGIN_TAG_PREFIX

    rows = [("NAME", "DAG ID", "SCHEDULE", "PAUSED", "LAST RUN")]
    for dag in api.all_dags():
        if not any(tag["name"].startswith(PLUGIN_TAG_PREFIX) for tag in dag.get("tags", [])):
            continue
        if only is not None and dag["dag_id"] not in only:
            continue
        last = api.latest_run(dag["dag_id"])
        rows.append(
            (
                dag.get("dag_display_name") or dag["dag_id"],
                dag["dag_id"],
                dag.get("timetable_summary") or "None",
                "yes" if dag.get("is_paused") else "no",
                describe_run(last),
            )
        )
    if len(rows) == 1:
        return f"No DAGs generated by kedro-airflow-k8s at {api.settings.host}."
    return format_table(rows)


def describe_run(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never run"
    when = str(run.get("run_after") or run.get("start_date") or "")[:16].replace("T", " ")
    return f"{run.get('state')} ({when})" if when else str(run.get("state"))
