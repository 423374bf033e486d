"""Storage options for fsspec in airflow-k8s.yml: accepted as written, credentials refused."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

# Keys through which fsspec drivers take a secret (s3fs, gcsfs, adlfs and friends).
CREDENTIAL_KEYS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "access_key",
        "secret_key",
        "session_token",
        "security_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "connection_string",
        "client_secret",
        "credentials",
        "private_key",
    }
)
# gcsfs `token` values that name a way to find credentials rather than being one.
TOKEN_METHODS = frozenset({"anon", "google_default", "cloud"})


def credential_keys(options: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the keys in ``options`` that would carry a secret."""
    found: list[str] = []
    if not isinstance(options, dict):
        return found
    for key, value in options.items():
        name = str(key)
        path = f"{prefix}{name}"
        lowered = name.lower()
        if lowered == "token" and (value is None or _names_a_method(value)):
            continue
        if lowered in CREDENTIAL_KEYS or "secret" in lowered or "password" in lowered:
            found.append(path)
        elif isinstance(value, dict):
            found += credential_keys(value, f"{path}.")
    return found


def _names_a_method(token: Any) -> bool:
    return isinstance(token, str) and token in TOKEN_METHODS


def _no_credentials(value: dict[str, Any]) -> dict[str, Any]:
    secrets = credential_keys(value)
    if secrets:
        raise ValueError(
            f"{', '.join(secrets)} would put a credential in the configuration: give it "
            "through the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "GOOGLE_APPLICATION_CREDENTIALS, ...) or a named profile (profile: NAME) instead"
        )
    return value


StorageOptions = Annotated[dict[str, Any], AfterValidator(_no_credentials)]
