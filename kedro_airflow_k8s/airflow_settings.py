"""Where the Airflow API server is and how to authenticate to it, from config and environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kedro_airflow_k8s.errors import UserError

TOKEN_ENV = "AIRFLOW_API_TOKEN"
USERNAME_ENV = "AIRFLOW_USERNAME"
PASSWORD_ENV = "AIRFLOW_PASSWORD"
VERIFY_SSL_ENV = "AIRFLOW_API_VERIFY_SSL"
CA_CERT_ENV = "AIRFLOW_API_CA_CERT"
FALSE_WORDS = {"0", "false", "no", "off"}

RETRY_SECONDS = 30.0  # total time spent retrying one call on 429, 5xx or a refused connection


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
