"""The one exception type for mistakes a user can fix; the CLI prints it without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's project, configuration or command line.

    The message names the thing at fault (config key path, node, dataset, file)
    and says what to do about it.
    """


class ConfigError(UserError):
    """The airflow-k8s configuration does not validate."""


class PlanError(UserError):
    """The pipeline cannot be turned into a valid task plan."""


def one_paragraph(error: BaseException, project_path: object = None) -> str:
    """``error`` as one line a user can act on: where in the project it happened and what.

    The place is the innermost traceback frame inside ``project_path`` (the user's
    own file), or the file and line of a syntax error; the traceback itself is
    left to ``--verbose``.
    """
    import traceback
    from pathlib import Path

    message = " ".join(str(error).split()) or "(no message)"
    text = f"{type(error).__name__}: {message}"
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}, line {error.lineno}: {text}"
    if project_path is None:
        return text
    root = Path(str(project_path)).resolve()
    where = None
    for frame in traceback.extract_tb(error.__traceback__):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(root)
        except (OSError, ValueError):
            inside = False
        if inside:
            where = f"{frame.filename}, line {frame.lineno}"
    return f"{where}: {text}" if where else text
