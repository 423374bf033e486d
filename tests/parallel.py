"""How `pytest -n N --dist loadfile` shares the suite out: a file at a time, files that share
one server as one unit, and the files that wait on real services first."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# A module that imports one of these shares that server with every other such module.
SHARED_SERVERS = {
    ("airflow_server", "airflow"): "airflow-server",
    ("tests.mlflow_server", "session_mlflow"): "mlflow-server",
}


@cache
def shared_server(path: Path) -> str | None:
    """The shared server the test module at ``path`` imports, if any."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found = SHARED_SERVERS.get((node.module, alias.name))
                if found:
                    return found
    return None


def unit_of(nodeid: str, root: Path) -> str:
    """The unit of work a test belongs to: its server's name, or else its file."""
    file = nodeid.split("::", 1)[0]
    return shared_server(root / file) or file


def order_for_workers(items: list[pytest.Item], root: Path) -> None:
    """Units that hold an end-to-end test first, each unit's tests together and in their
    order: a worker takes its next unit when it is nearly done with one, so a long unit must
    not be left to start last."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(unit_of(item.nodeid, root), []).append(item)
    waiting = {
        unit for unit, tests in units.items() if any(t.get_closest_marker("e2e") for t in tests)
    }
    items[:] = [
        item for unit in sorted(units, key=lambda u: u not in waiting) for item in units[unit]
    ]


def scheduler(config: pytest.Config, log):
    """xdist's file-at-a-time scheduler, with the files of one shared server as one unit."""
    from xdist.scheduler import LoadFileScheduling

    class SharedServerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid, config.rootpath)

    config.option.loadscopereorder = False  # keep the order ``order_for_workers`` made
    return SharedServerScheduling(config, log)
