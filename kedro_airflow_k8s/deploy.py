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
from kedro_airflow_k8s.dag_version import version_in
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
) -> ParsedVersion:
    """Poll until Airflow's latest DAG version is ``compiled``; import errors stop the wait.

    The DAG's tags change on every parse, but new runs use the latest *serialized*
    version, which Airflow rewrites at most every [core] min_serialized_dag_update_interval
    (30 s by default), and it stores the file's source even when it keeps the older
    serialized DAG: the DAG doc of the serialized version must carry our version tag.
    ``known_errors`` are (id, timestamp) of import errors seen before publishing: those
    belong to an earlier version of the file.
    """
    deadline = time.monotonic() + timeout
    asked_reparse = False
    seen: str | None = None
    said_parsed = False
    dag_id, tag = compiled.dag_id, compiled.version_tag
    echo(f"waiting for Airflow to parse DAG '{dag_id}' ({tag})")
    while True:
        dag = api.dag(dag_id)
        if dag is not None:
            seen = version_in(tag["name"] for tag in dag.get("tags", [])) or "no version tag"
            if seen == tag:
                details = api.dag_details(dag_id) or {}
                number = (details.get("latest_dag_version") or {}).get("version_number")
                if number is not None and tag in str(details.get("doc_md") or ""):
                    return ParsedVersion(dag, int(number))
                if not said_parsed:
                    said_parsed = True
                    echo(
                        "parsed; waiting for Airflow to store it as the DAG's latest version "
                        "(at most every [core] min_serialized_dag_update_interval, 30 s by default)"
                    )
            elif not asked_reparse and dag.get("file_token"):
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
    if seen == compiled.version_tag:
        found = "it parsed the file but has not made it the DAG's latest version"
    else:
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
        url = publish_release(release, output, echo=echo)
    echo(f"published DAG '{compiled.dag_id}' to {url}")
    parsed = wait_for_version(api, compiled, known, timeout=parse_timeout, echo=echo)
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
