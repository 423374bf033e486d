"""Storage options: passed to fsspec as written, credentials refused, library noise kept out."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.errors import ConfigError, UserError
from kedro_airflow_k8s.publish import publish
from kedro_airflow_k8s.storage import open_target

BASE = {"run_config": {"image": "img:1", "namespace": "ns"}}


def config_with(output_options=None, artifacts_options=None):
    spark = {"type": "standalone", "master": "local[2]"}
    raw = {**BASE, "run_config": {**BASE["run_config"], "spark": spark}}
    if output_options is not None:
        raw["output_storage_options"] = output_options
    if artifacts_options is not None:
        raw["run_config"]["spark"]["artifacts_storage_options"] = artifacts_options
    return parse_config(raw)


def test_endpoint_profile_and_project_are_accepted_as_written():
    options = {
        "endpoint_url": "https://minio.internal:9000",
        "profile": "deployer",
        "config_kwargs": {"retries": {"max_attempts": 3}},
        "s3_additional_kwargs": {"ServerSideEncryption": "aws:kms"},
    }
    config = config_with(options, {"project": "acme-data", "token": "google_default"})
    assert config.output_storage_options == options
    assert config.run_config.spark.artifacts_storage_options == {
        "project": "acme-data",
        "token": "google_default",
    }


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"key": "AKIA...", "secret": "s3cr3t"}, "key, secret"),
        ({"token": "ya29.a0Af..."}, "token"),
        ({"token": {"type": "service_account"}}, "token"),
        ({"client_kwargs": {"aws_secret_access_key": "x"}}, "client_kwargs.aws_secret_access_key"),
        ({"password": "hunter2"}, "password"),
        ({"account_key": "abc"}, "account_key"),
        ({"sas_token": "sv=2020"}, "sas_token"),
        ({"session_token": "FQoG"}, "session_token"),
    ],
)
def test_credentials_in_storage_options_are_refused_naming_the_key(options, named):
    with pytest.raises(ConfigError) as error:
        config_with(output_options=options)
    message = str(error.value)
    assert f"output_storage_options: {named} would put a credential" in message
    assert "named profile" in message
    with pytest.raises(ConfigError, match="run_config.spark.artifacts_storage_options"):
        config_with(artifacts_options=options)


def test_storage_options_reach_the_filesystem():
    target = open_target("s3://bucket/dags/x.py", {"endpoint_url": "http://127.0.0.1:9"})
    assert target.fs.client_kwargs.get("endpoint_url") == "http://127.0.0.1:9" or (
        target.fs.endpoint_url == "http://127.0.0.1:9"
    )
    assert target.path == "bucket/dags/x.py"


class StrictFileSystem(MemoryFileSystem):
    """A filesystem that takes only the options it knows, as some drivers do."""

    protocol = "strict"

    def __init__(self, endpoint_url: str | None = None) -> None:
        super().__init__()


fsspec.register_implementation("strict", StrictFileSystem, clobber=True)


def test_an_option_the_filesystem_does_not_take_is_named():
    with pytest.raises(UserError) as error:
        open_target("strict://dags/x.py", {"no_such_option": 1}, "output_storage_options")
    assert "cannot open strict://dags/x.py" in str(error.value)
    assert "check the keys of output_storage_options" in str(error.value)


def test_gcs_uses_the_plain_filesystem_unless_asked(monkeypatch):
    from gcsfs.core import GCSFileSystem

    monkeypatch.delenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", raising=False)
    target = open_target("gs://bucket/dags/x.py", {"token": "anon", "endpoint_url": "http://x"})
    assert type(target.fs) is GCSFileSystem
    assert target.path == "bucket/dags/x.py"


class NoisyFileSystem(MemoryFileSystem):
    """A memory store that talks like gcsfs does with its defaults."""

    protocol = "noisy"
    store: dict = {}
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.removeprefix("noisy://"))

    def _open(self, path, mode="rb", **kwargs):
        logging.getLogger("fsspec").warning("Could not determine bucket type for %s", path)
        logging.getLogger("gcsfs").error("_call out of retries", exc_info=ValueError("x"))
        warnings.warn("a library deprecation", DeprecationWarning, stacklevel=2)
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("noisy", NoisyFileSystem, clobber=True)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_library_warnings_stay_out_of_the_users_output(tmp_path: Path, capsys):
    dag = tmp_path / "demo.py"
    dag.write_text("# DAG\n")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        publish(dag, "noisy://dags/", echo=lambda _: None)
    captured = capsys.readouterr()
    assert "bucket type" not in captured.out + captured.err
    assert "out of retries" not in captured.out + captured.err
    assert "deprecation" not in captured.out + captured.err
    # Afterwards the libraries log as they did before.
    assert logging.getLogger("fsspec").propagate and not logging.getLogger("fsspec").handlers


def test_library_warnings_are_in_the_debug_log(tmp_path: Path):
    dag = tmp_path / "demo.py"
    dag.write_text("# DAG\n")
    ours = logging.getLogger("kedro_airflow_k8s.publish")
    handler = Records()
    level, propagate = ours.level, ours.propagate
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    ours.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            publish(dag, "noisy://dags/", echo=lambda _: None)
    finally:
        ours.removeHandler(handler)
        ours.setLevel(level)
        ours.propagate = propagate
    assert {record.levelno for record in handler.records} == {logging.DEBUG}
    logged = "\n".join(record.getMessage() for record in handler.records)
    assert "fsspec WARNING: Could not determine bucket type" in logged
    assert "gcsfs ERROR: _call out of retries" in logged
    assert "DeprecationWarning: a library deprecation" in logged
