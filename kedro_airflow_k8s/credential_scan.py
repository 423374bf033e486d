"""Find credentials in files: private keys, service-account keys, cloud key pairs, secret names."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    r"[\s\\nA-Za-z0-9+/=:,\-]{32,}?-----END \1-----"
)
# "type": "service_account" and "private_key" in JSON, YAML or a Python/TOML mapping.
_SERVICE_ACCOUNT_TYPE = re.compile(r"""["']?type["']?\s*[:=]\s*["']?service_account\b""")
_PRIVATE_KEY_FIELD = re.compile(r"""["']?private_key["']?\s*[:=]\s*\S""")
_CLIENT_EMAIL = re.compile(r"""["']?client_email["']?\s*[:=]\s*["']?([^"'\s,]+)""")
# AWS access key ids, and Google Cloud Storage HMAC access ids.
_ACCESS_KEY_ID = re.compile(
    r"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}|GOOG[A-Z0-9]{20,})(?![A-Za-z0-9])"
)
_KEY_ID_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "GOOG")
# A secret key written under a name that says so, with a value that looks generated.
_NAMED_SECRET_KEY = re.compile(
    r"""(?i)["']?(aws_secret_access_key|secret_access_key|secretaccesskey|aws_secret_key|"""
    r"""secret_key|hmac_secret|secret)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"""
)
# Names that mark a secret key on their own, without its access key id next to it.
CLOUD_SECRET_NAMES = frozenset(
    {"aws_secret_access_key", "secret_access_key", "secretaccesskey", "aws_secret_key"}
)
# Azure storage: a connection string or an account key of 64 bytes in base64.
_AZURE_ACCOUNT_KEY = re.compile(r"(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{86}==)")
_AZURE_NAMED_KEY = re.compile(
    r"""(?i)["']?(account_key|storage_account_key)["']?\s*[:=]\s*["']?([A-Za-z0-9+/]{86}==)"""
)


@dataclass(frozen=True)
class Finding:
    """One credential found: in which file, on which line, of what kind."""

    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.kind}"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _masked(value: str) -> str:
    return value[:4] + "…" + value[-2:] if len(value) > 8 else "…"


def scan_text(text: str, path: str) -> list[Finding]:
    """Credentials in ``text`` (the content of the file ``path``), in order of position."""
    found: list[tuple[int, str]] = []
    # Plain substring tests first: most files hold none of these words, and the
    # patterns below are slower than a search for a word.
    lowered = text.lower()
    has_private_key = "private key" in lowered
    has_service_account = "service_account" in lowered
    has_key_id = any(prefix in text for prefix in _KEY_ID_PREFIXES)
    has_secret = "secret" in lowered
    has_azure = "accountkey" in lowered or "account_key" in lowered
    for match in _PRIVATE_KEY.finditer(text) if has_private_key else ():
        found.append((match.start(), f"a private key block ('-----BEGIN {match.group(1)}-----')"))
    service_account = _SERVICE_ACCOUNT_TYPE.search(text) if has_service_account else None
    if service_account and _PRIVATE_KEY_FIELD.search(text):
        email = _CLIENT_EMAIL.search(text)
        who = f" of {email.group(1)}" if email else ""
        found.append(
            (
                service_account.start(),
                f"a service-account key{who} ('type: service_account' with 'private_key')",
            )
        )
    key_ids = list(_ACCESS_KEY_ID.finditer(text)) if has_key_id else []
    secrets = list(_NAMED_SECRET_KEY.finditer(text)) if has_secret else []
    if key_ids and secrets:
        first = key_ids[0]
        found.append(
            (
                first.start(),
                f"a cloud access-key pair (access key id {_masked(first.group(1))} "
                f"with '{secrets[0].group(1)}')",
            )
        )
    else:
        for match in secrets:
            if match.group(1).lower() in CLOUD_SECRET_NAMES:
                found.append((match.start(), f"a cloud secret key ('{match.group(1)}')"))
                break
    for match in _AZURE_ACCOUNT_KEY.finditer(text) if has_azure else ():
        found.append((match.start(), "an Azure storage account key ('AccountKey=')"))
    for match in _AZURE_NAMED_KEY.finditer(text) if has_azure else ():
        found.append((match.start(), f"an Azure storage account key ('{match.group(1)}')"))
    return [Finding(path, _line_of(text, pos), kind) for pos, kind in sorted(found)]


def scan_bytes(data: bytes, path: str) -> list[Finding]:
    """``scan_text`` of a file's bytes, read as UTF-8 with undecodable bytes replaced."""
    return scan_text(data.decode("utf-8", errors="replace"), path)


def describe(findings: Iterable[Finding], what: str, limit: int = 20) -> str:
    """The refusal message: every finding (up to ``limit``) and how to provide credentials."""
    items = list(findings)
    lines = [
        f"The Spark artifacts would carry credentials in {what}; nothing was built or published:"
    ]
    lines += [f"  - {finding}" for finding in items[:limit]]
    if len(items) > limit:
        lines.append(f"  - ... and {len(items) - limit} more")
    lines.append(
        "Remove them from these files (keep credentials in conf/local or a secret store) and "
        "give the cluster its credentials another way: Kubernetes secrets "
        "(run_config.secrets, run_config.spark.secrets), workload identity or the cloud "
        "metadata server. See docs: troubleshooting, 'Credentials and the conf archive'."
    )
    return "\n".join(lines)


# File and directory names that may hold secrets (matched case-insensitively). The content
# check above is the real guard; names catch what has no recognisable shape.
SECRET_PATTERNS = (
    "credentials*",
    "*secret*",
    "*token*",
    "*password*",
    "*passwd*",
    "service-account*",
    "service_account*",
    "*sa-key*",
    "*sa_key*",
    "*private-key*",
    "*private_key*",
    "*privatekey*",
    "kaggle.json",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    ".env*",
    "id_rsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
)
# Leave out the pattern that also matches honest names such as tokenizer.json.
WHEEL_SECRET_PATTERNS = tuple(p for p in SECRET_PATTERNS if p != "*token*")


def looks_secret(name: str, patterns: tuple[str, ...] = SECRET_PATTERNS) -> bool:
    """Whether a file or directory name is one that often holds credentials or keys."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in patterns)


def secret_path(relative: str) -> bool:
    """Whether a folder or file of the relative path ``relative`` is named like a secret."""
    return any(looks_secret(part, WHEEL_SECRET_PATTERNS) for part in relative.split("/"))
