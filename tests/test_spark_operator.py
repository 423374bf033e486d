"""spark-operator backend: one SparkApplication (v1beta2) per Spark group."""

from __future__ import annotations

from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    compile_to,
    config,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

SPARK_OPERATOR = {
    "type": "spark-operator",
    "namespace": "spark-jobs",
    "service_account_name": "spark",
    "labels": {"team": "data"},
    "node_selectors": {"pool": "spark"},
    "env_vars": {"LOG_LEVEL": "debug"},
    "secrets": [
        {"secret": "db", "deploy_target": "DB_PASSWORD", "key": "password"},
        {"secret": "api-tokens"},
        {"secret": "certs", "deploy_type": "volume", "deploy_target": "/etc/certs"},
    ],
    "resources": {
        "big": {
            "driver_cores": 1,
            "driver_memory": "2g",
            "executor_cores": 2,
            "executor_memory": "4g",
            "executor_instances": 3,
        },
    },
    "conf": {"spark.sql.shuffle.partitions": "16"},
    "submit_args": {"deps": {"packages": ["org.apache.hadoop:hadoop-aws:3.4.1"]}},
    "spark_operator": {"spark_version": "4.0.1", "kubernetes_conn_id": "k8s_spark"},
}


def application_body(make_project, spark=SPARK_OPERATOR, **run_config):
    """The SparkApplication the provider would create, built by its own launcher."""
    from airflow.providers.cncf.kubernetes.operators.custom_object_launcher import (
        CustomObjectLauncher,
    )

    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark, **run_config)
    )
    folder, compiled = compile_to(project)
    dag = load_dag(folder, compiled.dag_id)
    task = dag.get_task(task_id_of(compiled, "score"))
    assert type(task).__name__ == "SparkKubernetesOperator"
    launcher = CustomObjectLauncher(
        name=task.name,
        namespace=task.namespace,
        kube_client=None,
        custom_obj_api=None,
        template_body=task.template_body,
    )
    return task, launcher.body, project


def test_operator_arguments(make_project):
    task, _, _ = application_body(make_project)
    assert task.namespace == "spark-jobs"
    assert task.name == "spark-score"
    assert task.kubernetes_conn_id == "k8s_spark"
    assert task.delete_on_termination is True


def test_spark_application_manifest(make_project):
    _, body, project = application_body(make_project)
    package = project.name
    assert body["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert body["kind"] == "SparkApplication"
    assert body["metadata"] == {
        "name": "spark-score",
        "namespace": "spark-jobs",
        "labels": {"team": "data"},
    }
    spec = body["spec"]
    assert spec["type"] == "Python"
    assert spec["pythonVersion"] == "3"
    assert spec["mode"] == "cluster"
    assert spec["image"] == "registry.example.com/demo:1"
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert spec["mainApplicationFile"] == f"local:///opt/{package}/spark_run.py"
    assert spec["arguments"] == [
        "run",
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--nodes",
        "score,rank",
        "--runner",
        "ThreadRunner",
        "--project-path",
        f"/opt/{package}",
    ]
    assert spec["sparkVersion"] == "4.0.1"
    assert spec["restartPolicy"] == {"type": "Never"}
    assert spec["sparkConf"]["spark.sql.shuffle.partitions"] == "16"
    assert spec["sparkConf"]["spark.log.level"] == "WARN"
    assert spec["sparkConf"]["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert spec["deps"] == {"packages": ["org.apache.hadoop:hadoop-aws:3.4.1"]}


def test_driver_and_executor(make_project):
    _, body, _ = application_body(make_project)
    driver, executor = body["spec"]["driver"], body["spec"]["executor"]
    assert (driver["cores"], driver["memory"]) == (1, "2g")
    assert (executor["cores"], executor["memory"], executor["instances"]) == (2, "4g", 3)
    assert driver["serviceAccount"] == "spark"
    for pod in (driver, executor):
        assert pod["labels"] == {"team": "data"}
        assert pod["nodeSelector"] == {"pool": "spark"}
        assert pod["env"] == [
            {"name": "LOG_LEVEL", "value": "debug"},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
            },
        ]
        assert pod["envFrom"] == [{"secretRef": {"name": "api-tokens"}}]
        assert pod["secrets"] == [{"name": "certs", "path": "/etc/certs", "secretType": "Generic"}]


def test_params_macros_render_and_nothing_else(make_project):
    spark = {**SPARK_OPERATOR, "conf": {"spark.note": "{{ run_id }}"}}
    task, _, _ = application_body(make_project, spark, macro_params=["ds"])
    dag = task.dag
    rendered = task.render_template(
        task.template_spec, {"ds": "2025-01-31", "run_id": "r1"}, dag.get_template_env()
    )
    arguments = rendered["spec"]["arguments"]
    assert arguments[arguments.index("--params") + 1] == "ds=2025-01-31"
    assert rendered["spec"]["sparkConf"]["spark.note"] == "{{ run_id }}"


def test_no_cluster_tasks(make_project):
    task, _, _ = application_body(make_project)
    assert not any(t.is_setup or t.is_teardown for t in task.dag.tasks)
