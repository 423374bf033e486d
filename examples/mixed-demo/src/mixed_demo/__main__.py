"""Entry point of the packaged project: `python -m mixed_demo` runs the pipeline."""

import sys
from pathlib import Path
from typing import Any

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args: Any, **kwargs: Any) -> Any:
    package_name = Path(__file__).parent.name
    configure_project(package_name)
    run = find_run_command(package_name)
    # Click exits the interpreter in standalone mode; keep it alive in a REPL.
    kwargs.setdefault("standalone_mode", not hasattr(sys, "ps1"))
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
