"""A broken Kedro project ends compile with exit 2 and Kedro's own error, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEFAULT_CONFIG

GOOD_NODES = """
from kedro.pipeline import Pipeline, node


def same(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline([{nodes}])
"""


def nodes_module(*nodes: str, head: str = "") -> str:
    return head + GOOD_NODES.format(nodes=", ".join(nodes))


def src(project: Path) -> Path:
    return project / "src" / project.name


def write(project: Path, relative: str, text: str) -> None:
    target = project / relative.replace("<pkg>", project.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


Mutation = Callable[[Path], None]

# name -> (change to a good project, words the message must hold)
BROKEN: dict[str, tuple[Mutation, tuple[str, ...]]] = {
    "registry_imports_a_missing_module": (
        lambda p: write(p, "src/<pkg>/pipeline_registry.py", "import no_such_module\n"),
        ("pipeline registry", "No module named 'no_such_module'", "pipeline_registry.py"),
    ),
    "registry_without_register_pipelines": (
        lambda p: write(p, "src/<pkg>/pipeline_registry.py", "x = 1\n"),
        ("pipeline registry", "register_pipelines"),
    ),
    "register_pipelines_raises": (
        lambda p: write(
            p,
            "src/<pkg>/pipeline_registry.py",
            "def register_pipelines():\n    raise ValueError('registry boom')\n",
        ),
        ("registry boom", "pipeline_registry.py, line 2"),
    ),
    "register_pipelines_returns_a_list": (
        lambda p: write(
            p, "src/<pkg>/pipeline_registry.py", "def register_pipelines():\n    return [1]\n"
        ),
        ("pipeline registry",),
    ),
    "node_module_raises_at_import": (
        lambda p: write(p, "src/<pkg>/pipelines/main.py", "raise RuntimeError('node boom')\n"),
        ("RuntimeError: node boom", "main.py, line 1"),
    ),
    "node_module_syntax_error": (
        lambda p: write(p, "src/<pkg>/pipelines/main.py", "def broken(:\n    pass\n"),
        ("SyntaxError", "main.py, line 1"),
    ),
    "node_module_indentation_error": (
        lambda p: write(p, "src/<pkg>/pipelines/main.py", "def f():\nreturn 1\n"),
        ("IndentationError", "main.py"),
    ),
    "pipeline_with_a_cycle": (
        lambda p: write(
            p,
            "src/<pkg>/pipelines/main.py",
            nodes_module('node(same, "a", "b", name="ab")', 'node(same, "b", "a", name="ba")'),
        ),
        ("Circular", "pipeline registry"),
    ),
    "two_nodes_write_one_output": (
        lambda p: write(
            p,
            "src/<pkg>/pipelines/main.py",
            nodes_module('node(same, "a", "b", name="one")', 'node(same, "c", "b", name="two")'),
        ),
        ("'b'", "pipeline registry"),
    ),
    "two_nodes_share_a_name": (
        lambda p: write(
            p,
            "src/<pkg>/pipelines/main.py",
            nodes_module('node(same, "a", "b", name="twin")', 'node(same, "c", "d", name="twin")'),
        ),
        ("twin",),
    ),
    "empty_pipeline": (
        lambda p: write(p, "src/<pkg>/pipelines/main.py", nodes_module()),
        ("pipeline '__default__' has no nodes",),
    ),
    "settings_raise": (
        lambda p: write(p, "src/<pkg>/settings.py", "raise RuntimeError('settings boom')\n"),
        ("settings boom", "settings.py, line 1"),
    ),
    "settings_syntax_error": (
        lambda p: write(p, "src/<pkg>/settings.py", "CONF_SOURCE = (\n"),
        ("SyntaxError", "settings.py"),
    ),
    "settings_config_loader_is_not_a_loader": (
        lambda p: write(p, "src/<pkg>/settings.py", "CONFIG_LOADER_CLASS = dict\n"),
        ("CONFIG_LOADER_CLASS",),
    ),
    "settings_import_a_missing_module": (
        lambda p: write(p, "src/<pkg>/settings.py", "from no_such_package import thing\n"),
        ("No module named 'no_such_package'",),
    ),
    "unknown_dataset_type": (
        lambda p: write(
            p, "conf/base/catalog.yml", yaml.safe_dump({"raw": {"type": "pandas.NoSuchDataset"}})
        ),
        ("catalog entry 'raw'", "pandas.NoSuchDataset"),
    ),
    "dataset_type_in_a_missing_package": (
        lambda p: write(
            p, "conf/base/catalog.yml", yaml.safe_dump({"raw": {"type": "nowhere.CSVDataset"}})
        ),
        ("catalog entry 'raw'", "nowhere.CSVDataset"),
    ),
    "catalog_entry_without_type": (
        lambda p: write(p, "conf/base/catalog.yml", yaml.safe_dump({"raw": {"filepath": "x"}})),
        ("catalog entry 'raw'", "no `type`"),
    ),
    "catalog_entry_is_a_string": (
        lambda p: write(p, "conf/base/catalog.yml", "raw: data/raw.csv\n"),
        ("catalog entry 'raw'", "mapping"),
    ),
    "catalog_yaml_does_not_parse": (
        lambda p: write(p, "conf/base/catalog.yml", "raw: {type: [\n"),
        ("catalog configuration",),
    ),
    "catalog_is_a_list": (
        lambda p: write(p, "conf/base/catalog.yml", "- raw\n- cooked\n"),
        ("conf/base/catalog.yml holds a list at the top level",),
    ),
    "catalog_interpolates_a_missing_global": (
        lambda p: write(
            p, "conf/base/catalog.yml", "raw:\n  type: pandas.CSVDataset\n  filepath: ${x}\n"
        ),
        ("catalog configuration",),
    ),
    "same_dataset_in_two_catalog_files": (
        lambda p: write(p, "conf/base/catalog_more.yml", "raw:\n  type: pandas.CSVDataset\n"),
        ("catalog configuration", "raw"),
    ),
    "airflow_k8s_yml_is_a_list": (
        lambda p: write(p, "conf/base/airflow-k8s.yml", "- run_config\n- image\n"),
        ("conf/base/airflow-k8s.yml holds a list at the top level",),
    ),
    "airflow_k8s_yml_is_a_string": (
        lambda p: write(p, "conf/base/airflow-k8s.yml", "just words\n"),
        ("conf/base/airflow-k8s.yml holds a str",),
    ),
    "airflow_k8s_yml_does_not_parse": (
        lambda p: write(p, "conf/base/airflow-k8s.yml", "run_config: [\n"),
        ("airflow-k8s configuration",),
    ),
    "parameters_do_not_parse": (
        lambda p: write(p, "conf/base/catalog.yml", "raw: {type: pandas.CSVDataset\n"),
        ("catalog configuration",),
    ),
    "pyproject_without_tool_kedro": (
        lambda p: write(p, "pyproject.toml", "[project]\nname = 'x'\n"),
        ("cannot load the Kedro project",),
    ),
    "pyproject_does_not_parse": (
        lambda p: write(p, "pyproject.toml", "[tool.kedro\n"),
        ("cannot load the Kedro project",),
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_project_exits_2_with_the_cause_in_one_paragraph(make_project, cli, case):
    change, words = BROKEN[case]
    project = make_project()
    change(project)

    result = cli(project, "compile")

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.output[result.output.index("Error: ") :].strip()
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    assert not (project / "dags").exists()


def test_unknown_pipeline_names_the_known_ones(make_project, cli):
    result = cli(make_project(), "--pipeline", "nope", "compile")

    assert result.exit_code == 2
    assert "pipeline 'nope' is not registered" in result.output
    assert "__default__, main" in result.output


def test_verbose_shows_the_traceback_of_the_cause(make_project, cli):
    project = make_project()
    write(project, "src/<pkg>/pipelines/main.py", "raise RuntimeError('node boom')\n")

    quiet = cli(project, "compile")
    loud = cli(project, "--verbose", "compile")

    assert "--verbose shows the traceback" in quiet.output
    assert loud.exit_code == 2
    assert "Traceback (most recent call last)" in loud.output
    assert "raise RuntimeError('node boom')" in loud.output


def test_a_dataset_class_whose_dependency_is_missing_still_compiles(make_project, cli):
    # kedro_datasets.spark.SparkDataset exists but imports hdfs, which is not installed here.
    catalog = {"raw": {"type": "spark.SparkDataset", "filepath": "data/raw.parquet"}}
    result = cli(make_project(catalog=catalog), "compile")

    assert result.exit_code == 0, result.output


def kedro_command(project: Path, *args: str) -> subprocess.CompletedProcess:
    kedro = Path(sys.executable).with_name("kedro")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    return subprocess.run(
        [str(kedro), *args], cwd=project, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize("settings", ["raise RuntimeError('settings boom')\n", "CONF_SOURCE = (\n"])
def test_kedro_cli_with_broken_settings_exits_2_before_kedro_prints_a_traceback(
    make_project, settings
):
    project = make_project()
    write(project, "src/<pkg>/settings.py", settings)

    result = kedro_command(project, "airflow-k8s", "compile")

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "settings.py" in result.stderr
    assert not (project / "dags").exists()


def test_the_startup_check_leaves_other_kedro_commands_alone(make_project):
    from kedro_airflow_k8s.startup import check_project_loads

    project = make_project()
    write(project, "src/<pkg>/settings.py", "raise RuntimeError('settings boom')\n")

    check_project_loads(["run"], project)  # not ours: Kedro reports it its own way
    with pytest.raises(SystemExit) as stopped:
        check_project_loads(["airflow-k8s", "compile"], project)
    assert stopped.value.code == 2


def test_a_good_project_passes_the_startup_check(make_project):
    from kedro_airflow_k8s.startup import check_project_loads

    check_project_loads(["airflow-k8s", "compile"], make_project(config=DEFAULT_CONFIG))


def test_the_project_the_startup_check_bootstrapped_is_not_bootstrapped_again(make_project):
    from kedro.framework.startup import bootstrap_project

    from kedro_airflow_k8s.startup import bootstrapped_metadata, check_project_loads

    project = make_project(config=DEFAULT_CONFIG)
    check_project_loads(["airflow-k8s", "plan"], project)

    assert bootstrapped_metadata(project).project_path == project.resolve()
    assert bootstrapped_metadata(project.parent) is None
    bootstrap_project(make_project(config=DEFAULT_CONFIG))
    assert bootstrapped_metadata(project) is None  # Kedro's settings are another project's now
