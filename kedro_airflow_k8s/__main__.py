"""`kedro-airflow-k8s` and `python -m kedro_airflow_k8s`: the airflow-k8s commands without `kedro`.

``list-pipelines`` and ``ui`` need airflow-k8s.yml and nothing else of the project:
they start without Kedro's CLI and session (a second or more of start-up, and log
lines that are not theirs). The other commands load the project as ``kedro`` does,
with Kedro's start-up log line sent to standard error, so that ``plan --format json``
keeps standard output for the JSON even where the logging config writes to it.
"""

from __future__ import annotations

import sys

QUICK_COMMANDS = ("list-pipelines", "ui")
GROUP_OPTIONS_WITH_VALUE = ("-e", "--env", "-p", "--pipeline")


def command_of(args: list[str]) -> str | None:
    """The command name in ``args`` (the arguments after the program), past group options."""
    waiting_for_value = False
    for arg in args:
        if waiting_for_value:
            waiting_for_value = False
        elif arg in GROUP_OPTIONS_WITH_VALUE:
            waiting_for_value = True
        elif not arg.startswith("-"):
            return arg
    return None


def needs_kedro(args: list[str]) -> bool:
    """Whether the command loads the Kedro project (pipelines, catalog, registry)."""
    if command_of(args) not in QUICK_COMMANDS:
        return True
    return "--all" in args  # every registered pipeline: the registry is project code


def main() -> None:
    args = sys.argv[1:]
    if needs_kedro(args):
        from kedro_airflow_k8s.machine_output import logs_to_stderr

        with logs_to_stderr():
            import kedro.framework.project  # noqa: F401 - configures logging, logs its first line
    from kedro_airflow_k8s.cli import airflow_k8s

    script = sys.argv[0].endswith("__main__.py")
    airflow_k8s(prog_name="python -m kedro_airflow_k8s" if script else "kedro-airflow-k8s")


if __name__ == "__main__":
    sys.exit(main())
