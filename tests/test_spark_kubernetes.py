"""k8s backend: SparkSubmitOperator against a k8s:// master, conf built in layers."""

from __future__ import annotations

import pytest

from kedro_airflow_k8s.errors import UserError
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    compile_to,
    config,
    define_spark_connection,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

MASTER = "k8s://https://10.0.0.1:6443"
K8S = {
    "type": "kubernetes",
    "master": MASTER,
    "image": "registry.example.com/spark-demo:1",
    "service_account_name": "spark",
    "labels": {"team": "data"},
    "node_selectors": {"pool": "spark"},
    "secrets": [
        {"secret": "db", "deploy_target": "DB_PASSWORD", "key": "password"},
        {"secret": "certs", "deploy_type": "volume", "deploy_target": "/etc/certs"},
    ],
    "env_vars": {"LOG_LEVEL": "debug"},
    "resources": {
        "__default__": {"driver_memory": "1g"},
        "big": {
            "driver_cores": 2,
            "driver_memory": "4g",
            "executor_cores": 4,
            "executor_memory": "8g",
            "executor_instances": 3,
        },
    },
    "conf": {"spark.executor.instances": "5", "spark.sql.shuffle.partitions": "64"},
    "submit_args": {"packages": "org.apache.hadoop:hadoop-aws:3.4.1", "verbose": True},
}


def compiled_dag(make_project, spark=K8S):
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    (project / "conf" / "local" / "credentials.yml").write_text(
        "aws_keys:\n  key: AKIAEXAMPLEKEY\n  secret: very-secret-value\n"
    )
    folder, compiled = compile_to(project)
    define_spark_connection(project, compiled.dag_id)
    return load_dag(folder, compiled.dag_id), compiled, project


def test_spark_submit_command_line(make_project):
    dag, compiled, project = compiled_dag(make_project)
    task = dag.get_task(task_id_of(compiled, "score"))
    assert type(task).__name__ == "SparkSubmitOperator"
    package = project.name
    command = task._get_hook()._build_spark_submit_command(task.application)
    resources = [
        "spark.driver.cores=2",
        "spark.driver.memory=4g",
        "spark.executor.cores=4",
        "spark.executor.memory=8g",
        "spark.executor.instances=5",  # the user's conf wins over the profile
    ]
    backend = [
        "spark.kubernetes.namespace=kedro",
        "spark.kubernetes.container.image=registry.example.com/spark-demo:1",
        "spark.kubernetes.container.image.pullPolicy=IfNotPresent",
        "spark.kubernetes.authenticate.driver.serviceAccountName=spark",
        "spark.kubernetes.driver.label.team=data",
        "spark.kubernetes.executor.label.team=data",
        "spark.kubernetes.node.selector.pool=spark",
        "spark.kubernetes.driver.secretKeyRef.DB_PASSWORD=db:password",
        "spark.kubernetes.executor.secretKeyRef.DB_PASSWORD=db:password",
        "spark.kubernetes.driver.secrets.certs=/etc/certs",
        "spark.kubernetes.executor.secrets.certs=/etc/certs",
        "spark.kubernetes.driverEnv.LOG_LEVEL=debug",
        "spark.executorEnv.LOG_LEVEL=debug",
    ]
    io = [
        "spark.hadoop.fs.gs.impl=com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.gs.impl=com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS",
        "spark.hadoop.fs.gs.auth.type=APPLICATION_DEFAULT",
        "spark.hadoop.fs.s3a.impl=org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider="
        "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
    ]
    user = ["spark.sql.shuffle.partitions=64"]
    expected = ["spark-submit", "--master", MASTER]
    defaults = ["spark.log.level=WARN"]
    for item in defaults + resources + backend + io + user:
        expected += ["--conf", item]
    # The hook repeats the namespace it read from the conf.
    expected += ["--conf", "spark.kubernetes.namespace=kedro"]
    expected += ["--packages", "org.apache.hadoop:hadoop-aws:3.4.1"]
    expected += ["--name", "spark-score", "--verbose", "--deploy-mode", "cluster"]
    expected += [f"local:///opt/{package}/spark_run.py"]
    expected += ["run", "--pipelines", "__default__", "--env", "local"]
    expected += ["--nodes", "score,rank", "--runner", "ThreadRunner"]
    expected += ["--project-path", f"/opt/{package}"]
    assert command == expected


def test_no_secret_value_reaches_the_dag(make_project):
    _, compiled, _ = compiled_dag(make_project)
    assert "AKIAEXAMPLEKEY" not in compiled.source
    assert "very-secret-value" not in compiled.source
    assert "aws_keys" not in compiled.source


def test_plain_nodes_stay_pods_and_there_is_no_cluster(make_project):
    dag, compiled, _ = compiled_dag(make_project)
    assert type(dag.get_task(task_id_of(compiled, "prep"))).__name__ == "KubernetesPodOperator"
    assert not any(task.is_setup or task.is_teardown for task in dag.tasks)
    report = dag.get_task(task_id_of(compiled, "report"))
    assert report.upstream_task_ids == {task_id_of(compiled, "score")}


def test_client_mode_runs_the_built_entry_script_on_the_worker(make_project):
    spark = {**K8S, "deploy_mode": "client", "main_python_file": "/opt/airflow/spark_run.py"}
    dag, compiled, project = compiled_dag(make_project, spark)
    task = dag.get_task(task_id_of(compiled, "score"))
    command = task._get_hook()._build_spark_submit_command(task.application)
    assert command[command.index("--deploy-mode") + 1] == "client"
    assert "/opt/airflow/spark_run.py" in command
    assert command[-2:] == ["--project-path", str(project)]


@pytest.mark.parametrize(
    ("master", "message"),
    [(None, "run_config.spark.master"), ("spark://host:7077", "k8s://https://")],
)
def test_master_must_be_a_kubernetes_api_server(make_project, master, message):
    spark = {key: value for key, value in K8S.items() if key != "master"}
    if master:
        spark["master"] = master
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=message):
        compile_to(project)


def test_secret_with_all_keys_as_env_is_refused_with_its_key(make_project):
    spark = {**K8S, "secrets": [{"secret": "everything"}]}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"run_config\.spark\.secrets\[0\]"):
        compile_to(project)


def test_unknown_submit_argument_names_the_key(make_project):
    spark = {**K8S, "submit_args": {"packagez": "x"}}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"run_config\.spark\.submit_args\.packagez"):
        compile_to(project)


def test_spark_group_whose_nodes_pick_two_sizes_is_refused_when_planning(make_project):
    from kedro_airflow_k8s.build import make_plan
    from kedro_airflow_k8s.project import load_project

    default_tag = "kedro-airflow-k8s.spark-resources.__default__"
    nodes = SIMPLE_NODES.replace('name="rank", tags=["', f'name="rank", tags=["{default_tag}", "')
    project = make_project(nodes=nodes, catalog=SIMPLE_CATALOG, config=config(K8S))
    with pytest.raises(UserError) as refused:
        make_plan(load_project(project))
    message = str(refused.value)
    assert "runs nodes with different spark.resources profiles (__default__, big)" in message
    assert "node 'score' kedro-airflow-k8s.spark-resources.big" in message
    assert "node 'rank' kedro-airflow-k8s.spark-resources.__default__" in message
    assert "one Spark application has one size" in message


def test_plan_gives_each_spark_group_its_resource_profile(make_project):
    from kedro_airflow_k8s.build import make_plan
    from kedro_airflow_k8s.project import load_project

    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(K8S))
    (spark_task,) = make_plan(load_project(project)).spark_tasks
    assert spark_task.profiles == {"spark.resources": "big"}
    assert spark_task.datasets["clean"] == "data/clean.csv"


def test_compile_looks_each_dataset_up_once_and_reads_its_path_from_the_plan(
    make_project, monkeypatch
):
    from kedro_airflow_k8s.project import KedroProject

    looked_up: list[str] = []
    original = KedroProject.dataset_config

    def counted(self, name):
        looked_up.append(name)
        return original(self, name)

    monkeypatch.setattr(KedroProject, "dataset_config", counted)
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(K8S))
    _, compiled = compile_to(project)
    assert sorted(looked_up) == sorted(SIMPLE_CATALOG)  # planning, Spark conf and assets
    assert "spark.hadoop.fs.s3a.impl" in compiled.source  # events' s3a:// path, as planned


def test_unknown_resource_profile_names_node_and_tag(make_project):
    spark = {**K8S, "resources": {"__default__": {"driver_memory": "1g"}}}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"node 'score'.*kedro-airflow-k8s\.spark-resources\.big"):
        compile_to(project)
    assert not (project / "dags").exists()
