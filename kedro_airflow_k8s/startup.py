"""Before Kedro's CLI loads the project: a project that cannot load is exit 2, not a traceback.

``kedro`` bootstraps the project (settings.py included) before it looks at any
plugin command, so a broken settings.py would end ``kedro airflow-k8s ...`` with
Kedro's traceback. This ``kedro.init`` hook runs first, only for our commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

COMMAND = "airflow-k8s"


def check_project_loads(argv: list[str] | None = None, cwd: Path | None = None) -> None:
    """Exit 2 with one paragraph naming the cause when the project around ``cwd`` does not
    bootstrap and the command is ``kedro airflow-k8s``; do nothing otherwise."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != COMMAND or any(a in ("-h", "--help") for a in args):
        return
    from kedro_airflow_k8s.machine_output import hold_stdout, wants_machine_output

    if wants_machine_output(args):
        hold_stdout()
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    project = find_kedro_project(cwd or Path.cwd())
    if project is None:
        return
    try:
        metadata = bootstrap_project(project)
    except Exception as error:  # noqa: BLE001 - settings.py and pyproject.toml are project code
        from kedro_airflow_k8s.cli import report_user_error
        from kedro_airflow_k8s.errors import UserError, one_paragraph

        failure = UserError(
            f"cannot load the Kedro project at {project}: {one_paragraph(error, project)}"
        )
        failure.__cause__ = error
        report_user_error(failure, verbose=bool({"-v", "--verbose"} & set(args)))
        sys.exit(2)
    global _bootstrapped  # noqa: PLW0603
    _bootstrapped = (Path(project).resolve(), metadata)


_bootstrapped: tuple[Path, Any] | None = None


def bootstrapped_metadata(project: Path) -> Any:
    """The metadata of ``project`` when this process has bootstrapped it at start-up and
    Kedro's settings are still that project's; None otherwise.

    ``kedro`` bootstraps the project again after this hook, so a command that finds it
    here need not bootstrap it a third time.
    """
    from kedro.framework import project as kedro_project

    if _bootstrapped is None or _bootstrapped[0] != Path(project).resolve():
        return None
    metadata = _bootstrapped[1]
    if kedro_project.PACKAGE_NAME != metadata.package_name:
        return None
    return metadata
