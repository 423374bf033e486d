"""Follow a triggered run to its end: task states, outages of the API, the failure report."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import click

from kedro_airflow_k8s.airflow_api import AirflowApi
from kedro_airflow_k8s.airflow_errors import ApiError
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.run_check import check_run

RUN_POLL = 5.0
FINISHED = {"success", "failed"}
LOG_LINES = 20
# Spark's own INFO/DEBUG lines (log4j "yy/MM/dd HH:mm:ss LEVEL Logger: ..."), mostly the
# shutdown hook's, bury the error at the end of a failed Spark task's log.
SPARK_CHATTER = re.compile(r"^\s*\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (INFO|DEBUG|TRACE) ")

Echo = Callable[[str], Any]


def dag_ui_url(host: str, dag_id: str) -> str:
    return f"{host.rstrip('/')}/dags/{quote(dag_id, safe='')}"


def run_ui_url(host: str, dag_id: str, run_id: str) -> str:
    return f"{dag_ui_url(host, dag_id)}/runs/{quote(run_id, safe='')}"


class RunFollower:
    """Polls one run, echoing what changes; knows the DAG version the run must use."""

    def __init__(
        self,
        api: AirflowApi,
        run: dict[str, Any],
        version: int | None = None,
        expected_tasks: set[str] | None = None,
        echo: Echo = click.echo,
    ) -> None:
        self.api = api
        self.run = run
        self.dag_id, self.run_id = run["dag_id"], run["dag_run_id"]
        self.url = run_ui_url(api.settings.host, self.dag_id, self.run_id)
        self.version = version
        self.expected_tasks = expected_tasks
        self.echo = echo
        self.said: dict[str, str] = {}
        self.outage_since: float | None = None
        self._retry_settings: dict[str, tuple[float, bool]] | None = None

    def poll(self) -> list[dict[str, Any]]:
        """Read the run and its tasks once and echo changes; the task instances."""
        self.run = self.api.dag_run(self.dag_id, self.run_id)
        tasks = self.api.task_instances(self.dag_id, self.run_id)
        if self.version is not None:
            check_run(self.run, self.version, tasks, self.expected_tasks)
        if self.run.get("state") == "queued":
            # Its tasks exist from the start, all without a state: the run's reason says more.
            self.say("run", f"run is queued ({self.queue_reason()})")
            return tasks
        for task in tasks:
            self.say(task["task_id"], describe_task(task, self.retry_settings))
        return tasks

    def say(self, key: str, text: str) -> None:
        if self.said.get(key) != text:
            self.said[key] = text
            self.echo(f"  {text}" if key == "run" else f"  {key}: {text}")

    def queue_reason(self) -> str:
        dag = self.api.dag(self.dag_id) or {}
        limit = dag.get("max_active_runs")
        running = self.api.runs(self.dag_id, ("running",), limit=10)
        if limit and len(running) >= limit:
            names = ", ".join(r["dag_run_id"] for r in running)
            return f"max_active_runs={limit}, waiting for {names}"
        if dag.get("is_paused"):
            return "the DAG is paused"
        return "waiting for the scheduler"

    def retry_settings(self, task_id: str) -> tuple[float, bool] | None:
        """(retry delay in seconds, exponential?) of ``task_id``, read once per run."""
        if self._retry_settings is None:
            self._retry_settings = {}
            try:
                for task in self.api.tasks(self.dag_id):
                    delay = seconds_of(task.get("retry_delay"))
                    if delay is not None:
                        exponential = bool(task.get("retry_exponential_backoff"))
                        self._retry_settings[task["task_id"]] = (delay, exponential)
            except ApiError:
                pass  # the retry time is a courtesy; the state is still shown
        return self._retry_settings.get(task_id)

    def lost(self, error: ApiError, deadline: float) -> None:
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            left = max(0.0, deadline - time.monotonic()) / 60
            self.echo(
                f"Airflow's API at {self.api.settings.host} does not answer ({error}). The run "
                f"goes on in Airflow: {self.url}. Following it again if the API answers within "
                f"{left:.1f} min"
            )

    def regained(self) -> None:
        if self.outage_since is not None:
            gone = time.monotonic() - self.outage_since
            self.outage_since = None
            self.echo(f"Airflow's API answers again after {gone:.0f}s; following the run")


def follow_run(
    api: AirflowApi,
    run: dict[str, Any],
    minutes: float,
    echo: Echo = click.echo,
    sleep: Callable[[float], Any] = time.sleep,
    poll: float | None = None,
    version: int | None = None,
    expected_tasks: set[str] | None = None,
) -> dict[str, Any]:
    """Wait for ``run`` to finish, echoing task states as they change; raise unless it succeeds.

    Where ``version`` is given, the run must use that DAG version and hold
    ``expected_tasks``. An API outage does not end the wait: following resumes when
    the API answers again before the deadline.
    """
    follower = RunFollower(api, run, version, expected_tasks, echo)
    deadline = time.monotonic() + minutes * 60
    tasks: list[dict[str, Any]] = []
    while True:
        try:
            tasks = follower.poll()
        except ApiError as error:
            if not error.is_outage:
                raise
            follower.lost(error, deadline)
        else:
            follower.regained()
            if follower.run.get("state") in FINISHED:
                break
        if time.monotonic() > deadline:
            raise UserError(still_going_message(follower, minutes))
        sleep(poll or RUN_POLL)
    run = follower.run
    echo(task_table(tasks))
    if run.get("state") != "success":
        raise UserError(failure_message(api, run, tasks, follower.url))
    echo(f"run '{follower.run_id}' of DAG '{follower.dag_id}' succeeded")
    return run


def still_going_message(follower: RunFollower, minutes: float) -> str:
    where = f"run '{follower.run_id}' of DAG '{follower.dag_id}'"
    if follower.outage_since is not None:
        return (
            f"Airflow's API at {follower.api.settings.host} did not answer again within "
            f"{minutes:g} min; {where} goes on in Airflow regardless: follow it at {follower.url}"
        )
    return (
        f"{where} is still {follower.run.get('state')} after {minutes:g} min; it goes on in "
        f"Airflow: follow it at {follower.url}"
    )


def seconds_of(value: Any) -> float | None:
    """Seconds of a duration as the API gives it: a number or a TimeDelta object."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return (
            float(value.get("days", 0)) * 86400
            + float(value.get("seconds", 0))
            + float(value.get("microseconds", 0)) / 1e6
        )
    return None


def describe_task(
    task: dict[str, Any], retry_settings: Callable[[str], tuple[float, bool] | None]
) -> str:
    state = task.get("state") or "no status"
    if state != "up_for_retry":
        return state
    tries = int(task.get("try_number") or 1)
    total = int(task.get("max_tries") or 0) + 1
    text = f"up_for_retry (try {tries} of {total} failed"
    settings = retry_settings(task["task_id"])
    ended = parse_time(task.get("end_date"))
    if settings and ended:
        delay, exponential = settings
        when = (ended + dt.timedelta(seconds=delay)).strftime("%H:%M:%S UTC")
        text += f"; next try {'not before' if exponential else 'at'} {when}"
    return text + ")"


def parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


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


def log_tail(api: AirflowApi, task: dict[str, Any], lines: int = LOG_LINES) -> list[str]:
    """The last ``lines`` lines of a task's log that say something; empty if unreadable.

    Airflow's own group markers and Spark's INFO chatter are left out.
    """
    try:
        content = api.log(task)
    except ApiError:
        return []
    text = []
    for item in content:
        if isinstance(item, dict):
            event = str(item.get("event", ""))
            level = str(item.get("level") or "info")
            if level != "info":
                event = f"[{level}] {event}"
            text.append(event)
        else:
            text.append(str(item))
    kept = [line for line in text if not line.startswith("::") and not SPARK_CHATTER.match(line)]
    return kept[-lines:]


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
        tail = log_tail(api, task)
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
