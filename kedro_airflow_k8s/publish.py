"""Writes the DAG and its Spark artifacts to their destinations: artifacts first, the DAG last."""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import fsspec
from fsspec.implementations.local import LocalFileSystem

from kedro_airflow_k8s.artifacts import ArtifactSet
from kedro_airflow_k8s.errors import UserError

CHUNK = 1024 * 1024


@dataclass
class PublishReport:
    """What went where: (local file, destination URL, size in bytes) per file."""

    written: list[tuple[Path, str, int]] = field(default_factory=list)
    skipped: list[tuple[Path, str, int]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"published {len(self.written)} file(s), {len(self.skipped)} already there:"]
        lines += [f"  wrote   {url} ({human_size(size)})" for _, url, size in self.written]
        lines += [f"  kept    {url} (identical)" for _, url, _ in self.skipped]
        return "\n".join(lines)


def publish(
    dag_file: Path,
    dag_url: str,
    artifacts: ArtifactSet | None = None,
    artifacts_url: str | None = None,
    echo: Callable[[str], Any] = click.echo,
    progress: bool | None = None,
) -> PublishReport:
    """Write every artifact under ``artifacts_url/<version>/``, then ``dag_file`` to ``dag_url``.

    URLs are anything fsspec opens (paths, file://, memory://, gs://, s3://).
    ``dag_url`` ending in "/" or naming an existing directory gets ``dag_file.name``
    inside it. Artifacts already there with identical content are not written
    again. The DAG is written only when every artifact is in place, and through a
    temporary file and a rename, so a failure leaves the previous DAG as it was.
    ``progress`` shows a bar per file; by default only when stdout is a terminal.
    """
    dag_file = Path(dag_file)
    if progress is None:
        progress = sys.stdout.isatty()
    plan: list[tuple[Path, str]] = []
    if artifacts is not None:
        if not artifacts_url:
            raise UserError(
                "run_config.spark.artifacts_path is not set: the Spark artifacts need a "
                "destination (gs://bucket/path, s3://bucket/path or a shared directory)"
            )
        built_for = (artifacts.artifacts_url or artifacts_url).rstrip("/")
        if built_for != artifacts_url.rstrip("/"):
            raise UserError(
                f"the Spark artifacts were built for {artifacts.artifacts_url} but are being "
                f"published to {artifacts_url}: compile again so the init script fetches "
                "them from where they are"
            )
        urls = artifacts.urls(artifacts_url)
        plan += [(artifact.path, urls[artifact.kind]) for artifact in artifacts]
    plan.append((dag_file, dag_destination(dag_url, dag_file.name)))
    # Open every destination before writing anything: a missing gcsfs must not stop us halfway.
    filesystems = [filesystem(url) for _, url in plan]

    report = PublishReport()
    for position, ((local, url), (fs, path)) in enumerate(zip(plan, filesystems, strict=True)):
        size = local.stat().st_size
        is_dag = position == len(plan) - 1
        try:
            # The DAG is always rewritten; artifacts are immutable per version, so equal is done.
            if not is_dag and _same_content(fs, path, local, size):
                report.skipped.append((local, url, size))
                echo(f"unchanged {local.name} -> {url}")
                continue
            _write(fs, path, local, size, url, echo, progress)
        except Exception as error:
            raise UserError(_failure(report, plan[position:], url, error)) from error
        report.written.append((local, url, size))
    echo(report.summary())
    return report


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and path for ``url``; a missing driver is named, with its package."""
    try:
        return fsspec.core.url_to_fs(url)
    except Exception as error:  # drivers fail in their own ways: missing module, no JVM, ...
        scheme = url.split("://", 1)[0]
        package = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "s3a": "s3fs"}.get(scheme)
        hint = f"; pip install {package}" if package else ""
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"cannot open {url}: {first_line}{hint}") from error


def dag_destination(dag_url: str, file_name: str) -> str:
    """``dag_url`` itself when it names a .py file, else ``dag_url/file_name``."""
    if dag_url.endswith(("/", os.sep)):
        return dag_url + file_name
    if not dag_url.endswith(".py"):
        return dag_url.rstrip("/") + "/" + file_name
    fs, path = filesystem(dag_url)
    if fs.isdir(path):
        return dag_url.rstrip("/") + "/" + file_name
    return dag_url


def human_size(size: int) -> str:
    """12345 -> '12.1 KiB'."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _write(
    fs: Any,
    path: str,
    local: Path,
    size: int,
    url: str,
    echo: Callable[[str], Any],
    progress: bool,
) -> None:
    if not progress:
        echo(f"uploading {local.name} ({human_size(size)}) -> {url}")
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with local.open("rb") as source:
        if isinstance(fs, LocalFileSystem):
            _write_local(source, path, size, local.name, progress)
        else:
            _write_remote(fs, source, path, size, local.name, progress)


def _write_local(source, path: str, size: int, label: str, progress: bool) -> None:
    # os.replace is atomic within one directory: readers see the old file or the new, whole.
    target = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as sink:
            _copy(source, sink, size, label, progress)
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_remote(fs: Any, source, path: str, size: int, label: str, progress: bool) -> None:
    # Object stores show an object only once its upload completes, so a temporary name plus
    # a server-side move is whole-or-nothing; where mv is missing, a direct write is the best
    # there is (and on object stores already atomic).
    temp = f"{path}.tmp-{secrets.token_hex(4)}"
    with fs.open(temp, "wb") as sink:
        _copy(source, sink, size, label, progress)
    try:
        fs.mv(temp, path)
    except NotImplementedError:
        source.seek(0)
        with fs.open(path, "wb") as sink:
            _copy(source, sink, size, label, progress)
        fs.rm(temp)
    except BaseException:
        try:
            fs.rm(temp)
        except Exception:  # the original error matters more than a leftover temp file
            pass
        raise


def _copy(source, sink, size: int, label: str, progress: bool) -> None:
    if not progress:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
        return
    with click.progressbar(length=size, label=label, show_pos=False) as bar:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
            bar.update(len(chunk))


def _same_content(fs: Any, path: str, local: Path, size: int) -> bool:
    """Whether ``path`` already holds exactly ``local``: size first, then a checksum."""
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return False
    if info.get("type") != "file" or info.get("size") != size:
        return False
    data = local.read_bytes()
    # Cloud stores report an MD5 of each object; comparing it saves downloading the file.
    md5 = hashlib.md5(data, usedforsecurity=False)
    if "md5Hash" in info:  # gcsfs: base64 of the digest
        return info["md5Hash"] == base64.b64encode(md5.digest()).decode()
    etag = str(info.get("ETag", "")).strip('"')
    if etag and "-" not in etag:  # s3fs: hex digest, unless the upload was multipart
        return etag == md5.hexdigest()
    with fs.open(path, "rb") as remote:
        return hashlib.sha256(remote.read()).digest() == hashlib.sha256(data).digest()


def _failure(
    report: PublishReport, remaining: list[tuple[Path, str]], failed_url: str, error: Exception
) -> str:
    lines = [f"publishing stopped: writing {failed_url} failed: {type(error).__name__}: {error}"]
    done = [url for _, url, _ in report.written] + [url for _, url, _ in report.skipped]
    lines.append("written: " + (", ".join(done) if done else "nothing"))
    lines.append("not written: " + ", ".join(url for _, url in remaining))
    lines.append(
        "the DAG was not replaced; the previous one (if any) is still in place. "
        "Fix the cause and run upload-pipeline again: files already written are skipped."
    )
    return "\n".join(lines)
