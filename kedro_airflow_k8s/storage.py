"""The fsspec side of publishing: open a URL with its storage options, write a file whole."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import posixpath
import re
import secrets
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import fsspec
from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.implementations.local import LocalFileSystem

from kedro_airflow_k8s.atomic import atomic_file
from kedro_airflow_k8s.errors import UserError

log = logging.getLogger("kedro_airflow_k8s.publish")

CHUNK = 1024 * 1024
# Stores where an object appears only once its upload is complete: a direct write is whole
# or nothing, so no temporary object is ever needed there.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss"})
DRIVER_PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "s3a": "s3fs", "abfs": "adlfs"}
LIBRARY_LOGGERS = (
    "gcsfs",
    "s3fs",
    "fsspec",
    "adlfs",
    "botocore",
    "aiobotocore",
    "boto3",
    "s3transfer",
    "google",
    "urllib3",
    "aiohttp",
)
# Temporary files of a write in progress: ".<name>.partial-<unix time>-<hex>", a name
# Airflow never parses (not .py, not a zip) and that says what it is.
PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-\d+-[0-9a-f]{6}$")
# What earlier releases left behind: "<name>.tmp-<hex>" on object stores, and
# ".<name>.tmp-<random>" from tempfile on local disks.
LEGACY_REMOTE = re.compile(r"^(?P<name>.+)\.tmp-[0-9a-f]{8}$")
LEGACY_LOCAL = re.compile(r"^\.(?P<name>.+)\.tmp-[a-z0-9_]{8}$")


@dataclass(frozen=True)
class Target:
    """One destination URL, opened: the filesystem and the path inside it."""

    url: str
    fs: Any
    path: str

    @property
    def scheme(self) -> str:
        return scheme_of(self.url)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def is_object_store(self) -> bool:
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        return bool(OBJECT_STORES.intersection(protocols))

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def open_target(
    url: str, storage_options: Mapping[str, Any] | None = None, options_key: str = ""
) -> Target:
    """Open ``url`` with fsspec; a missing driver or a bad option is a UserError naming it."""
    # A deep copy: botocore edits nested option dicts (retries) in place.
    options = copy.deepcopy(dict(storage_options or {}))
    scheme = scheme_of(url)
    try:
        if scheme in ("gs", "gcs") and not _extended_gcsfs_wanted():
            # gcsfs's default class first asks a gRPC endpoint for the bucket type, which
            # takes minutes to give up on anything but Google itself (emulators, proxies).
            from gcsfs.core import GCSFileSystem

            fs = GCSFileSystem(**options)
            return Target(url, fs, fs._strip_protocol(url))
        fs, path = fsspec.core.url_to_fs(url, **options)
        return Target(url, fs, path)
    except Exception as error:  # drivers fail in their own ways: missing module, bad option
        package = DRIVER_PACKAGES.get(scheme)
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if isinstance(error, ImportError) and package:
            hint = f"; pip install {package}"
        elif isinstance(error, TypeError) and options and options_key:
            hint = f"; check the keys of {options_key}"
        else:
            hint = ""
        raise UserError(f"cannot open {url}: {first_line}{hint}") from error


def _extended_gcsfs_wanted() -> bool:
    value = os.environ.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")
    return value is not None and value.lower() in ("true", "1")


@contextmanager
def library_output_to_debug() -> Iterator[None]:
    """Send the storage libraries' log records and warnings to our debug log, not the user."""
    relay = _DebugRelay()
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers = [relay]
        logger.propagate = False
    with warnings.catch_warnings():
        warnings.showwarning = _warning_to_debug
        try:
            yield
        finally:
            for logger, handlers, propagate in saved:
                logger.handlers = handlers
                logger.propagate = propagate


class _DebugRelay(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug(
            "%s %s: %s",
            record.name,
            record.levelname,
            record.getMessage(),
            exc_info=record.exc_info,
        )


def _warning_to_debug(message, category, filename, lineno, file=None, line=None) -> None:
    log.debug("%s: %s (%s:%s)", category.__name__, message, filename, lineno)


# -- writing ---------------------------------------------------------------------------------


def write_whole(target: Target, local: Path, progress: bool = False) -> None:
    """Put ``local`` at ``target`` so that readers see the old file or the new one, whole.

    Object stores: one upload straight to the final name (an object appears only when its
    upload completes). Local disks: a temporary file beside it, then an atomic rename.
    Other filesystems: a temporary file and a move; without a move, a direct write that
    puts the previous content back if it fails.
    """
    size = local.stat().st_size
    if target.is_object_store:
        with _progress(size, local.name, progress) as callback:
            target.fs.put_file(str(local), target.path, callback=callback or DEFAULT_CALLBACK)
        return
    if target.directory:
        target.fs.makedirs(target.directory, exist_ok=True)
    if target.is_local:
        _write_local(target.path, local, size, progress)
    else:
        _write_staged(target, local, size, progress)


def partial_name(path: str) -> str:
    """The temporary name a write to ``path`` goes through."""
    directory, name = posixpath.split(path)
    stamp = f"{int(time.time())}-{secrets.token_hex(3)}"
    return posixpath.join(directory, f".{name}.partial-{stamp}")


def _write_local(path: str, local: Path, size: int, progress: bool) -> None:
    temp = Path(partial_name(path))
    with atomic_file(Path(path), 0o644, temp) as sink, local.open("rb") as source:
        _copy(source, sink, size, local.name, progress)


def _write_staged(target: Target, local: Path, size: int, progress: bool) -> None:
    fs, path = target.fs, target.path
    temp = partial_name(path)
    try:
        with local.open("rb") as source, fs.open(temp, "wb") as sink:
            _copy(source, sink, size, local.name, progress)
        try:
            fs.mv(temp, path)
        except NotImplementedError:
            _write_direct(fs, path, local)
    finally:
        _remove_quietly(fs, temp)


def _write_direct(fs: Any, path: str, local: Path) -> None:
    """Write ``path`` in one call; if that fails, put back what was there (or nothing)."""
    previous = fs.cat_file(path) if fs.exists(path) else None
    try:
        fs.pipe_file(path, local.read_bytes())
    except BaseException:
        try:
            if previous is None:
                _remove_quietly(fs, path)
            else:
                fs.pipe_file(path, previous)
        except Exception as error:  # the original error matters more; the check reports
            log.debug("could not restore %s: %s", path, error)
        raise


def _remove_quietly(fs: Any, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm_file(path)
    except Exception as error:  # a leftover is cleaned by the next run, and reported then
        log.debug("could not remove %s: %s", path, error)


class _BarCallback(Callback):
    def __init__(self, bar: Any) -> None:
        super().__init__()
        self.bar = bar
        self.shown = 0

    def call(self, *args: Any, **kwargs: Any) -> None:
        self.bar.update(self.value - self.shown)
        self.shown = self.value


@contextmanager
def _progress(size: int, label: str, progress: bool) -> Iterator[Callback | None]:
    if not progress:
        yield None
        return
    with click.progressbar(length=size, label=label, show_pos=False) as bar:
        yield _BarCallback(bar)


def _copy(source, sink, size: int, label: str, progress: bool) -> None:
    with _progress(size, label, progress) as callback:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
            if callback is not None:
                callback.relative_update(len(chunk))


# -- reading back ----------------------------------------------------------------------------


def holds(target: Target, local: Path) -> bool:
    """Whether ``target`` holds exactly the bytes of ``local``: size first, then a checksum."""
    try:
        info = target.fs.info(target.path)
    except FileNotFoundError:
        return False
    size = local.stat().st_size
    if info.get("type") != "file" or info.get("size") != size:
        return False
    data = local.read_bytes()
    md5 = hashlib.md5(data, usedforsecurity=False)
    # Cloud stores report an MD5 of each object; comparing it saves downloading the file.
    if "md5Hash" in info:  # gcsfs: base64 of the digest
        import base64

        return info["md5Hash"] == base64.b64encode(md5.digest()).decode()
    etag = str(info.get("ETag", "")).strip('"')
    if etag and "-" not in etag:  # s3fs: hex digest, unless the upload was multipart
        return etag == md5.hexdigest()
    return target.fs.cat_file(target.path) == data


def content_of(target: Target) -> bytes | None:
    """The bytes at ``target``, or None when there is nothing there."""
    try:
        return target.fs.cat_file(target.path)
    except FileNotFoundError:
        return None


def forget_listings(target: Target) -> None:
    """Make the next look at ``target`` ask the store, not fsspec's cache."""
    try:
        target.fs.invalidate_cache()
    except Exception as error:
        log.debug("could not invalidate the cache of %s: %s", target.url, error)


def leftovers(target: Target, names: set[str]) -> list[str]:
    """Temporary files of earlier, failed writes of ``names`` in the directory of ``target``."""
    try:
        entries = target.fs.ls(target.directory, detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        base = posixpath.basename(entry.rstrip("/"))
        for pattern in (PARTIAL, LEGACY_REMOTE, LEGACY_LOCAL):
            match = pattern.match(base)
            if match and match.group("name") in names:
                found.append(entry)
                break
    return found


def url_of(target: Target, path: str) -> str:
    """The URL of ``path``, a sibling of ``target``, spelled like ``target.url``."""
    base = posixpath.basename(path)
    if "/" not in target.url:
        return base
    return f"{target.url.rsplit('/', 1)[0]}/{base}"
