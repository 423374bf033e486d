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
def atomic_file(path: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` when the block ends without an error; readers
    see the old file or the new one, whole. ``mode`` defaults to what the umask gives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600; DAG files and artifacts must be readable by other users.
        os.chmod(temp, mode if mode is not None else 0o666 & ~current_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` whole or not at all."""
    with atomic_file(path, mode) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
