"""Standard output kept for machine-readable results: logs and prints go to stderr meanwhile."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

# Standard output set aside by ``hold_stdout`` until the result is printed.
_held_stdout: Any = None


def wants_machine_output(args: list[str]) -> bool:
    """Whether ``airflow-k8s ...`` arguments ask for a result on standard output that a
    program reads (``schema``, ``plan --format json``)."""
    command, rest = _subcommand(args[1:])
    if command == "schema":
        return True
    if command != "plan":
        return False
    formats = [b for a, b in zip(rest, rest[1:], strict=False) if a == "--format"]
    formats += [a.split("=", 1)[1] for a in rest if a.startswith("--format=")]
    return "json" in formats


# Options of the airflow-k8s group that take a value (see cli.airflow_k8s).
_GROUP_VALUE_OPTIONS = {"-e", "--env", "-p", "--pipeline"}


def _subcommand(args: list[str]) -> tuple[str | None, list[str]]:
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in _GROUP_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg, args[index + 1 :]
    return None, []


def hold_stdout() -> None:
    """Send standard output to standard error until ``logs_to_stderr`` ends.

    The ``kedro`` command logs a line while it loads the project, before any plugin
    command runs; with Kedro's rich logging (or a logging.yml writing to
    ``ext://sys.stdout``) that line would come before the JSON. The ``kedro.init``
    hook calls this first, so everything up to the result goes to standard error.
    """
    global _held_stdout
    if _held_stdout is None:
        _held_stdout = sys.stdout
        sys.stdout = sys.stderr


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
        _release_stdout()


def _release_stdout() -> None:
    global _held_stdout
    if _held_stdout is not None:
        sys.stdout, _held_stdout = _held_stdout, None


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
