"""Talks to the Airflow 3 REST API (v2) with apache-airflow-client: auth, retries, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kedro_airflow_k8s.errors import UserError

TOKEN_ENV = "AIRFLOW_API_TOKEN"
USERNAME_ENV = "AIRFLOW_USERNAME"
PASSWORD_ENV = "AIRFLOW_PASSWORD"
VERIFY_SSL_ENV = "AIRFLOW_API_VERIFY_SSL"
CA_CERT_ENV = "AIRFLOW_API_CA_CERT"
FALSE_WORDS = {"0", "false", "no", "off"}

RETRY_SECONDS = 30.0  # total time spent retrying one call on 429, 5xx or a refused connection
FIRST_DELAY = 0.5
MAX_DELAY = 10.0
REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read
PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class ApiSettings:
    """Where the API server is and how to authenticate to it."""

    host: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    verify_ssl: bool = True
    ca_cert: str | None = None
    retry_seconds: float = RETRY_SECONDS

    @property
    def auth(self) -> str:
        if self.token:
            return "token"
        return "password" if self.username else "none"


def base_url(host: str | None, config_source: str = "airflow-k8s.yml") -> str:
    """The configured ``host``, checked, without a trailing slash."""
    if not host:
        raise UserError(
            f"host is not set in {config_source}: set it to the URL of the Airflow API server "
            "(the address of its UI, e.g. https://airflow.example.com)"
        )
    if not host.startswith(("http://", "https://")):
        raise UserError(f"host '{host}' in {config_source} must start with http:// or https://")
    return host.rstrip("/")


def settings_from_env(
    host: str | None,
    insecure: bool = False,
    config_source: str = "airflow-k8s.yml",
    environ: Mapping[str, str] = os.environ,
) -> ApiSettings:
    """Settings from ``host`` (the config key) and the AIRFLOW_* environment variables."""
    host = base_url(host, config_source)
    username = environ.get(USERNAME_ENV) or None
    password = environ.get(PASSWORD_ENV)
    if username and password is None:
        raise UserError(f"{USERNAME_ENV} is set but {PASSWORD_ENV} is not: set both, or neither")
    verify = not insecure and environ.get(VERIFY_SSL_ENV, "true").strip().lower() not in FALSE_WORDS
    return ApiSettings(
        host=host,
        token=environ.get(TOKEN_ENV) or None,
        username=username,
        password=password,
        verify_ssl=verify,
        ca_cert=environ.get(CA_CERT_ENV) or None,
        retry_seconds=RETRY_SECONDS,
    )


class ApiError(UserError):
    """The API server refused a call or could not be reached; the message says what to check."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_retryable(error: BaseException) -> bool:
    """429, 5xx and failed connections are worth another try; anything else is an answer."""
    import urllib3
    from airflow_client.client.exceptions import ApiException

    if isinstance(error, ApiException):
        return error.status == 429 or 500 <= (error.status or 0) <= 599
    return isinstance(error, urllib3.exceptions.HTTPError) and not isinstance(
        error, urllib3.exceptions.SSLError
    )


def retry_after(error: BaseException) -> float | None:
    """The delay an HTTP 429/503 asks for in Retry-After (seconds form only)."""
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def with_retries(
    call: Callable[[], T],
    budget: float,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    notify: Callable[[BaseException], Any] | None = None,
) -> T:
    """``call()``, retried with exponential backoff and jitter while errors are retryable.

    No retry starts once it would end after ``budget`` seconds; the last error is raised.
    ``notify`` hears of the first error that is retried.
    """
    deadline = clock() + budget
    delay = FIRST_DELAY
    while True:
        try:
            return call()
        except Exception as error:
            if not is_retryable(error):
                raise
            wait = retry_after(error)
            if wait is None:
                wait = delay * random.uniform(0.5, 1.0)
            wait = min(wait, MAX_DELAY)
            if clock() + wait > deadline:
                raise
            if notify is not None and delay == FIRST_DELAY:
                notify(error)
            sleep(wait)
            delay = min(delay * 2, MAX_DELAY)


def error_detail(error: BaseException) -> str:
    """The server's own words ("detail" of its JSON body), else the HTTP reason."""
    body = getattr(error, "body", None)
    if body:
        try:
            detail = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            detail = None
        if isinstance(detail, str):
            return detail
        if detail:
            return json.dumps(detail)[:300]
    reason = " ".join(str(getattr(error, "reason", None) or error).split())
    return reason or type(error).__name__


def explain(error: BaseException, settings: ApiSettings, action: str) -> ApiError:
    """A message for ``error`` (raised while trying to ``action``) that says what to check."""
    import urllib3
    from airflow_client.client.exceptions import ApiException

    host = settings.host
    if isinstance(error, urllib3.exceptions.HTTPError) and not isinstance(
        error, urllib3.exceptions.SSLError
    ):
        reason = getattr(error, "reason", None) or error
        return ApiError(
            f"cannot reach the Airflow API server at {host} to {action} ({reason}); check "
            "`host` in airflow-k8s.yml and that the API server is running and reachable from here"
        )
    status = getattr(error, "status", None)
    detail = error_detail(error)
    if not isinstance(error, ApiException) or not status:
        return ApiError(
            f"cannot talk to {host} to {action}: {detail}. If the server's TLS certificate is "
            f"signed by a private CA, set {CA_CERT_ENV} to that CA's PEM file; --insecure or "
            f"{VERIFY_SSL_ENV}=false skips verification"
        )
    if status == 401 or (status == 403 and "token" in detail.lower()):
        # Airflow answers 403 "Invalid JWT token" to a token it cannot decode.
        return ApiError(
            f"Airflow at {host} refused to {action}: {detail}; {auth_hint(settings)}", status
        )
    if status == 403:
        return ApiError(
            f"Airflow at {host} does not allow this user to {action} ({detail}); ask an Airflow "
            "admin for the permission, or use credentials of a user who has it",
            403,
        )
    if status == 404:
        return ApiError(
            f"Airflow at {host} found nothing to {action} ({detail}); check the DAG id, that "
            "`output` is the DAG folder this Airflow reads, and that `host` is the Airflow base "
            "URL (without /api/v2)",
            404,
        )
    if status == 429 or 500 <= status <= 599:
        return ApiError(
            f"Airflow at {host} kept answering {status} ({detail}) for "
            f"{settings.retry_seconds:.0f}s while trying to {action}; check the API server's "
            "health and logs, then try again",
            status,
        )
    return ApiError(f"Airflow at {host} answered {status} to {action}: {detail}", status)


def auth_hint(settings: ApiSettings) -> str:
    if settings.auth == "token":
        return (
            f"the token in {TOKEN_ENV} is not valid here (expired, or for another Airflow); "
            "get a new one, or unset it and set "
            f"{USERNAME_ENV} and {PASSWORD_ENV}"
        )
    if settings.auth == "password":
        return (
            f"check the user name and password in {USERNAME_ENV} and {PASSWORD_ENV} "
            "(they are exchanged for a token at <host>/auth/token)"
        )
    return (
        f"no credentials were given: set {TOKEN_ENV} to an API token, or {USERNAME_ENV} "
        f"and {PASSWORD_ENV} to an Airflow user"
    )


class AirflowApi:
    """The calls the commands need. Results are the server's JSON as plain dicts.

    Responses are read as JSON rather than through the client's models so that a
    client newer than the server (fields added in later 3.x releases) still works.
    """

    def __init__(
        self,
        settings: ApiSettings,
        sleep: Callable[[float], Any] = time.sleep,
        warn: Callable[[str], Any] | None = None,
    ) -> None:
        from airflow_client import client

        self.settings = settings
        self._sleep = sleep
        self._warn = warn
        config = client.Configuration(
            host=settings.host,
            access_token=settings.token,
            verify_ssl=settings.verify_ssl,
            ssl_ca_cert=settings.ca_cert,
            retries=False,  # we retry ourselves, within a time budget
        )
        if not settings.verify_ssl:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._client = client.ApiClient(config)
        self._config = config
        self._dag_api = client.DAGApi(self._client)
        self._run_api = client.DagRunApi(self._client)
        self._task_api = client.TaskInstanceApi(self._client)
        self._import_error_api = client.ImportErrorApi(self._client)
        self._parsing_api = client.DAGParsingApi(self._client)

    # -- plumbing -------------------------------------------------------------------------
    def _retry(self, call: Callable[[], T]) -> T:
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

    def _login(self) -> None:
        """Exchange AIRFLOW_USERNAME/AIRFLOW_PASSWORD for a JWT at <host>/auth/token."""
        from airflow_client.client.exceptions import ApiException

        def post() -> str:
            response = self._client.rest_client.request(
                "POST",
                f"{self.settings.host}/auth/token",
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                body={"username": self.settings.username, "password": self.settings.password},
                _request_timeout=REQUEST_TIMEOUT,
            )
            response.read()
            text = (response.data or b"").decode("utf-8", "replace")
            if response.status >= 400:
                ApiException.from_response(http_resp=response, body=text, data=None)
            return json.loads(text)["access_token"]

        try:
            self._config.access_token = self._retry(post)
        except ApiException as error:
            if error.status in (404, 405):
                raise ApiError(
                    f"{self.settings.host}/auth/token does not exist, so the user name and "
                    f"password cannot be exchanged for a token; check that `host` is the Airflow "
                    f"base URL, or set {TOKEN_ENV} to a token instead"
                ) from None  # no status: this 404 is not about what the caller asked for
            raise explain(error, self.settings, "log in") from None
        except (ValueError, KeyError) as error:
            raise ApiError(
                f"{self.settings.host}/auth/token did not answer with an access token "
                f"({error}); check that `host` is the Airflow base URL, or set {TOKEN_ENV}"
            ) from None
        except Exception as error:
            if is_retryable(error):
                raise explain(error, self.settings, "log in") from None
            raise

    def call(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a ``*_without_preload_content`` client method; the JSON answer, or ApiError."""
        from airflow_client.client.exceptions import ApiException

        if self.settings.auth == "password" and not self._config.access_token:
            self._login()

        def attempt() -> Any:
            response = method(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            text = response.data.decode("utf-8", "replace") if response.data else ""
            if response.status >= 400:
                ApiException.from_response(http_resp=response, body=text, data=None)
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
            except ApiException as error:
                if error.status != 401 or self.settings.auth != "password":
                    raise
                self._login()  # the token may have expired during a long wait
                return self._retry(attempt)
        except Exception as error:
            if isinstance(error, ApiException) or is_retryable(error):
                raise explain(error, self.settings, action) from None
            raise

    def optional(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like ``call``, but None where the server answers 404."""
        try:
            return self.call(action, method, *args, **kwargs)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    # -- the calls ------------------------------------------------------------------------
    def check(self) -> None:
        """Fail early, with the reason, when the host, the credentials or the rights are wrong."""
        self.call("list DAGs", self._dag_api.get_dags_without_preload_content, limit=1)

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as Airflow last parsed it, or None when Airflow does not know it."""
        return self.optional(
            f"read DAG '{dag_id}'", self._dag_api.get_dag_without_preload_content, dag_id
        )

    def all_dags(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.call(
                "list DAGs",
                self._dag_api.get_dags_without_preload_content,
                limit=PAGE_SIZE,
                offset=len(found),
                exclude_stale=True,
                order_by=["dag_id"],
            )
            found += page.get("dags", [])
            if not page.get("dags") or len(found) >= page.get("total_entries", 0):
                return found

    def import_errors(self, filename: str) -> list[dict[str, Any]]:
        """Import errors of DAG files whose name is ``filename`` (in any folder of any bundle)."""
        page = self.call(
            f"read the import errors of {filename}",
            self._import_error_api.get_import_errors_without_preload_content,
            filename_pattern=filename,
            limit=PAGE_SIZE,
        )
        return [
            error
            for error in page.get("import_errors", [])
            if os.path.basename(error.get("filename", "")) == filename
        ]

    def request_reparse(self, file_token: str) -> bool:
        """Ask the DAG processor to parse a file now; False where that is not allowed."""
        try:
            self.call(
                "request a reparse",
                self._parsing_api.reparse_dag_file_without_preload_content,
                file_token,
            )
        except ApiError:
            return False  # only a speed-up: the DAG processor reparses files by itself anyway
        return True

    def unpause(self, dag_id: str) -> None:
        from airflow_client.client import DAGPatchBody

        self.call(
            f"unpause DAG '{dag_id}'",
            self._dag_api.patch_dag_without_preload_content,
            dag_id,
            DAGPatchBody(is_paused=False),
            update_mask=["is_paused"],
        )

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> dict[str, Any]:
        """Start a run named ``run_id``; a retry that finds it already created returns it."""
        from airflow_client.client import TriggerDAGRunPostBody

        body = TriggerDAGRunPostBody(
            dag_run_id=run_id, logical_date=logical_date, note="triggered by kedro airflow-k8s"
        )
        try:
            return self.call(
                f"trigger DAG '{dag_id}'",
                self._run_api.trigger_dag_run_without_preload_content,
                dag_id,
                body,
            )
        except ApiError as error:
            if error.status == 409:
                existing = self.optional(
                    f"read run '{run_id}'",
                    self._run_api.get_dag_run_without_preload_content,
                    dag_id,
                    run_id,
                )
                if existing is not None:
                    return existing
            raise

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call(
            f"read run '{run_id}' of DAG '{dag_id}'",
            self._run_api.get_dag_run_without_preload_content,
            dag_id,
            run_id,
        )

    def latest_run(self, dag_id: str) -> dict[str, Any] | None:
        page = self.optional(
            f"list the runs of DAG '{dag_id}'",
            self._run_api.get_dag_runs_without_preload_content,
            dag_id,
            limit=1,
            order_by=["-run_after"],
        )
        runs = (page or {}).get("dag_runs", [])
        return runs[0] if runs else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        page = self.call(
            f"read the tasks of run '{run_id}'",
            self._task_api.get_task_instances_without_preload_content,
            dag_id,
            run_id,
            limit=PAGE_SIZE,
        )
        return page.get("task_instances", [])

    def log_tail(self, task: dict[str, Any], lines: int = 20) -> list[str]:
        """The last ``lines`` lines of a task instance's log; empty where it cannot be read."""
        try:
            answer = self.call(
                f"read the log of task '{task['task_id']}'",
                self._task_api.get_log_without_preload_content,
                task["dag_id"],
                task["dag_run_id"],
                task["task_id"],
                max(1, int(task.get("try_number") or 1)),
                full_content=True,
                map_index=task.get("map_index", -1),
                accept="application/json",
            )
        except ApiError:
            return []
        content = (answer or {}).get("content") or []
        if isinstance(content, str):
            return content.splitlines()[-lines:]
        text = []
        for item in content:
            if isinstance(item, dict):
                event = str(item.get("event", ""))
                level = str(item.get("level") or "info")
                text.append(event if level == "info" else f"[{level}] {event}")
            else:
                text.append(str(item))
        return [line for line in text if not line.startswith("::")][-lines:]
