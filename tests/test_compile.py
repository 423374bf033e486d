"""compile: a Kedro project in, an Airflow 3 DAG of KubernetesPodOperators out."""

from __future__ import annotations

import ast
from pathlib import Path
from unittest import mock

import pytest
import yaml

from tests.conftest import DEFAULT_CONFIG, load_dagbag

FULL_CONFIG = {
    "host": "http://127.0.0.1:8080",
    "run_config": {
        "image": "registry.example.com/demo:1",
        "image_pull_policy": "Always",
        "namespace": "kedro",
        "service_account_name": "kedro-runner",
        "image_pull_secrets": "regcred,other",
        "startup_timeout": 120,
        "run_name": "Demo Run",
        "description": "Demo DAG",
        "cron_expression": "0 3 * * *",
        "start_date": "2025-02-03",
        "catchup": True,
        "max_active_runs": 2,
        "retries": 3,
        "retry_delay": 60,
        "env_vars": {"LOG_LEVEL": "debug"},
        "secrets": [
            {"secret": "db", "deploy_type": "env", "deploy_target": "DB_PASS", "key": "pw"},
            {"secret": "certs", "deploy_type": "volume", "deploy_target": "/etc/certs"},
        ],
        "resources": {
            "__default__": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"memory": "2Gi"},
                "labels": {"team": "data"},
            },
            "heavy": {
                "requests": {"cpu": 4, "memory": "16Gi"},
                "limits": {"memory": "16Gi", "nvidia.com/gpu": 1},
                "node_selectors": {"pool": "highmem"},
                "tolerations": [
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "highmem",
                        "effect": "NoSchedule",
                    }
                ],
                "labels": {"size": "xl"},
                "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
            },
        },
        "kubernetes_pod_templates": {
            "gpu": {
                "spec": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "t"},
                    "spec": {"containers": [{"name": "base"}]},
                }
            },
        },
        "macro_params": ["ds"],
        "variables_params": ["model_version"],
        "external_dependencies": [{"dag_id": "ingest", "task_id": "publish"}],
    },
}

TAGGED_NODES = """
from kedro.pipeline import Pipeline, node


def double(x):
    return x * 2


def add(a, b):
    return a + b


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(double, "raw", "doubled", name="double_raw"),
            node(double, "doubled", "quadrupled", name="double_again",
                 tags=["kedro-airflow-k8s.resources.heavy"]),
            node(add, ["doubled", "quadrupled"], "total", name="add_up",
                 tags=["kedro-airflow-k8s.pod-template.gpu"]),
        ]
    )
"""


@pytest.fixture(scope="module")
def no_cluster():
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    with mock.patch.object(
        KubernetesHook, "is_in_cluster", new_callable=mock.PropertyMock, return_value=False
    ):
        yield


def compile_ok(cli, project: Path, *args: str) -> Path:
    result = cli(project, "compile", *args)
    assert result.exit_code == 0, result.output
    return project / "dags"


def test_compile_writes_dag_that_loads_in_airflow(make_project, cli):
    project = make_project()
    dags = compile_ok(cli, project)
    files = list(dags.glob("*.py"))
    assert [f.name for f in files] == [f"{project.name}.py"]
    bag = load_dagbag(dags)
    assert bag.import_errors == {}
    dag = bag.dags[project.name]
    ids = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert ids == {
        "double_raw": [],
        "double_again": ["double_raw"],
        "add_up": ["double_again", "double_raw"],
    }
    for task in dag.tasks:
        assert type(task).__name__ == "KubernetesPodOperator"
        assert task.doc_md and task.task_id.split(".")[-1] in task.doc_md


def test_generated_dag_imports_only_airflow(make_project, cli):
    project = make_project()
    source = (compile_ok(cli, project) / f"{project.name}.py").read_text()
    tree = ast.parse(source)
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules <= {"airflow", "kubernetes", "datetime", "hashlib"}


def test_full_config_reaches_pods(make_project, cli, no_cluster):
    project = make_project(nodes=TAGGED_NODES, config=FULL_CONFIG)
    dags = compile_ok(cli, project)
    bag = load_dagbag(dags)
    assert bag.import_errors == {}
    dag = bag.dags["Demo_Run"]
    assert dag.max_active_runs == 2 and dag.catchup is True
    assert dag.description == "Demo DAG"
    assert dag.default_args["retries"] == 3
    assert dag.start_date.year == 2025 and dag.start_date.month == 2
    assert list(dag.tags) == ["kedro"]
    assert set(dag.task_ids) == {
        "wait_for_ingest_publish",
        "double_raw",
        "double_again",
        "add_up",
    }
    assert dag.get_task("double_raw").upstream_task_ids == {"wait_for_ingest_publish"}

    plain = dag.get_task("double_raw").build_pod_request_obj()
    container = plain.spec.containers[0]
    assert container.image == "registry.example.com/demo:1"
    assert container.image_pull_policy == "Always"
    assert plain.metadata.namespace == "kedro"
    assert plain.spec.service_account_name == "kedro-runner"
    assert [s.name for s in plain.spec.image_pull_secrets] == ["regcred", "other"]
    assert container.command == ["kedro"]
    assert container.args[:7] == [
        "run",
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--nodes",
        "double_raw",
    ]
    assert container.args[7:] == [
        "--params",
        "ds={{ ds }},model_version={{ var.value.model_version }}",
    ]
    assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert container.resources.limits == {"memory": "2Gi"}
    assert plain.metadata.labels["team"] == "data"
    env = {e.name: e for e in container.env}
    assert env["LOG_LEVEL"].value == "debug"
    assert env["DB_PASS"].value_from.secret_key_ref.name == "db"
    assert env["DB_PASS"].value_from.secret_key_ref.key == "pw"
    mounts = {m.mount_path for m in container.volume_mounts}
    assert "/etc/certs" in mounts

    heavy = dag.get_task("double_again").build_pod_request_obj()
    container = heavy.spec.containers[0]
    assert container.resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert container.resources.limits == {"memory": "16Gi", "nvidia.com/gpu": "1"}
    assert heavy.spec.node_selector == {"pool": "highmem"}
    tol = heavy.spec.tolerations[0]
    assert (tol.key, tol.operator, tol.value, tol.effect) == (
        "dedicated",
        "Equal",
        "highmem",
        "NoSchedule",
    )
    assert heavy.metadata.labels["size"] == "xl"
    assert heavy.metadata.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"

    templated = dag.get_task("add_up")
    assert templated.pod_template_dict["metadata"]["name"] == "t"


def test_cli_overrides_image_and_dag_name(make_project, cli):
    config = {"run_config": {"namespace": "kedro"}}
    project = make_project(config=config)
    dags = compile_ok(
        cli, project, "--image", "other:2", "--dag-name", "my dag", "--output-dir", "out"
    )
    assert not dags.exists()
    source = (project / "out" / "my_dag.py").read_text()
    assert "'other:2'" in source


def test_env_override_and_interpolation(make_project, cli, monkeypatch):
    monkeypatch.setenv("KAK_TEST_TAG", "v42")
    project = make_project(
        env_config={"prod": {"run_config": {"image": "img:${oc.env:KAK_TEST_TAG}"}}}
    )
    result = cli(project, "-e", "prod", "compile")
    assert result.exit_code == 0, result.output
    source = (project / "dags" / f"{project.name}.py").read_text()
    assert "'img:v42'" in source
    assert "'prod'" in source


def test_pipeline_option_and_unknown_pipeline(make_project, cli):
    project = make_project()
    assert cli(project, "-p", "main", "compile").exit_code == 0
    result = cli(project, "-p", "nope", "compile")
    assert result.exit_code != 0
    assert "pipeline 'nope'" in result.output and "main" in result.output


def test_local_node_runner_uses_bash_in_project_dir(make_project, cli):
    config = yaml.safe_load(yaml.safe_dump(DEFAULT_CONFIG))
    config["run_config"]["node_runner"] = "local"
    config["run_config"]["macro_params"] = ["ds"]
    project = make_project(config=config)
    dags = compile_ok(cli, project)
    bag = load_dagbag(dags)
    assert bag.import_errors == {}
    task = bag.dags[project.name].get_task("double_again")
    assert type(task).__name__ == "BashOperator"
    assert task.cwd == str(project)
    assert "--nodes double_again" in task.bash_command
    assert task.env["KEDRO_AIRFLOW_K8S_PARAMS"] == "ds={{ ds }}"


def test_failed_compile_keeps_previous_dag(make_project, cli):
    project = make_project()
    dags = compile_ok(cli, project)
    target = dags / f"{project.name}.py"
    before = target.read_text()
    (project / "conf" / "base" / "airflow-k8s.yml").write_text("run_config: {image: x}\n")
    result = cli(project, "compile")
    assert result.exit_code != 0
    assert target.read_text() == before
    assert [p.name for p in dags.iterdir()] == [target.name]


def test_compile_does_not_run_hooks_or_read_credentials(make_project, cli):
    project = make_project(
        catalog={
            "raw": {
                "type": "pandas.CSVDataset",
                "filepath": "data/raw.csv",
                "credentials": "missing_creds",
            },
            "doubled": {"type": "pandas.CSVDataset", "filepath": "data/d.csv"},
        }
    )
    settings = next(project.glob("src/*/settings.py"))
    settings.write_text(
        "class Boom:\n"
        "    def after_context_created(self, context):\n"
        "        raise RuntimeError('hook ran')\n"
        "HOOKS = (Boom(),)\n"
    )
    assert cli(project, "compile").exit_code == 0
