"""Writes the DAG and its Spark artifacts to their destinations: artifacts first, the DAG last."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from kedro_airflow_k8s.artifacts import ArtifactSet
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.storage import (
    Target,
    content_of,
    forget_listings,
    holds,
    leftovers,
    library_output_to_debug,
    open_target,
    url_of,
    write_whole,
)

DEFAULT_TIMEOUT = 300.0
# After the time runs out, how long the write under way may take to finish or fail.
GRACE = 2.0
Echo = Callable[[str], Any]


@dataclass
class PublishReport:
    """What went where: (local file, destination URL, size in bytes) per file."""

    written: list[tuple[Path, str, int]] = field(default_factory=list)
    skipped: list[tuple[Path, str, int]] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"published {len(self.written)} file(s), {len(self.skipped)} already there:"]
        lines += [f"  wrote   {url} ({human_size(size)})" for _, url, size in self.written]
        lines += [f"  kept    {url} (identical)" for _, url, _ in self.skipped]
        lines += [f"  removed {url} (left by an earlier failed upload)" for url in self.cleaned]
        return "\n".join(lines)


@dataclass
class Upload:
    """One local file and the destination it goes to."""

    local: Path
    target: Target
    is_dag: bool = False
    attempted: bool = False

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def size(self) -> int:
        return self.local.stat().st_size


@dataclass
class _Progress:
    """What a publish has done so far; read by the caller when the time runs out."""

    report: PublishReport = field(default_factory=PublishReport)
    uploads: list[Upload] = field(default_factory=list)
    current: Upload | None = None
    previous_dag: bytes | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def publish(
    dag_file: Path,
    dag_url: str,
    artifacts: ArtifactSet | None = None,
    artifacts_url: str | None = None,
    echo: Echo = click.echo,
    progress: bool | None = None,
    dag_storage_options: Mapping[str, Any] | None = None,
    artifacts_storage_options: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> PublishReport:
    """Write every artifact under ``artifacts_url/<version>/``, then ``dag_file`` to ``dag_url``.

    URLs are anything fsspec opens (paths, file://, memory://, gs://, s3://), opened with
    the given storage options. ``dag_url`` ending in "/" or naming an existing directory
    gets ``dag_file.name`` inside it. Artifacts already there with identical content are
    not written again. The DAG is written only when every artifact is in place, and whole,
    so a failure leaves the previous DAG as it was. Temporary files that earlier failed
    runs left beside the destinations are removed first. After a failure the destinations
    are read back, and the message says what they hold. Everything is over within
    ``timeout`` seconds. ``progress`` shows a bar per file; by default only on a terminal.
    """
    dag_file = Path(dag_file)
    if progress is None:
        progress = sys.stdout.isatty()
    destinations: list[tuple[Path, str, Mapping[str, Any] | None, str]] = []
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
        options_key = "run_config.spark.artifacts_storage_options"
        destinations += [
            (artifact.path, urls[artifact.kind], artifacts_storage_options, options_key)
            for artifact in artifacts
        ]
    dag_target = dag_destination(dag_url, dag_file.name, dag_storage_options)
    destinations.append((dag_file, dag_target, dag_storage_options, "output_storage_options"))

    state = _Progress()
    with library_output_to_debug():
        finished, error = _bounded(
            lambda: _publish_all(state, destinations, echo, progress), timeout, state
        )
    if not finished:
        raise UserError(_timeout_message(state, destinations, timeout))
    if error is not None:
        raise error
    echo(state.report.summary())
    return state.report


def _bounded(work: Callable[[], None], seconds: float, state: _Progress):
    """Run ``work`` in a thread for at most ``seconds``: (finished, exception raised)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
            outcome.append(None)
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=run, name="kedro-airflow-k8s-publish", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        state.stop.set()  # nothing new is started; the write under way may still end
        worker.join(GRACE)
    if not outcome:
        return False, None
    return True, outcome[0]


def _publish_all(
    state: _Progress,
    destinations: list[tuple[Path, str, Mapping[str, Any] | None, str]],
    echo: Echo,
    progress: bool,
) -> None:
    # Open every destination before writing anything: a missing gcsfs must not stop us halfway.
    for position, (local, url, options, key) in enumerate(destinations):
        is_dag = position == len(destinations) - 1
        state.uploads.append(Upload(local, open_target(url, options, key), is_dag))
    report = state.report
    dag = state.uploads[-1]
    state.previous_dag = _read_quietly(dag.target)
    report.cleaned += _remove_leftovers(state.uploads, echo)
    for upload in state.uploads:
        if state.stop.is_set():
            return
        state.current = upload
        try:
            # The DAG is always rewritten; artifacts are immutable per version, so equal is done.
            if not upload.is_dag and holds(upload.target, upload.local):
                report.skipped.append((upload.local, upload.url, upload.size))
                echo(f"unchanged {upload.local.name} -> {upload.url}")
                continue
            if not progress:
                echo(f"uploading {upload.local.name} ({human_size(upload.size)}) -> {upload.url}")
            upload.attempted = True
            write_whole(upload.target, upload.local, progress)
        except Exception as error:
            raise UserError(_failure_message(state, upload, error)) from error
        report.written.append((upload.local, upload.url, upload.size))
    state.current = None


def _read_quietly(target: Target) -> bytes | None:
    try:
        return content_of(target)
    except Exception:  # a DAG we cannot read is one we cannot compare with; nothing more
        return None


def _remove_leftovers(uploads: list[Upload], echo: Echo) -> list[str]:
    """Remove the temporary files that failed writes of these files left, and say so."""
    names_by_directory: dict[tuple[int, str], tuple[Target, set[str]]] = {}
    for upload in uploads:
        key = (id(upload.target.fs), upload.target.directory)
        target, names = names_by_directory.setdefault(key, (upload.target, set()))
        names.add(os.path.basename(upload.target.path))
    removed = []
    for target, names in names_by_directory.values():
        forget_listings(target)  # a listing cached by an earlier publish may be stale
        try:
            found = leftovers(target, names)
        except Exception as error:  # the uploads themselves say whether the store answers
            echo(f"could not look for leftovers of earlier uploads in {target.url}: {error}")
            continue
        for path in found:
            url = url_of(target, path)
            try:
                target.fs.rm_file(path)
            except Exception as error:
                echo(
                    f"could not remove {url}, left by an earlier failed upload "
                    f"({type(error).__name__}: {error}); the next upload tries again"
                )
                continue
            echo(f"removed {url}, left by an earlier failed upload")
            removed.append(url)
    return removed


def dag_destination(
    dag_url: str, file_name: str, storage_options: Mapping[str, Any] | None = None
) -> str:
    """``dag_url`` itself when it names a .py file, else ``dag_url/file_name``."""
    if dag_url.endswith(("/", os.sep)):
        return dag_url + file_name
    if not dag_url.endswith(".py"):
        return dag_url.rstrip("/") + "/" + file_name
    target = open_target(dag_url, storage_options, "output_storage_options")
    if target.fs.isdir(target.path):
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


# -- telling the truth after a failure -------------------------------------------------------

NEW, ABSENT, OTHER = "new", "absent", "other"
EVERYTHING_IN_PLACE = (
    "Every file is in place: the store took the write before the connection failed."
)
RUN_AGAIN = "Fix the cause and run upload-pipeline again: files already in place are skipped."


def _state_of(upload: Upload) -> str:
    """NEW, ABSENT, OTHER, or why the destination could not be read."""
    forget_listings(upload.target)
    try:
        if holds(upload.target, upload.local):
            return NEW
        return OTHER if upload.target.fs.exists(upload.target.path) else ABSENT
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def _failure_message(state: _Progress, failed: Upload, error: Exception) -> str:
    lines = [f"publishing stopped: writing {failed.url} failed: {type(error).__name__}: {error}"]
    account, complete = _account(state, state.uploads[state.uploads.index(failed) :])
    lines += account
    if complete:
        lines.append(EVERYTHING_IN_PLACE)
    else:
        lines.append(RUN_AGAIN)
    return "\n".join(lines)


def _timeout_message(
    state: _Progress,
    destinations: list[tuple[Path, str, Mapping[str, Any] | None, str]],
    timeout: float,
) -> str:
    report = state.report
    done = {url for _, url, _ in report.written} | {url for _, url, _ in report.skipped}
    current = state.current
    doing = f"while writing {current.url}" if current else "while connecting"
    lines = [f"publishing did not finish within {timeout:g} s (--timeout), {doing}"]
    lines.append("written: " + (", ".join(url for _, url, _ in report.written) or "nothing"))
    if report.skipped:
        lines.append("already there: " + ", ".join(url for _, url, _ in report.skipped))
    rest = [url for _, url, _, _ in destinations if url not in done]
    lines.append("not known to be written: " + ", ".join(rest))
    dag_url = destinations[-1][1]
    if current is not None and current.is_dag:
        lines.append(
            f"the DAG was being written when the time ran out: {dag_url} holds the previous "
            "DAG or the new one, whole; run again to be sure which"
        )
    else:
        lines.append(f"the DAG was not replaced: {dag_url} is as it was")
    lines.append(
        "The store did not answer in time: check the URL, the endpoint "
        "(endpoint_url in the storage options), the network and the credentials "
        "(without credentials, Google's client waits for a metadata server), "
        "or give a longer --timeout."
    )
    return "\n".join(lines)


def _account(state: _Progress, unsure: list[Upload]) -> tuple[list[str], bool]:
    """What every destination holds (the finished ones from the report, the others read
    back), and whether every file is in place."""
    report = state.report
    written = [url for _, url, _ in report.written]
    kept = [url for _, url, _ in report.skipped]
    missing: list[str] = []
    unknown: list[str] = []
    states = {}
    for upload in unsure:
        states[upload.url] = found = _state_of(upload)
        if found == NEW:
            # Reached the store before the error reached us, or was there already.
            (written if upload.attempted else kept).append(upload.url)
        elif found in (ABSENT, OTHER):
            missing.append(upload.url)
        else:
            unknown.append(f"{upload.url} ({found})")
    lines = ["written: " + (", ".join(written) if written else "nothing")]
    if kept:
        lines.append("already there: " + ", ".join(kept))
    if missing:
        lines.append("not written: " + ", ".join(missing))
    if unknown:
        lines.append("could not be checked: " + ", ".join(unknown))
    dag = state.uploads[-1]
    lines.append(_dag_sentence(dag, states.get(dag.url, NEW), state.previous_dag))
    return lines, not missing and not unknown


def _dag_sentence(dag: Upload, found: str, previous: bytes | None) -> str:
    if found == NEW:
        return f"the new DAG is in place at {dag.url}"
    if found == ABSENT:
        before = " (there was none before)" if previous is None else " (the previous one is gone)"
        return f"there is no DAG at {dag.url}{before}"
    if found != OTHER:
        return f"what is at {dag.url} could not be checked ({found})"
    now = _read_quietly(dag.target)
    if previous is not None and now is not None and _digest(now) == _digest(previous):
        return f"the DAG was not replaced: {dag.url} still holds the previous DAG"
    size = "unknown size" if now is None else human_size(len(now))
    return (
        f"{dag.url} holds neither the previous DAG nor the new one ({size}): "
        "another upload may have replaced it meanwhile; run upload-pipeline again"
    )


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
