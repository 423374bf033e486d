"""Files written whole or not at all: a temporary file beside the target, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(
    path: Path, mode: int | None = None, temp: Path | None = None
) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` when the block ends without an error; readers
    see the old file or the new one, whole. ``mode`` defaults to what the umask gives;
    ``temp`` names the temporary file (it must not exist), else a fresh name is chosen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if temp is None:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        temp = Path(name)
    else:
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600; DAG files and artifacts must be readable by other users.
        os.chmod(temp, mode if mode is not None else 0o666 & ~current_umask())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` whole or not at all."""
    with atomic_file(path, mode) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_if_changed(path: Path, data: bytes, mode: int | None = None) -> None:
    """``write_atomic``, except that a file that already holds ``data`` stays as it is."""
    if path.is_file() and path.read_bytes() == data:
        return
    write_atomic(path, data, mode)
