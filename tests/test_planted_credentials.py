"""Planted credentials never leave the machine: upload-pipeline ships only what Kedro reads, and
a credential inside anything it would ship refuses the whole build before publishing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from kedro_airflow_k8s.credential_scan import scan_text
from tests.conftest import DEFAULT_CATALOG

SPARK = "kedro-airflow-k8s.group.pyspark"
NODES = f"""
from kedro.pipeline import Pipeline, node


def same(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(same, "raw", "doubled", name="prep"),
            node(same, "doubled", "quadrupled", name="spark_step", tags=["{SPARK}"]),
            node(same, "quadrupled", "total", name="report"),
        ]
    )
"""


def token(seed: str, length: int, alphabet: str) -> str:
    digest = hashlib.sha512(seed.encode()).digest() * 4
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def private_key(seed: str, label: str = "RSA PRIVATE KEY") -> str:
    body = base64.encodebytes(hashlib.sha512(seed.encode()).digest() * 3).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def service_account(seed: str) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-prod",
            "private_key_id": token(seed, 40, "0123456789abcdef"),
            "private_key": private_key(seed, "PRIVATE KEY"),
            "client_email": f"{seed[:20].replace('/', '-')}@acme-prod.iam.gserviceaccount.com",
        },
        indent=2,
    )


def aws_pair(seed: str) -> str:
    return (
        f"aws_access_key_id: AKIA{token(seed, 16, UPPER)}\n"
        f"aws_secret_access_key: {token(seed + 's', 40, B64)}\n"
    )


def hmac_pair(seed: str) -> str:
    return f"access_id: GOOG{token(seed, 24, UPPER)}\nsecret: {token(seed + 's', 40, B64)}\n"


def azure_key(seed: str) -> str:
    return (
        "connection: DefaultEndpointsProtocol=https;AccountName=acme;"
        f"AccountKey={token(seed, 86, B64)}==;EndpointSuffix=core.windows.net\n"
    )


def password(seed: str) -> str:
    return f"password: hunter2-{token(seed, 12, UPPER)}\n"


def kaggle(seed: str) -> str:
    return json.dumps({"username": "acme", "key": token(seed, 32, "0123456789abcdef")})


# Files Kedro does not read (or that are credentials by name or place): the build goes on
# and none of them is in anything published.
LEFT_OUT = {
    "conf/base/service-account.json": service_account,
    "conf/prod/service-account.json": service_account,
    "conf/base/gcp-sa-key.json": service_account,
    "conf/base/private-key.json": service_account,
    "conf/base/kaggle.json": kaggle,
    "conf/base/password.txt": password,
    "conf/base/passwords.yml": password,
    "conf/prod/passwords.yml": password,
    "conf/base/credentials.yml": aws_pair,
    "conf/prod/credentials.yml": aws_pair,
    "conf/base/credentials/aws.yml": aws_pair,
    "conf/base/nested/credentials_gcp.yml": hmac_pair,
    "conf/base/nested/deep/key.json": service_account,
    "conf/base/keys/id_rsa": private_key,
    "conf/prod/tls/server.pem": private_key,
    "conf/base/.env": aws_pair,
    "conf/prod/.secrets.yml": aws_pair,
    "conf/base/sa.json": service_account,
    "conf/base/airflow/connections.json": aws_pair,
    "conf/base/hmac.yml": hmac_pair,
    "conf/base/azure.txt": azure_key,
    "conf/prod/db.ini": password,
    "conf/base/notes.md": aws_pair,
    "conf/base/queries/secret.sql": password,
    "conf/local/credentials.yml": aws_pair,
    "conf/local/service-account.json": service_account,
    "conf/local/parameters.yml": aws_pair,
    "conf/local/catalog.yml": azure_key,
    ".env": aws_pair,
    "service-account.json": service_account,
    "data/01_raw/key.json": service_account,
    "notebooks/sa.json": service_account,
    "src/service-account.json": service_account,
}

# Innocently named files that would ship (Kedro reads them, or they are package data):
# each refuses the build, named with what was found.
READ_BY_KEDRO = {
    "conf/base/catalog.yml": aws_pair,
    "conf/base/parameters.yml": service_account,
    "conf/prod/parameters.yml": private_key,
    "conf/base/catalog/nested/more_catalog.yml": hmac_pair,
    "conf/base/parameters/model/params_parameters.yml": azure_key,
    "conf/prod/globals.yml": aws_pair,
    "conf/base/spark.yml": private_key,
    "conf/base/logging.yml": service_account,
    "conf/base/queries/report.sql": aws_pair,  # shipped through conf_include
    "src/<pkg>/service-account.json": service_account,
    "src/<pkg>/data/settings.json": service_account,
    "src/<pkg>/resources/defaults.yml": aws_pair,
    "src/<pkg>/certs/bundle.txt": private_key,
    "src/<pkg>/helpers.py": aws_pair,
}


def as_text(plant, path: str) -> str:
    text = plant(path)
    if "catalog" in Path(path).name:
        # Inline credentials of a dataset: the usual way a key lands in a catalog.
        entry = f"leaky_{hashlib.sha1(path.encode()).hexdigest()[:6]}"
        lines = "".join(f"    {line}\n" for line in text.splitlines())
        head = f"{entry}:\n  type: pandas.CSVDataset\n  filepath: s3://b/x.csv\n"
        return f"{head}  credentials:\n{lines}"
    if path.endswith(".py"):
        return "".join(f"# {line}\n" for line in text.splitlines())
    if path.endswith((".yml", ".yaml")) and plant in (service_account, kaggle):
        return f"value: {json.dumps(text)}\n"
    if path.endswith(".yml") and plant is private_key:
        return "value: |\n" + "".join(f"  {line}\n" for line in text.splitlines())
    return text


def secret_part(text: str) -> str:
    """A piece of the planted text that only the credential holds."""
    generated = re.search(r"[A-Za-z0-9+/]{40,}", text)
    if generated:
        return generated.group(0)[:40]
    for marker in ("hunter2-", '"key": "'):
        if marker in text:
            start = text.index(marker)
            return text[start : start + 24]
    raise AssertionError(f"nothing distinctive in {text!r}")


@pytest.fixture
def spark_project(make_project, tmp_path):
    config = {
        "run_config": {
            "image": "registry.example.com/demo:1",
            "namespace": "kedro",
            "spark": {
                "type": "standalone",
                "master": "spark://127.0.0.1:7077",
                "artifacts_path": str(tmp_path / "bucket"),
                "conf_include": ["queries/*.sql"],
            },
        },
        "output": str(tmp_path / "published_dags"),
    }
    project = make_project(nodes=NODES, catalog=DEFAULT_CATALOG, config=config)
    (project / "conf" / "prod").mkdir(exist_ok=True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.setuptools.package-data]\n"*" = ["**/*"]\n'
    )
    return project


def plant(project: Path, plants: dict) -> dict[str, str]:
    """Write each planted file (appending to files that exist); path -> its secret part."""
    secrets = {}
    for relative, make in plants.items():
        path = project / relative.replace("<pkg>", project.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = as_text(make, relative)
        existing = path.read_text() if path.exists() else ""
        path.write_text(existing + ("\n" if existing else "") + text)
        secrets[relative] = secret_part(text)
    return secrets


def published_text(*roots: Path) -> str:
    """Every byte under ``roots``, with archives and wheels opened, as one string."""
    parts = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            parts.append(data.decode(errors="replace"))
            if path.name.endswith(".tar.gz"):
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    parts += [
                        tar.extractfile(m).read().decode(errors="replace")
                        for m in tar.getmembers()
                        if m.isfile()
                    ]
            elif path.suffix == ".whl":
                with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                    parts += [wheel.read(n).decode(errors="replace") for n in wheel.namelist()]
    return "\n".join(parts)


def test_there_are_at_least_forty_planted_credentials():
    assert len(LEFT_OUT) + len(READ_BY_KEDRO) >= 40


def test_every_planted_kind_is_recognised_by_the_content_check():
    for make in (service_account, private_key, aws_pair, hmac_pair, azure_key):
        assert scan_text(make("seed"), "x"), make.__name__


def test_credentials_kedro_does_not_read_are_never_published(spark_project, cli, tmp_path):
    secrets = plant(spark_project, LEFT_OUT)

    result = cli(spark_project, "--env", "prod", "upload-pipeline")

    assert result.exit_code == 0, result.output
    shipped = published_text(tmp_path / "bucket", tmp_path / "published_dags")
    assert "raw:" in shipped and "spark_step" in shipped  # the catalog and the DAG did go
    leaked = [path for path, secret in secrets.items() if secret in shipped]
    assert leaked == []


def test_a_credential_in_anything_shipped_refuses_the_build(spark_project, cli, tmp_path):
    secrets = plant(spark_project, READ_BY_KEDRO)

    result = cli(spark_project, "--env", "prod", "upload-pipeline")

    assert result.exit_code == 2, result.output
    assert "nothing was built or published" in result.output
    for relative in READ_BY_KEDRO:
        shown = relative.replace("<pkg>/", "").replace("src/", "")
        assert shown in result.output, shown
    assert "Traceback" not in result.output
    for folder in (tmp_path / "bucket", tmp_path / "published_dags"):
        assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
    assert all(secret not in result.output for secret in secrets.values())
