"""Publish a compiled DAG, wait until Airflow runs that exact version, trigger a run of it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from kedro_airflow_k8s.airflow_api import AirflowApi
from kedro_airflow_k8s.airflow_errors import ApiError
from kedro_airflow_k8s.build import CompiledDag
from kedro_airflow_k8s.dag_version import version_in_doc
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.project import KedroProject
from kedro_airflow_k8s.run_check import check_run, declared_task_ids
from kedro_airflow_k8s.run_follow import follow_run, run_ui_url

PARSE_TIMEOUT = 600.0  # new files are found every [dag_processor] refresh_interval (300 s default)
PARSE_POLL = 2.0

Echo = Callable[[str], Any]


@dataclass(frozen=True)
class ParsedVersion:
    """The DAG as Airflow knows it once it has stored the published source as its latest version."""

    dag: dict[str, Any]
    version_number: int


def check_permissions(api: AirflowApi, dag_id: str) -> None:
    """Refuse, naming what is missing, unless this user may unpause and trigger ``dag_id``."""
    api.check()  # wrong host or credentials fail here, with their own message
    missing = api.missing_permissions(dag_id)
    if missing:
        raise ApiError(
            f"Airflow at {api.settings.host} does not allow this user to "
            + " or to ".join(missing)
            + ". Nothing was built or published. Ask an Airflow admin for these permissions "
            "(the Op or Admin role has them), or use credentials of a user who has them",
            403,
        )


def wait_for_version(
    api: AirflowApi,
    compiled: CompiledDag,
    known_errors: set[tuple[Any, Any]],
    timeout: float = PARSE_TIMEOUT,
    echo: Echo = click.echo,
    sleep: Callable[[float], Any] = time.sleep,
    parsed_before: str | None = None,
) -> ParsedVersion:
    """Poll until Airflow's latest stored DAG version is ``compiled``; import errors stop the wait.

    New runs use the DAG's latest serialized version. Airflow parses a changed file
    within seconds but stores a new version at most every [core]
    min_serialized_dag_update_interval (30 s by default). ``GET /dags/{id}/details``
    serves the doc_md of that stored version, which names the DAG version, with its
    ``latest_dag_version`` (the dagVersions endpoints give numbers, not contents).
    ``known_errors`` are (id, timestamp) of import errors seen before publishing: those
    belong to an earlier version of the file; ``parsed_before`` is the DAG's
    last_parsed_time then, so a later one says the new file was parsed.
    """
    deadline = time.monotonic() + timeout
    asked_reparse = False
    seen = WaitState()
    echo(f"waiting for Airflow to parse DAG '{compiled.dag_id}' (version {compiled.version})")
    while True:
        details = api.dag_details(compiled.dag_id)
        if details is not None:
            seen.update(details, parsed_before)
            number = (details.get("latest_dag_version") or {}).get("version_number")
            if seen.version == compiled.version and number is not None:
                return ParsedVersion(details, int(number))
            if seen.parsed and not seen.said_parsed:
                seen.said_parsed = True
                echo(
                    "parsed; waiting for Airflow to store it as the DAG's latest version "
                    "(at most every [core] min_serialized_dag_update_interval, 30 s by default)"
                )
            if not asked_reparse and details.get("file_token"):
                asked_reparse = api.request_reparse(details["file_token"])
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


@dataclass
class WaitState:
    """What the wait has seen of the DAG in Airflow so far."""

    known: bool = False
    version: str | None = None
    parsed: bool = False
    said_parsed: bool = False

    def update(self, details: dict[str, Any], parsed_before: str | None) -> None:
        self.known = True
        self.version = version_in_doc(details.get("doc_md"))
        parsed_at = details.get("last_parsed_time")
        self.parsed = self.parsed or bool(parsed_at and parsed_at != parsed_before)

    def describe(self, dag_id: str) -> str:
        if not self.known:
            return f"it has no DAG '{dag_id}'"
        latest = f"version {self.version}" if self.version else "a version without one"
        if self.parsed:
            return f"it parsed the file but its latest stored version is still {latest}"
        return f"its latest stored version is {latest}"


def parse_timeout_message(
    api: AirflowApi,
    compiled: CompiledDag,
    seen: WaitState,
    errors: list[dict[str, Any]],
    timeout: float,
) -> str:
    message = (
        f"Airflow has not stored version {compiled.version} of DAG '{compiled.dag_id}' after "
        f"{timeout / 60:.0f} min ({seen.describe(compiled.dag_id)}); check that `output` is "
        f"the DAG folder this Airflow at {api.settings.host} reads and that its DAG processor "
        "runs (it looks for new files every [dag_processor] refresh_interval, 5 minutes by "
        "default)"
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
        echo(f"unpaused DAG '{dag_id}' (a run of a paused DAG waits until it is unpaused)")
    now = dt.datetime.now(dt.timezone.utc)
    run_id = f"kedro-airflow-k8s__{now.strftime('%Y-%m-%dT%H%M%S.%fZ')}"
    run = api.trigger(dag_id, run_id, now)
    echo(f"triggered run '{run['dag_run_id']}': {run_ui_url(api.settings.host, dag_id, run_id)}")
    return run


def run_once(
    api: AirflowApi,
    project: KedroProject,
    dag_name: str | None,
    output: str,
    wait_minutes: float | None,
    echo: Echo = click.echo,
    parse_timeout: float = PARSE_TIMEOUT,
) -> dict[str, Any]:
    """Check rights, publish, wait until Airflow runs this version, trigger, follow if asked."""
    from kedro_airflow_k8s.naming import dag_id_from
    from kedro_airflow_k8s.release import build_release, publish_release

    # Wrong host, credentials or rights fail before anything is built or written.
    check_permissions(api, dag_id_from(dag_name) if dag_name else project.dag_id)
    with build_release(project, dag_name) as release:
        compiled = release.compiled
        errors = api.import_errors(compiled.filename)
        known = {(e.get("import_error_id"), e.get("timestamp")) for e in errors}
        parsed_before = (api.dag(compiled.dag_id) or {}).get("last_parsed_time")
        url = publish_release(release, output, echo=echo)
    echo(f"published DAG '{compiled.dag_id}' to {url}")
    parsed = wait_for_version(
        api, compiled, known, timeout=parse_timeout, echo=echo, parsed_before=parsed_before
    )
    expected = declared_task_ids(compiled.source)
    run = trigger_run(api, parsed.dag, echo=echo)
    check_run(run, parsed.version_number, [], expected)
    if wait_minutes:
        run = follow_run(
            api,
            run,
            wait_minutes,
            echo=echo,
            version=parsed.version_number,
            expected_tasks=expected,
        )
    return run
