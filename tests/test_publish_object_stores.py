"""Publishing to real object-store servers (fake-gcs-server, moto's S3) on 127.0.0.1, through
a proxy that loses the connection at chosen requests: the stores' real state, and messages
that tell the truth about it."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

from kedro_airflow_k8s.artifacts import ArtifactSet
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.publish import publish
from tests.object_stores import (
    AWS_CREDENTIALS,
    AWS_PROFILE,
    FaultProxy,
    start_gcs_emulator,
    start_s3_emulator,
)

_buckets = itertools.count()


@pytest.fixture
def gcs_server():
    # One server per test: a server shared by the whole module once stopped answering a
    # listing after eight of these tests, and the ninth timed out.
    server = start_gcs_emulator()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_server():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server, port = start_s3_emulator()
    yield port
    server.stop()


@pytest.fixture
def aws_profile(tmp_path, monkeypatch):
    """Credentials for the S3 emulator come from a named profile, as the docs advise."""
    (tmp_path / "aws-config").write_text(AWS_PROFILE)
    (tmp_path / "aws-credentials").write_text(AWS_CREDENTIALS)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_gcs_backoff(monkeypatch):
    """gcsfs waits 1 + 2 + 4 + 8 + 16 s between its retries; the tests need not."""
    import gcsfs.retry

    class Instant:
        @staticmethod
        async def sleep(_seconds: float) -> None:
            return None

    monkeypatch.setattr(gcsfs.retry, "asyncio", Instant)


@dataclass
class Store:
    """One fresh bucket on an emulator, reached through a fault proxy."""

    scheme: str
    bucket: str
    proxy: FaultProxy
    options: dict[str, Any]
    direct: Any  # a filesystem that talks to the emulator itself, to see what is really there

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def objects(self) -> dict[str, bytes]:
        self.direct.invalidate_cache()
        paths = self.direct.find(self.bucket)
        return {path.split("/", 1)[1]: self.direct.cat_file(path) for path in paths}

    def put(self, key: str, data: bytes) -> None:
        self.direct.pipe_file(f"{self.bucket}/{key}", data)

    def upload_of(self, key: str):
        """Matches the request that uploads ``key``."""
        if self.scheme == "gs":  # the object's name is in the metadata part of the body
            name = f'"name": "{key}"'.encode()
            return lambda method, target, body: (
                method == "POST" and "/upload/" in target and name in body.replace(b'":"', b'": "')
            )
        return lambda method, target, body: (
            method == "PUT" and target.split("?")[0] == (f"/{self.bucket}/{key}")
        )

    def delete_of(self, key: str):
        """Matches the request that deletes ``key``."""
        if self.scheme == "gs":
            return lambda method, target, body: (
                method == "DELETE" and target.split("?")[0].endswith(f"/b/{self.bucket}/o/{key}")
            )
        return lambda method, target, body: (
            method == "DELETE" and target.split("?")[0] == (f"/{self.bucket}/{key}")
        )

    def writes(self) -> list[tuple[str, str, bytes]]:
        return [r for r in self.proxy.requests if r[0] in ("PUT", "POST", "DELETE")]


@pytest.fixture(params=["gs", "s3"])
def store(request, aws_profile, no_gcs_backoff):
    bucket = f"kak-publish-{next(_buckets)}"
    if request.param == "gs":
        server = request.getfixturevalue("gcs_server")
        port = server.port
        from gcsfs.core import GCSFileSystem

        direct = GCSFileSystem(endpoint_url=server.url, token="anon", skip_instance_cache=True)
        options = {"token": "anon"}
    else:
        port = request.getfixturevalue("s3_server")
        direct = fsspec.filesystem(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            profile="emulator",
            skip_instance_cache=True,
        )
        options = {"profile": "emulator", "config_kwargs": {"retries": {"max_attempts": 1}}}
    direct.mkdir(bucket)
    proxy = FaultProxy(port).start()
    options["endpoint_url"] = proxy.url
    yield Store(request.param, bucket, proxy, options, direct)
    proxy.stop()


NEW_DAG = b"# DAG, version 2\n"
OLD_DAG = b"# DAG, version 1\n"
ARTIFACT_KEYS = {
    "spark/v1/demo-0.1-py3-none-any.whl": b"W" * 3000,
    "spark/v1/conf-demo-v1.tar.gz": b"conf bytes",
    "spark/v1/spark_run-demo-v1.py": b"print('run')\n",
    "spark/v1/init-demo-v1.sh": b"#!/bin/bash\n",
}


@pytest.fixture
def dag(tmp_path: Path) -> Path:
    path = tmp_path / "demo.py"
    path.write_bytes(NEW_DAG)
    return path


def publish_to(store: Store, dag: Path, artifacts: ArtifactSet, timeout: float = 120):
    """Publish as upload-pipeline does; returns (report, what the user was told)."""
    lines: list[str] = []
    report = publish(
        dag,
        store.url("dags/"),
        artifacts,
        store.url("spark"),
        echo=lines.append,
        progress=False,
        dag_storage_options=store.options,
        artifacts_storage_options=store.options,
        timeout=timeout,
    )
    return report, "\n".join(lines)


def failed_publish(store: Store, dag: Path, artifacts: ArtifactSet) -> str:
    with pytest.raises(UserError) as error:
        publish_to(store, dag, artifacts)
    return str(error.value)


def line_of(message: str, prefix: str) -> str:
    return next((line for line in message.splitlines() if line.startswith(prefix)), "")


def test_full_upload_puts_every_file_in_place_and_nothing_else(store, artifacts, dag):
    report, said = publish_to(store, dag, artifacts)
    assert store.objects() == {**ARTIFACT_KEYS, "dags/demo.py": NEW_DAG}
    assert [url for _, url, _ in report.written][-1] == store.url("dags/demo.py")
    assert "published 5 file(s), 0 already there" in said
    # One upload per file: no temporary object, no copy, no delete.
    assert len(store.writes()) == 5


def test_reupload_without_change_rewrites_only_the_dag(store, artifacts, dag):
    publish_to(store, dag, artifacts)
    store.proxy.requests.clear()
    report, said = publish_to(store, dag, artifacts)
    assert store.objects() == {**ARTIFACT_KEYS, "dags/demo.py": NEW_DAG}
    assert len(report.skipped) == 4 and len(report.written) == 1
    assert "published 1 file(s), 4 already there" in said
    [only] = store.writes()
    assert store.upload_of("dags/demo.py")(*only)


def test_changed_upload_replaces_what_changed(store, artifacts, dag):
    dag.write_bytes(OLD_DAG)
    publish_to(store, dag, artifacts)
    dag.write_bytes(NEW_DAG)
    artifacts.conf.path.write_bytes(b"conf bytes, changed")
    report, _ = publish_to(store, dag, artifacts)
    objects = store.objects()
    assert objects["dags/demo.py"] == NEW_DAG
    assert objects["spark/v1/conf-demo-v1.tar.gz"] == b"conf bytes, changed"
    assert [url for _, url, _ in report.written] == [
        store.url("spark/v1/conf-demo-v1.tar.gz"),
        store.url("dags/demo.py"),
    ]


def test_connection_lost_before_the_dag_arrives_keeps_the_previous_dag(store, artifacts, dag):
    dag.write_bytes(OLD_DAG)
    publish_to(store, dag, artifacts)
    dag.write_bytes(NEW_DAG)
    cut = store.proxy.cut(store.upload_of("dags/demo.py"), when="before")
    message = failed_publish(store, dag, artifacts)
    assert cut.hits >= 1
    assert store.objects()["dags/demo.py"] == OLD_DAG
    assert line_of(message, "not written: ") == f"not written: {store.url('dags/demo.py')}"
    assert line_of(message, "written: ") == "written: nothing"
    assert f"the DAG was not replaced: {store.url('dags/demo.py')} still holds" in message


def test_connection_lost_after_the_dag_arrived_says_it_was_replaced(store, artifacts, dag):
    dag.write_bytes(OLD_DAG)
    publish_to(store, dag, artifacts)
    dag.write_bytes(NEW_DAG)
    cut = store.proxy.cut(store.upload_of("dags/demo.py"), when="after")
    message = failed_publish(store, dag, artifacts)
    assert cut.hits >= 1
    assert store.objects()["dags/demo.py"] == NEW_DAG
    assert line_of(message, "written: ") == f"written: {store.url('dags/demo.py')}"
    assert f"the new DAG is in place at {store.url('dags/demo.py')}" in message
    assert "not written" not in message and "not replaced" not in message
    assert message.endswith(
        "Every file is in place: the store took the write before the connection failed."
    )


def test_connection_lost_after_an_artifact_arrived_lists_it_as_written(store, artifacts, dag):
    cut = store.proxy.cut(store.upload_of("spark/v1/conf-demo-v1.tar.gz"), when="after")
    message = failed_publish(store, dag, artifacts)
    assert cut.hits >= 1
    assert sorted(store.objects()) == [
        "spark/v1/conf-demo-v1.tar.gz",
        "spark/v1/demo-0.1-py3-none-any.whl",
    ]
    assert line_of(message, "written: ") == "written: " + ", ".join(
        [store.url("spark/v1/demo-0.1-py3-none-any.whl"), store.url("spark/v1/conf-demo-v1.tar.gz")]
    )
    assert line_of(message, "not written: ") == "not written: " + ", ".join(
        [
            store.url("spark/v1/spark_run-demo-v1.py"),
            store.url("spark/v1/init-demo-v1.sh"),
            store.url("dags/demo.py"),
        ]
    )
    assert f"there is no DAG at {store.url('dags/demo.py')} (there was none before)" in message
    # The next run finishes the job and skips what is already there.
    store.proxy.heal()
    report, _ = publish_to(store, dag, artifacts)
    assert len(report.skipped) == 2
    assert store.objects() == {**ARTIFACT_KEYS, "dags/demo.py": NEW_DAG}


def test_skipped_artifacts_are_not_called_written_after_a_failure(store, artifacts, dag):
    publish_to(store, dag, artifacts)
    store.proxy.cut(store.upload_of("dags/demo.py"), when="before")
    dag.write_bytes(b"# DAG, version 3\n")
    message = failed_publish(store, dag, artifacts)
    assert line_of(message, "written: ") == "written: nothing"
    assert line_of(message, "already there: ").count(store.url("spark/v1/")) == 4


def test_leftovers_of_an_interrupted_move_are_removed_by_the_next_run(store, artifacts, dag):
    # What earlier releases left when the connection was lost after the copy of a move,
    # before its delete: the temporary object beside the DAG and beside an artifact.
    store.put("dags/demo.py", OLD_DAG)
    store.put("dags/demo.py.tmp-0123abcd", NEW_DAG)
    store.put("spark/v1/conf-demo-v1.tar.gz.tmp-89abcdef", b"conf bytes")
    store.put("dags/someone-else.py.tmp-00000000", b"not ours")
    _, said = publish_to(store, dag, artifacts)
    assert store.objects() == {
        **ARTIFACT_KEYS,
        "dags/demo.py": NEW_DAG,
        "dags/someone-else.py.tmp-00000000": b"not ours",
    }
    assert f"removed {store.url('dags/demo.py.tmp-0123abcd')}" in said
    assert f"removed {store.url('spark/v1/conf-demo-v1.tar.gz.tmp-89abcdef')}" in said
    assert "someone-else" not in said


def test_connection_lost_before_a_leftover_delete_is_reported_and_retried(store, artifacts, dag):
    store.put("dags/demo.py.tmp-0123abcd", OLD_DAG)
    store.proxy.cut(store.delete_of("dags/demo.py.tmp-0123abcd"), when="before")
    _, said = publish_to(store, dag, artifacts)
    assert f"could not remove {store.url('dags/demo.py.tmp-0123abcd')}" in said
    assert store.objects()["dags/demo.py"] == NEW_DAG
    store.proxy.heal()
    _, said = publish_to(store, dag, artifacts)
    assert f"removed {store.url('dags/demo.py.tmp-0123abcd')}" in said
    assert "dags/demo.py.tmp-0123abcd" not in store.objects()


def test_an_unresponsive_store_is_given_up_on_in_time(artifacts, dag, aws_profile):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    options = {"endpoint_url": f"http://127.0.0.1:{silent.getsockname()[1]}", "profile": "emulator"}
    start = time.monotonic()
    try:
        with pytest.raises(UserError) as error:
            publish(
                dag,
                "s3://silent-bucket/dags/",
                artifacts,
                "s3://silent-bucket/spark",
                echo=lambda _: None,
                dag_storage_options=options,
                artifacts_storage_options=options,
                timeout=1.5,
            )
    finally:
        silent.close()
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert message.startswith("publishing did not finish within 1.5 s (--timeout)")
    assert "the DAG was not replaced: s3://silent-bucket/dags/demo.py is as it was" in message


def test_upload_pipeline_takes_storage_options_from_the_config(
    make_project, cli, s3_server, aws_profile
):
    direct = fsspec.filesystem(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_server}",
        profile="emulator",
        skip_instance_cache=True,
    )
    direct.mkdir("kak-cli-dags")
    project = make_project(
        config={
            "output": "s3://kak-cli-dags/dags/",
            "output_storage_options": {
                "endpoint_url": f"http://127.0.0.1:{s3_server}",
                "profile": "emulator",
            },
            "run_config": {"image": "registry.example.com/demo:1", "namespace": "kedro"},
        }
    )
    result = cli(project, "upload-pipeline", "--timeout", "60")
    assert result.exit_code == 0, result.output
    dag_key = f"kak-cli-dags/dags/{project.name}.py"
    assert "'registry.example.com/demo:1'" in direct.cat_file(dag_key).decode()
    assert direct.find("kak-cli-dags") == [dag_key]
    assert f"is at s3://kak-cli-dags/dags/{project.name}.py" in result.output
    # The options stay on this machine: nothing of them is in the DAG.
    assert "emulator" not in direct.cat_file(dag_key).decode()
