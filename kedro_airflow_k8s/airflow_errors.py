"""What went wrong talking to Airflow: HTTP errors, which are worth a retry, and messages."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kedro_airflow_k8s.airflow_settings import (
    CA_CERT_ENV,
    PASSWORD_ENV,
    TOKEN_ENV,
    USERNAME_ENV,
    VERIFY_SSL_ENV,
    ApiSettings,
)
from kedro_airflow_k8s.errors import UserError

FIRST_DELAY = 0.5
MAX_DELAY = 10.0

T = TypeVar("T")


class HttpError(Exception):
    """An HTTP answer of 400 or more: its status, reason, body and headers."""

    def __init__(
        self, status: int, reason: str = "", body: str = "", headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = dict(headers)


class ApiError(UserError):
    """The API server refused a call or could not be reached; the message says what to check."""

    def __init__(self, message: str, status: int | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable

    @property
    def is_outage(self) -> bool:
        """The server could not be reached or kept failing: nothing was decided about the call."""
        return self.unreachable or self.status == 429 or 500 <= (self.status or 0) <= 599


def is_connection_error(error: BaseException) -> bool:
    import urllib3

    return isinstance(error, urllib3.exceptions.HTTPError) and not isinstance(
        error, urllib3.exceptions.SSLError
    )


def is_retryable(error: BaseException) -> bool:
    """429, 5xx and failed connections are worth another try; anything else is an answer."""
    if isinstance(error, HttpError):
        return error.status == 429 or 500 <= error.status <= 599
    return is_connection_error(error)


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
    host = settings.host
    if is_connection_error(error):
        reason = getattr(error, "reason", None) or error
        return ApiError(
            f"cannot reach the Airflow API server at {host} to {action} ({reason}); check "
            "`host` in airflow-k8s.yml and that the API server is running and reachable from here",
            unreachable=True,
        )
    detail = error_detail(error)
    if not isinstance(error, HttpError):
        return ApiError(
            f"cannot talk to {host} to {action}: {detail}. If the server's TLS certificate is "
            f"signed by a private CA, set {CA_CERT_ENV} to that CA's PEM file; --insecure or "
            f"{VERIFY_SSL_ENV}=false skips verification"
        )
    status = error.status
    if status == 401 or (status == 403 and "token" in detail.lower()):
        # Airflow answers 403 "Invalid JWT token" to a token it cannot decode.
        return ApiError(
            f"Airflow at {host} refused to {action}: {detail}; {auth_hint(settings)}", 401
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
