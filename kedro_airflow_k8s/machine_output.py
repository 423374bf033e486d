"""Standard output kept for machine-readable results: logs and prints go to stderr meanwhile."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Send whatever is written to standard output inside the block to standard error.

    That covers ``print``, logging handlers already writing to standard output (Kedro's
    rich handler and the ``ext://sys.stdout`` stream handlers of a project's
    logging.yml), and handlers configured inside the block. The command prints its
    result after the block, so standard output holds the result and nothing else.
    """
    stdout = sys.stdout
    originals = {id(stdout), id(sys.__stdout__)}
    restore: list[tuple[Any, str, Any]] = []
    for handler in _handlers():
        if isinstance(handler, logging.StreamHandler) and id(handler.stream) in originals:
            restore.append((handler, "stream", handler.stream))
            handler.setStream(sys.stderr)
        console = getattr(handler, "console", None)  # rich.logging.RichHandler
        if console is not None and id(getattr(console, "_file", None)) in originals:
            restore.append((console, "_file", console._file))
            console._file = sys.stderr
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for owner, attribute, value in reversed(restore):
            if attribute == "stream":
                owner.setStream(value)
            else:
                setattr(owner, attribute, value)


def _handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()]
    loggers += [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    seen: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in logger.handlers:
            seen.setdefault(id(handler), handler)
    return list(seen.values())
