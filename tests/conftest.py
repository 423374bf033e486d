"""Shared fixtures: Kedro projects built in temporary directories, and the CLI runner."""

from __future__ import annotations

import itertools
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# Spark binds to loopback only: tests talk to nothing but 127.0.0.1.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# A loaded machine can take longer than the default 30 seconds to import one DAG file.
os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "300")
# A home of its own in CI, and in each pytest-xdist worker (not the main process's one).
OWN_HOME = os.environ.get("CI") or os.environ.get("PYTEST_XDIST_WORKER")
if "AIRFLOW_HOME" not in os.environ or OWN_HOME:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "mixed-demo"
_counter = itertools.count()

DEFAULT_NODES = """
from kedro.pipeline import Pipeline, node


def double(x):
    return x * 2


def add(a, b):
    return a + b


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(double, "raw", "doubled", name="double_raw"),
            node(double, "doubled", "quadrupled", name="double_again"),
            node(add, ["doubled", "quadrupled"], "total", name="add_up"),
        ]
    )
"""

DEFAULT_CATALOG = {
    "raw": {"type": "pandas.CSVDataset", "filepath": "data/raw.csv"},
    "doubled": {"type": "pandas.CSVDataset", "filepath": "data/doubled.csv"},
    "quadrupled": {"type": "pandas.CSVDataset", "filepath": "data/quadrupled.csv"},
    "total": {"type": "pandas.CSVDataset", "filepath": "data/total.csv"},
}

DEFAULT_CONFIG = {
    "host": "http://127.0.0.1:8080",
    "output": "dags/",
    "run_config": {"image": "registry.example.com/demo:1", "namespace": "kedro"},
}


class ProjectFactory:
    """Writes minimal but real Kedro 1.x projects; each gets its own package name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(
        self,
        nodes: str = DEFAULT_NODES,
        catalog: dict[str, Any] | None = None,
        config: dict[str, Any] | str | None = None,
        env_config: dict[str, dict[str, Any] | str] | None = None,
        project_name: str = "Demo Project",
    ) -> Path:
        package = f"kak_demo_{os.getpid()}_{next(_counter)}"
        path = self.root / package
        src = path / "src" / package
        (src / "pipelines").mkdir(parents=True)
        (path / "conf" / "base").mkdir(parents=True)
        (path / "conf" / "local").mkdir(parents=True)
        (path / "data").mkdir()
        (path / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""
                [build-system]
                requires = ["setuptools"]
                build-backend = "setuptools.build_meta"

                [project]
                name = "{package}"
                version = "0.1"
                dependencies = ["kedro"]

                [tool.kedro]
                package_name = "{package}"
                project_name = {project_name!r}
                kedro_init_version = "1.0.0"
                """
            )
        )
        (src / "__init__.py").write_text("")
        (src / "settings.py").write_text("")
        (src / "pipelines" / "__init__.py").write_text("")
        (src / "pipelines" / "main.py").write_text(textwrap.dedent(nodes))
        (src / "pipeline_registry.py").write_text(
            f"from {package}.pipelines.main import create_pipeline\n\n\n"
            "def register_pipelines():\n"
            "    pipeline = create_pipeline()\n"
            '    return {"__default__": pipeline, "main": pipeline}\n'
        )
        catalog = DEFAULT_CATALOG if catalog is None else catalog
        (path / "conf" / "base" / "catalog.yml").write_text(yaml.safe_dump(catalog))
        (path / "conf" / "base" / "parameters.yml").write_text("{}\n")
        config = DEFAULT_CONFIG if config is None else config
        self.write_config(path, "base", config)
        for env, env_cfg in (env_config or {}).items():
            self.write_config(path, env, env_cfg)
        return path

    @staticmethod
    def write_config(path: Path, env: str, config: dict[str, Any] | str) -> None:
        target = path / "conf" / env / "airflow-k8s.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = config if isinstance(config, str) else yaml.safe_dump(config, allow_unicode=True)
        target.write_text(text, encoding="utf-8")


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    return ProjectFactory(tmp_path)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Run `kedro airflow-k8s ...` in-process in a project directory."""
    from click.testing import CliRunner

    from kedro_airflow_k8s.cli import commands

    def run(project: Path, *args: str, env: dict[str, str] | None = None):
        monkeypatch.chdir(project)
        runner = CliRunner()
        return runner.invoke(commands, ["airflow-k8s", *args], env=env, catch_exceptions=False)

    return run


def load_dagbag(folder: Path):
    """Parse ``folder`` with a real Airflow DagBag; returns the bag."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), safe_mode=False)


@pytest.fixture
def artifacts(tmp_path: Path) -> Any:
    """A small set of the four Spark artifacts in ``tmp_path``, as publishing takes them."""
    from kedro_airflow_k8s.artifacts import Artifact, ArtifactSet

    folder = tmp_path / "artifacts" / "v1"
    folder.mkdir(parents=True)
    files = {
        "wheel": ("demo-0.1-py3-none-any.whl", b"W" * 3000),
        "conf": ("conf-demo-v1.tar.gz", b"conf bytes"),
        "entry": ("spark_run-demo-v1.py", b"print('run')\n"),
        "init": ("init-demo-v1.sh", b"#!/bin/bash\n"),
    }
    made = {}
    for kind, (name, data) in files.items():
        (folder / name).write_bytes(data)
        made[kind] = Artifact(name, folder / name, kind)
    return ArtifactSet("v1", made["wheel"], made["conf"], made["entry"], made["init"])


def compiled(cli, project: Path):
    """``compile`` the project, which must succeed; its DAG as a real DagBag loads it."""
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    return bag.dags[project.name]


def pod_env(task):
    """A pod task's environment (a mapping while it holds templates, else V1EnvVars)."""
    if isinstance(task.env_vars, dict):
        return task.env_vars
    return {var.name: var.value for var in task.env_vars}


# --- Parallel runs: `pytest -n N --dist loadfile` (see tests/parallel.py) --------------------


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from tests import parallel

    return parallel.scheduler(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller takes the order of the workers
        from tests import parallel

        parallel.order_for_workers(items, config.rootpath)
