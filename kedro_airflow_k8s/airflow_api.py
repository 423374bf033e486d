"""Talks to the Airflow 3 REST API (v2) over HTTP: authentication, retries, the calls we need.

Plain urllib3 and JSON: importing apache-airflow-client's models costs more than a
command like `list-pipelines` should take, and a client newer than the server (fields
added in later 3.x releases) must still work.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from kedro_airflow_k8s.airflow_errors import (
    ApiError,
    HttpError,
    error_detail,
    explain,
    is_retryable,
    with_retries,
)
from kedro_airflow_k8s.airflow_settings import TOKEN_ENV, ApiSettings

REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read
PAGE_SIZE = 100
NOT_A_BODY: list[Any] = []  # a body no endpoint accepts: probes permissions, never acts
FINISHED_STATES = ("success", "failed")


def segment(value: str) -> str:
    return quote(str(value), safe="")


class AirflowApi:
    """The calls the commands need. Results are the server's JSON as plain dicts."""

    def __init__(
        self,
        settings: ApiSettings,
        sleep: Callable[[float], Any] = time.sleep,
        warn: Callable[[str], Any] | None = None,
    ) -> None:
        import urllib3

        self.settings = settings
        self.token = settings.token
        self._sleep = sleep
        self._warn = warn
        if settings.verify_ssl:
            ca_certs = settings.ca_cert
            if ca_certs is None:
                try:
                    import certifi

                    ca_certs = certifi.where()
                except ImportError:  # urllib3 then uses the system's certificates
                    ca_certs = None
            self._http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_certs)
        else:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._http = urllib3.PoolManager(cert_reqs="CERT_NONE")
        self._timeout = urllib3.Timeout(connect=REQUEST_TIMEOUT[0], read=REQUEST_TIMEOUT[1])

    # -- plumbing -------------------------------------------------------------------------
    def _retry(self, call: Callable[[], Any]) -> Any:
        def notify(error: BaseException) -> None:
            if self._warn is not None:
                status = getattr(error, "status", None)
                what = (
                    f"answered {status}" if status else f"is not reachable ({error_detail(error)})"
                )
                self._warn(
                    f"Airflow at {self.settings.host} {what}; retrying for up to "
                    f"{self.settings.retry_seconds:.0f}s"
                )

        return with_retries(call, self.settings.retry_seconds, sleep=self._sleep, notify=notify)

    def _send(
        self,
        method: str,
        url: str,
        body: Any = None,
        accept: str = "application/json",
        auth: bool = True,
    ) -> str:
        """One request; the body of a 2xx/3xx answer as text, else HttpError."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self._http.request(
            method,
            url,
            body=None if body is None else json.dumps(body, default=str).encode(),
            headers=headers,
            timeout=self._timeout,
            retries=False,  # we retry ourselves, within a time budget
        )
        text = (response.data or b"").decode("utf-8", "replace")
        if response.status >= 400:
            raise HttpError(response.status, response.reason or "", text, response.headers)
        return text

    def _login(self) -> None:
        """Exchange AIRFLOW_USERNAME/AIRFLOW_PASSWORD for a JWT at <host>/auth/token."""
        settings = self.settings
        credentials = {"username": settings.username, "password": settings.password}

        def post() -> str:
            text = self._send("POST", f"{settings.host}/auth/token", credentials, auth=False)
            return json.loads(text)["access_token"]

        try:
            self.token = self._retry(post)
        except HttpError as error:
            if error.status in (404, 405):
                raise ApiError(
                    f"{settings.host}/auth/token does not exist, so the user name and "
                    f"password cannot be exchanged for a token; check that `host` is the Airflow "
                    f"base URL, or set {TOKEN_ENV} to a token instead"
                ) from None  # no status: this 404 is not about what the caller asked for
            raise explain(error, settings, "log in") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ApiError(
                f"{settings.host}/auth/token did not answer with an access token "
                f"({error}); check that `host` is the Airflow base URL, or set {TOKEN_ENV}"
            ) from None
        except Exception as error:
            if is_retryable(error):
                raise explain(error, settings, "log in") from None
            raise

    def request(
        self,
        action: str,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """``method`` on /api/v2``path``; the JSON answer, or ApiError saying what to check."""
        if self.settings.auth == "password" and not self.token:
            self._login()
        url = f"{self.settings.host}/api/v2{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)

        def attempt() -> Any:
            text = self._send(method, url, body)
            try:
                return json.loads(text) if text else None
            except ValueError:
                raise ApiError(
                    f"{self.settings.host} did not answer like an Airflow API server when asked "
                    f"to {action}; check that `host` is the Airflow base URL (without /api/v2)"
                ) from None

        try:
            try:
                return self._retry(attempt)
            except HttpError as error:
                if error.status != 401 or self.settings.auth != "password":
                    raise
                self._login()  # the token may have expired during a long wait
                return self._retry(attempt)
        except ApiError:
            raise
        except Exception as error:
            if isinstance(error, HttpError) or is_retryable(error):
                raise explain(error, self.settings, action) from None
            raise

    def optional(self, action: str, method: str, path: str, **kwargs: Any) -> Any:
        """Like ``request``, but None where the server answers 404."""
        try:
            return self.request(action, method, path, **kwargs)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def allows(self, action: str, method: str, path: str) -> bool:
        """Whether this user may ``method`` ``path``, asked with a body no endpoint accepts.

        Airflow checks permissions before it reads the body: 403 means no, and the
        validation error (422) that the right user gets changes nothing.
        """
        try:
            self.request(action, method, path, body=NOT_A_BODY)
        except ApiError as error:
            if error.status == 403:
                return False
            if error.status == 401 or error.is_outage:
                raise
        return True

    # -- the calls ------------------------------------------------------------------------
    def check(self) -> None:
        """Fail early, with the reason, when the host, the credentials or the rights are wrong."""
        self.request("list DAGs", "GET", "/dags", query={"limit": 1})

    def missing_permissions(self, dag_id: str) -> list[str]:
        """What of "edit DAG <id>" and "trigger runs of DAG <id>" this user may not do."""
        path = f"/dags/{segment(dag_id)}"
        missing = []
        if not self.allows(f"edit DAG '{dag_id}'", "PATCH", path):
            missing.append(f"edit DAG '{dag_id}' (PUT on DAGs, to unpause it)")
        if not self.allows(f"trigger DAG '{dag_id}'", "POST", f"{path}/dagRuns"):
            missing.append(f"trigger runs of DAG '{dag_id}' (POST on DAG Runs)")
        return missing

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as Airflow last parsed it, or None when Airflow does not know it."""
        return self.optional(f"read DAG '{dag_id}'", "GET", f"/dags/{segment(dag_id)}")

    def all_dags(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.request(
                "list DAGs",
                "GET",
                "/dags",
                query={
                    "limit": PAGE_SIZE,
                    "offset": len(found),
                    "exclude_stale": "true",
                    "order_by": "dag_id",
                },
            )
            found += page.get("dags", [])
            if not page.get("dags") or len(found) >= page.get("total_entries", 0):
                return found

    def dag_details(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's latest serialized version (what new runs use) as Airflow serves it, or None.

        Unlike the DAG's fields that change on every parse (``last_parsed_time``),
        ``doc_md`` here comes from the serialized DAG, and ``latest_dag_version`` names
        that version.
        """
        return self.optional(
            f"read the details of DAG '{dag_id}'", "GET", f"/dags/{segment(dag_id)}/details"
        )

    def import_errors(self, filename: str) -> list[dict[str, Any]]:
        """Import errors of DAG files whose name is ``filename`` (in any folder of any bundle)."""
        page = self.request(
            f"read the import errors of {filename}",
            "GET",
            "/importErrors",
            query={"filename_pattern": filename, "limit": PAGE_SIZE},
        )
        return [
            error
            for error in page.get("import_errors", [])
            if os.path.basename(error.get("filename", "")) == filename
        ]

    def request_reparse(self, file_token: str) -> bool:
        """Ask the DAG processor to parse a file now; False where that is not allowed."""
        try:
            self.request("request a reparse", "PUT", f"/parseDagFile/{segment(file_token)}")
        except ApiError:
            return False  # only a speed-up: the DAG processor reparses files by itself anyway
        return True

    def unpause(self, dag_id: str) -> None:
        self.request(
            f"unpause DAG '{dag_id}'",
            "PATCH",
            f"/dags/{segment(dag_id)}",
            query={"update_mask": "is_paused"},
            body={"is_paused": False},
        )

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> dict[str, Any]:
        """Start a run named ``run_id``; a retry that finds it already created returns it."""
        body = {
            "dag_run_id": run_id,
            "logical_date": logical_date.isoformat(),
            "note": "triggered by kedro airflow-k8s",
        }
        try:
            return self.request(
                f"trigger DAG '{dag_id}'", "POST", f"/dags/{segment(dag_id)}/dagRuns", body=body
            )
        except ApiError as error:
            if error.status == 409:
                existing = self.optional(
                    f"read run '{run_id}'",
                    "GET",
                    f"/dags/{segment(dag_id)}/dagRuns/{segment(run_id)}",
                )
                if existing is not None:
                    return existing
            raise

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request(
            f"read run '{run_id}' of DAG '{dag_id}'",
            "GET",
            f"/dags/{segment(dag_id)}/dagRuns/{segment(run_id)}",
        )

    def runs(
        self,
        dag_id: str,
        states: tuple[str, ...] = (),
        order_by: str = "-run_after",
        limit: int = 1,
    ) -> list[dict[str, Any]]:
        """Runs of the DAG in ``states`` (all where empty), ``order_by`` first."""
        page = self.optional(
            f"list the runs of DAG '{dag_id}'",
            "GET",
            f"/dags/{segment(dag_id)}/dagRuns",
            query={"limit": limit, "order_by": order_by, "state": list(states) or None},
        )
        return (page or {}).get("dag_runs", [])

    def last_finished_run(self, dag_id: str) -> dict[str, Any] | None:
        """The run that ended most recently (success or failure), or None."""
        runs = self.runs(dag_id, FINISHED_STATES, order_by="-end_date")
        return runs[0] if runs else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.request(
                f"read the tasks of run '{run_id}'",
                "GET",
                f"/dags/{segment(dag_id)}/dagRuns/{segment(run_id)}/taskInstances",
                query={"limit": PAGE_SIZE, "offset": len(found)},
            )
            found += page.get("task_instances", [])
            if not page.get("task_instances") or len(found) >= page.get("total_entries", 0):
                return found

    def tasks(self, dag_id: str) -> list[dict[str, Any]]:
        """The tasks of the DAG's latest version, with their retry settings."""
        page = self.request(
            f"read the tasks of DAG '{dag_id}'", "GET", f"/dags/{segment(dag_id)}/tasks"
        )
        return (page or {}).get("tasks", [])

    def log(self, task: dict[str, Any]) -> list[Any]:
        """The log of a task instance's latest try, as structured records or lines."""
        path = (
            f"/dags/{segment(task['dag_id'])}/dagRuns/{segment(task['dag_run_id'])}"
            f"/taskInstances/{segment(task['task_id'])}/logs/"
            f"{max(1, int(task.get('try_number') or 1))}"
        )
        answer = self.request(
            f"read the log of task '{task['task_id']}'",
            "GET",
            path,
            query={"full_content": "true", "map_index": task.get("map_index", -1)},
        )
        content = (answer or {}).get("content") or []
        return content.splitlines() if isinstance(content, str) else list(content)
