"""compile and upload-pipeline: the DAG and the Spark artifacts it points at, in place."""

from __future__ import annotations

import fsspec
import pytest

SPARK_NODES = """
from kedro.pipeline import Pipeline, node


def same(x):
    return x


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(same, "raw", "clean", name="prep"),
            node(same, "clean", "scores", name="score",
                 tags=["kedro-airflow-k8s.group.pyspark"]),
            node(same, "scores", "report", name="report"),
        ]
    )
"""
CATALOG = {
    name: {"type": "pandas.CSVDataset", "filepath": f"data/{name}.csv"}
    for name in ["raw", "clean", "scores", "report"]
}


def spark_config(spark: dict) -> dict:
    return {
        "output": "dags/",
        "run_config": {"image": "img:1", "namespace": "ns", "spark": spark},
    }


@pytest.fixture
def memory_fs():
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    yield fs
    fs.store.clear()


def test_compile_writes_artifacts_beside_dag_and_hides_them_from_airflow(make_project, cli):
    project = make_project(
        nodes=SPARK_NODES,
        catalog=CATALOG,
        config=spark_config({"type": "standalone", "master": "local[2]"}),
    )
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    dags = project / "dags"
    assert (dags / ".airflowignore").read_text() == ".kedro-airflow-k8s/\n"
    [version_dir] = (dags / ".kedro-airflow-k8s").iterdir()
    names = sorted(p.name for p in version_dir.iterdir())
    assert any(n.endswith(".whl") for n in names)
    assert any(n.startswith("spark_run-") for n in names)
    source = (dags / f"{project.name}.py").read_text()
    entry = next(p for p in version_dir.iterdir() if p.name.startswith("spark_run-"))
    assert repr(str(entry)) in source
    assert "Spark artifacts" in result.output
    # The Spark task says which nodes it runs and why, like `plan` does.
    assert "- `score`: tag kedro-airflow-k8s.group.pyspark" in source

    from tests.conftest import load_dagbag

    bag = load_dagbag(dags)
    assert bag.import_errors == {}
    assert list(bag.dags) == [project.name]


def test_compile_for_kubernetes_builds_no_local_artifacts(make_project, cli):
    project = make_project(
        nodes=SPARK_NODES,
        catalog=CATALOG,
        config=spark_config({"type": "k8s", "master": "k8s://https://10.0.0.1:443"}),
    )
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    assert not (project / "dags" / ".kedro-airflow-k8s").exists()
    source = (project / "dags" / f"{project.name}.py").read_text()
    assert "local:///opt/" in source
    # Datasets on relative local paths cannot be seen by a remote cluster.
    assert "data/clean.csv" in result.output and "cannot see" in result.output


def test_upload_pipeline_to_memory_filesystem(make_project, cli, memory_fs):
    project = make_project(
        nodes=SPARK_NODES,
        catalog=CATALOG,
        config=spark_config(
            {"type": "standalone", "master": "local[2]", "artifacts_path": "memory://artifacts"}
        ),
    )
    result = cli(project, "upload-pipeline", "--output", "memory://dags/")
    assert result.exit_code == 0, result.output
    dag_path = f"/dags/{project.name}.py"
    assert memory_fs.exists(dag_path)
    source = memory_fs.cat(dag_path).decode()
    artifacts = memory_fs.find("/artifacts")
    assert len(artifacts) == 4
    entry = next(a for a in artifacts if "spark_run-" in a)
    assert f"'memory:/{entry}'" in source or f"'memory://{entry.lstrip('/')}'" in source
    assert "published" in result.output and f"DAG '{project.name}' is at" in result.output
    # Nothing in the DAG points at the machine that built it.
    assert str(project / "dags") not in source

    again = cli(project, "upload-pipeline", "--output", "memory://dags/")
    assert again.exit_code == 0
    assert "already there" in again.output and "4 already there" in again.output


def test_upload_pipeline_to_local_directory_without_spark(make_project, cli, tmp_path):
    project = make_project()
    target = tmp_path / "airflow-dags"
    result = cli(project, "upload-pipeline", "--output", str(target), "--image", "other:3")
    assert result.exit_code == 0, result.output
    dag = target / f"{project.name}.py"
    assert "'other:3'" in dag.read_text()
    assert sorted(p.name for p in target.iterdir()) == [dag.name]


def test_upload_needs_artifacts_path_for_local_driver_backends(make_project, cli, tmp_path):
    project = make_project(
        nodes=SPARK_NODES,
        catalog=CATALOG,
        config=spark_config({"type": "standalone", "master": "local[2]"}),
    )
    result = cli(project, "upload-pipeline", "--output", str(tmp_path / "d"))
    assert result.exit_code != 0
    assert "run_config.spark.artifacts_path" in result.output
    assert not (tmp_path / "d").exists()
