"""Publishing: artifacts first, the DAG last, whole files only, and a clear account of failures."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.publish import dag_destination, human_size, publish


class OwnMemoryFileSystem(MemoryFileSystem):
    """A MemoryFileSystem under its own protocol, with its own store."""

    @classmethod
    def _strip_protocol(cls, path):
        # MemoryFileSystem only knows how to strip "memory://".
        prefix = f"{cls.protocol}://"
        return super()._strip_protocol(path[len(prefix) :] if path.startswith(prefix) else path)


class FlakyFileSystem(OwnMemoryFileSystem):
    """An in-memory store whose Nth write fails, like a network dropping mid-upload."""

    protocol = "flaky"
    store: dict = {}
    pseudo_dirs = [""]
    fail_on_write = 0
    writes = 0

    def _open(self, path, mode="rb", **kwargs):
        if "w" in mode:
            type(self).writes += 1
            if type(self).writes == type(self).fail_on_write:
                raise OSError("connection reset by peer")
        return super()._open(path, mode, **kwargs)


class ChecksumFileSystem(OwnMemoryFileSystem):
    """An in-memory store that reports MD5s like GCS and refuses downloads."""

    protocol = "checksum"
    store: dict = {}
    pseudo_dirs = [""]

    def info(self, path, **kwargs):
        info = super().info(path, **kwargs)
        if info["type"] == "file":
            data = self.store[self._strip_protocol(path)].getvalue()
            info["md5Hash"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        return info

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            raise AssertionError("an MD5 match must not download the file")
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
fsspec.register_implementation("checksum", ChecksumFileSystem, clobber=True)


@pytest.fixture(autouse=True)
def empty_stores():
    for fs_class in (MemoryFileSystem, FlakyFileSystem, ChecksumFileSystem):
        fs_class.store.clear()
        fs_class.pseudo_dirs[:] = [""]
    FlakyFileSystem.writes = 0
    FlakyFileSystem.fail_on_write = 0


@pytest.fixture
def dag(tmp_path: Path) -> Path:
    path = tmp_path / "demo.py"
    path.write_text("# new DAG\n")
    return path


def quiet(_: str) -> None:
    pass


def test_publish_to_local_directories(artifacts, dag, tmp_path):
    bucket, dags = tmp_path / "bucket", tmp_path / "dags"
    report = publish(dag, f"{dags}/", artifacts, str(bucket), echo=quiet)
    for artifact in artifacts:
        assert (bucket / "v1" / artifact.name).read_bytes() == artifact.path.read_bytes()
    assert (dags / "demo.py").read_text() == "# new DAG\n"
    assert [url for _, url, _ in report.written][-1] == f"{dags}/demo.py"
    assert len(report.written) == 5 and report.skipped == []
    assert not [p for p in tmp_path.rglob("*tmp*")]


def test_publish_to_memory_filesystem(artifacts, dag):
    report = publish(dag, "memory://dags/", artifacts, "memory://bucket/spark", echo=quiet)
    fs = fsspec.filesystem("memory")
    assert fs.cat("/bucket/spark/v1/init-demo-v1.sh") == b"#!/bin/bash\n"
    assert fs.cat("/dags/demo.py") == b"# new DAG\n"
    assert "memory://dags/demo.py" in report.summary()
    assert not [path for path in fs.find("/") if ".tmp-" in path]


def test_artifacts_go_up_before_the_dag(artifacts, dag):
    order = []
    publish(dag, "memory://dags/", artifacts, "memory://bucket", echo=order.append)
    uploads = [line.split()[1] for line in order if line.startswith("uploading")]
    assert uploads == [a.name for a in artifacts] + ["demo.py"]


def test_republish_skips_identical_artifacts_but_rewrites_changed_ones(artifacts, dag):
    publish(dag, "memory://dags/", artifacts, "memory://bucket", echo=quiet)
    artifacts.conf.path.write_bytes(b"conf bytes, changed")
    report = publish(dag, "memory://dags/", artifacts, "memory://bucket", echo=quiet)
    assert [url for _, url, _ in report.skipped] == [
        "memory://bucket/v1/demo-0.1-py3-none-any.whl",
        "memory://bucket/v1/spark_run-demo-v1.py",
        "memory://bucket/v1/init-demo-v1.sh",
    ]
    assert [url for _, url, _ in report.written] == [
        "memory://bucket/v1/conf-demo-v1.tar.gz",
        "memory://dags/demo.py",
    ]
    assert fsspec.filesystem("memory").cat("/bucket/v1/conf-demo-v1.tar.gz").endswith(b"changed")


def test_cloud_checksum_spares_the_download(artifacts, dag):
    publish(dag, "checksum://dags/", artifacts, "checksum://bucket", echo=quiet)
    report = publish(dag, "checksum://dags/", artifacts, "checksum://bucket", echo=quiet)
    assert len(report.skipped) == 4


def seed_old_dag() -> FlakyFileSystem:
    fs = fsspec.filesystem("flaky")
    fs.pipe("/dags/demo.py", b"# old DAG\n")
    FlakyFileSystem.writes = 0
    return fs


def test_failed_artifact_leaves_old_dag_and_says_what_was_written(artifacts, dag):
    fs = seed_old_dag()
    FlakyFileSystem.fail_on_write = 2  # the wheel goes up, the conf archive fails
    with pytest.raises(UserError) as error:
        publish(dag, "flaky://dags/", artifacts, "flaky://bucket", echo=quiet)
    assert fs.cat("/dags/demo.py") == b"# old DAG\n"
    assert FlakyFileSystem.writes == 2  # nothing was tried after the failure, the DAG least of all
    assert fs.exists("/bucket/v1/demo-0.1-py3-none-any.whl")
    assert not fs.exists("/bucket/v1/conf-demo-v1.tar.gz")
    message = str(error.value)
    assert "flaky://bucket/v1/conf-demo-v1.tar.gz failed: OSError: connection reset" in message
    assert "written: flaky://bucket/v1/demo-0.1-py3-none-any.whl\n" in message
    assert "not written: flaky://bucket/v1/conf-demo-v1.tar.gz" in message
    assert message.split("not written: ")[1].split("\n")[0].endswith("flaky://dags/demo.py")
    assert "the DAG was not replaced" in message
    assert not [path for path in fs.find("/") if ".tmp-" in path]


def test_failed_dag_write_keeps_the_previous_dag(artifacts, dag):
    fs = seed_old_dag()
    FlakyFileSystem.fail_on_write = 5
    with pytest.raises(UserError, match="not written: flaky://dags/demo.py"):
        publish(dag, "flaky://dags/", artifacts, "flaky://bucket", echo=quiet)
    assert fs.cat("/dags/demo.py") == b"# old DAG\n"
    assert all(fs.exists(f"/bucket/v1/{a.name}") for a in artifacts)


def test_failed_local_dag_write_keeps_the_previous_dag(dag, tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "demo.py").write_text("# old DAG\n")

    def broken_replace(*_):
        raise OSError("disk full")

    monkeypatch.setattr("kedro_airflow_k8s.publish.os.replace", broken_replace)
    with pytest.raises(UserError, match="disk full"):
        publish(dag, str(dags), None, None, echo=quiet)
    assert [p.name for p in dags.iterdir()] == ["demo.py"]
    assert (dags / "demo.py").read_text() == "# old DAG\n"


def test_plain_progress_lines_when_not_a_terminal(artifacts, dag, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    lines = []
    publish(dag, "memory://dags/demo.py", artifacts, "memory://bucket", echo=lines.append)
    assert lines[0] == (
        "uploading demo-0.1-py3-none-any.whl (2.9 KiB) -> "
        "memory://bucket/v1/demo-0.1-py3-none-any.whl"
    )
    assert lines[4] == "uploading demo.py (10 B) -> memory://dags/demo.py"
    assert lines[5].startswith("published 5 file(s), 0 already there:")


def test_progress_bar_mode_writes_the_same_files(artifacts, dag, capsys):
    publish(dag, "memory://dags/", artifacts, "memory://bucket", echo=quiet, progress=True)
    assert fsspec.filesystem("memory").cat("/dags/demo.py") == b"# new DAG\n"
    assert "uploading" not in capsys.readouterr().out


def test_dag_url_may_be_a_directory_or_a_file(tmp_path):
    (tmp_path / "dags").mkdir()
    assert dag_destination(str(tmp_path / "dags"), "x.py") == f"{tmp_path}/dags/x.py"
    assert dag_destination("memory://d/", "x.py") == "memory://d/x.py"
    assert dag_destination("memory://d/other.py", "x.py") == "memory://d/other.py"


def test_artifacts_need_a_destination(artifacts, dag):
    with pytest.raises(UserError, match="run_config.spark.artifacts_path is not set"):
        publish(dag, "memory://dags/", artifacts, None, echo=quiet)
    assert not fsspec.filesystem("memory").exists("/dags/demo.py")


def test_artifacts_built_for_another_url_are_refused(artifacts, dag):
    moved = dataclasses.replace(artifacts, artifacts_url="gs://bucket/spark")
    with pytest.raises(UserError, match="built for gs://bucket/spark"):
        publish(dag, "memory://dags/", moved, "memory://elsewhere", echo=quiet)


def test_unknown_destination_fails_before_anything_is_written(artifacts, dag):
    with pytest.raises(UserError, match="cannot open nosuchfs://dags/demo.py"):
        publish(dag, "nosuchfs://dags/", artifacts, "memory://bucket", echo=quiet)
    assert fsspec.filesystem("memory").find("/") == []


def test_dag_alone_is_published_without_artifacts(dag, tmp_path):
    report = publish(dag, str(tmp_path / "out.py"), None, None, echo=quiet)
    assert (tmp_path / "out.py").read_text() == "# new DAG\n"
    assert len(report.written) == 1


@pytest.mark.parametrize(
    ("size", "text"), [(10, "10 B"), (12595, "12.3 KiB"), (5 * 1024**2, "5.0 MiB")]
)
def test_human_size(size, text):
    assert human_size(size) == text


# -- fault scenarios on filesystems that are not object stores -------------------------------


class FaultyFileSystem(OwnMemoryFileSystem):
    """An in-memory store whose Nth write, move or delete fails. A failing write keeps the
    half it sent, at the name it was writing, as a filesystem that shows a file while it is
    written does; ``can_move`` False is a filesystem without copy or move."""

    protocol = "faulty"
    store: dict = {}
    pseudo_dirs = [""]
    can_move = True
    fail_at = 0
    operations = 0
    failed = ""

    @classmethod
    def tick(cls, what: str) -> None:
        cls.operations += 1
        if cls.operations == cls.fail_at:
            cls.failed = what
            raise OSError(f"connection lost during {what}")

    def _open(self, path, mode="rb", **kwargs):
        handle = super()._open(path, mode, **kwargs)
        if "w" in mode:
            write = handle.write

            def half_then_fail(data):
                try:
                    type(self).tick("write")
                except OSError:
                    write(data[: len(data) // 2])
                    raise
                return write(data)

            handle.write = half_then_fail
        return handle

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        # Through open(), as most filesystems do (MemoryFileSystem's own skips it).
        with self.open(path, "wb") as sink:
            sink.write(value)

    def cp_file(self, path1, path2, **kwargs):
        if not type(self).can_move:
            raise NotImplementedError
        type(self).tick("copy")
        return super().cp_file(path1, path2, **kwargs)

    def rm_file(self, path):
        type(self).tick("delete")
        return super().rm_file(path)


fsspec.register_implementation("faulty", FaultyFileSystem, clobber=True)
OLD_DAG = b"# old DAG\n" * 50
NEW_DAG = b"# new DAG\n" * 70


def temporaries(fs) -> list[str]:
    return [path for path in fs.find("/") if ".partial-" in path or ".tmp-" in path]


@pytest.mark.parametrize("can_move", [True, False], ids=["with-move", "without-move"])
@pytest.mark.parametrize("fail_at", range(1, 17))
def test_no_fault_leaves_a_partial_dag_or_temporary_files(can_move, fail_at, artifacts, tmp_path):
    fs = fsspec.filesystem("faulty")
    fs.store.clear()
    fs.pseudo_dirs[:] = [""]
    fs.pipe("/dags/demo.py", OLD_DAG)
    dag = tmp_path / "demo.py"
    dag.write_bytes(NEW_DAG)
    FaultyFileSystem.can_move, FaultyFileSystem.operations = can_move, 0
    FaultyFileSystem.fail_at, FaultyFileSystem.failed = fail_at, ""
    try:
        publish(dag, "faulty://dags/", artifacts, "faulty://bucket", echo=quiet)
        message = None
    except UserError as error:
        message = str(error)
    FaultyFileSystem.fail_at = 0
    assert fs.cat("/dags/demo.py") in (OLD_DAG, NEW_DAG)  # whole, old or new, never a part
    if message is not None:
        if fs.cat("/dags/demo.py") == OLD_DAG:
            assert "the DAG was not replaced: faulty://dags/demo.py still holds" in message
        else:
            assert "the new DAG is in place at faulty://dags/demo.py" in message
    left = temporaries(fs)
    # Only a failed delete of a temporary file may leave one; the next run removes it.
    assert not left or FaultyFileSystem.failed == "delete"
    if fail_at <= FaultyFileSystem.operations and FaultyFileSystem.failed != "delete":
        assert message is not None  # every fault but a lost cleanup is reported
    said = []
    publish(dag, "faulty://dags/", artifacts, "faulty://bucket", echo=said.append)
    assert temporaries(fs) == []
    assert all(f"removed faulty://{path.lstrip('/')}" in "\n".join(said) for path in left)
    assert fs.cat("/dags/demo.py") == NEW_DAG


def test_a_failed_write_on_a_local_disk_leaves_no_partial_file(dag, tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "demo.py").write_text("# old DAG\n")

    def disk_full(_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("kedro_airflow_k8s.storage.os.fsync", disk_full)
    with pytest.raises(UserError) as error:
        publish(dag, str(dags), None, None, echo=quiet)
    assert [p.name for p in dags.iterdir()] == ["demo.py"]
    assert (dags / "demo.py").read_text() == "# old DAG\n"
    assert f"the DAG was not replaced: {dags}/demo.py still holds the previous DAG" in str(
        error.value
    )


def test_leftovers_on_a_local_disk_are_removed_by_the_next_run(dag, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in (
        ".demo.py.partial-1795850043-0a1b2c",
        ".demo.py.tmp-k2j_x9a1",
        ".other.py.tmp-aaaaaaaa",
    ):
        (dags / name).write_text("# leftover\n")
    said = []
    publish(dag, f"{dags}/", None, None, echo=said.append)
    assert sorted(p.name for p in dags.iterdir()) == [".other.py.tmp-aaaaaaaa", "demo.py"]
    assert f"removed {dags}/.demo.py.partial-1795850043-0a1b2c" in "\n".join(said)
    assert f"removed {dags}/.demo.py.tmp-k2j_x9a1" in "\n".join(said)
