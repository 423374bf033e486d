"""The generated DAG's ids, tags and provenance: what Airflow shows is what `plan` prints."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from kedro_airflow_k8s.dag_version import version_in_doc
from tests.conftest import DEFAULT_CONFIG, load_dagbag


def compiled_dag(cli, project: Path):
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    return bag.dags[project.name], (project / "dags" / f"{project.name}.py").read_text()


def test_airflow_task_ids_are_the_ids_plan_prints(make_project, cli, tmp_path):
    project = make_project()
    target = tmp_path / "plan.json"
    assert cli(project, "plan", "--format", "json", "--output", str(target)).exit_code == 0
    dag, _ = compiled_dag(cli, project)
    planned = {task["task_id"] for task in json.loads(target.read_text())["tasks"]}
    assert set(dag.task_ids) == planned
    assert dag.task_group.children.keys() == set(dag.task_ids), "no task group around the tasks"


def test_version_and_commit_are_in_doc_md_and_a_constant_not_in_tags(make_project, cli):
    config = {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], "tags": ["sales"]}}
    project = make_project(config=config)
    dag, source = compiled_dag(cli, project)
    assert sorted(dag.tags) == ["kedro", "sales"]
    version = version_in_doc(dag.doc_md)
    assert version and "commit `" in dag.doc_md
    tree = ast.parse(source)
    (constant,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "KEDRO_AIRFLOW_K8S"
    ]
    provenance = ast.literal_eval(constant)
    assert provenance["generator"].startswith("kedro-airflow-k8s ")
    assert provenance["dag_version"] == version
    assert {"commit", "project", "pipeline", "env"} <= provenance.keys()


def test_dag_file_tests_itself_when_run_as_a_script(make_project, cli):
    project = make_project()
    _, source = compiled_dag(cli, project)
    last = ast.parse(source).body[-1]
    assert isinstance(last, ast.If)
    assert ast.unparse(last.test) == "__name__ == '__main__'"
    assert ast.unparse(last.body[0]) == "dag.test()"
