"""`python -m kedro_airflow_k8s`: the airflow-k8s commands, with Kedro's startup logs on stderr.

``kedro airflow-k8s plan --format json`` keeps standard output for the JSON, but
the ``kedro`` command logs one line while it starts, before any plugin runs, and
with a logging config that writes to standard output that line lands there too.
This entry point starts Kedro with standard output sent to standard error.
"""

from __future__ import annotations

import sys


def main() -> None:
    from kedro_airflow_k8s.machine_output import logs_to_stderr

    with logs_to_stderr():
        import kedro.framework.project  # noqa: F401 - configures logging and logs its first line
    from kedro_airflow_k8s.cli import airflow_k8s

    script = sys.argv[0].endswith("__main__.py")
    airflow_k8s(prog_name="python -m kedro_airflow_k8s" if script else "kedro-airflow-k8s")


if __name__ == "__main__":
    sys.exit(main())
