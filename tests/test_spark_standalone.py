"""standalone backend: spark-submit from the worker to local[N] or spark://host:port."""

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

ENTRY = "/srv/artifacts/v1/spark_run-demo-v1.py"
STANDALONE = {
    "type": "standalone",
    "python": "/usr/bin/python3.11",
    "env_vars": {"LOG_LEVEL": "debug"},
    "resources": {"big": {"driver_memory": "2g", "executor_memory": "3g"}},
    "conf": {"spark.sql.shuffle.partitions": "4"},
}


def compiled_dag(make_project, spark, **run_config):
    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark, **run_config)
    )
    folder, compiled = compile_to(project, artifacts={"entry": ENTRY})
    define_spark_connection(project, compiled.dag_id)
    return load_dag(folder, compiled.dag_id), compiled, project


def submit_command(dag, compiled) -> list[str]:
    task = dag.get_task(task_id_of(compiled, "score"))
    assert type(task).__name__ == "SparkSubmitOperator"
    return task._get_hook()._build_spark_submit_command(task.application)


def expected_command(master: str, project) -> list[str]:
    conf = [
        "spark.log.level=WARN",
        "spark.driver.memory=2g",
        "spark.executor.memory=3g",
        "spark.hadoop.fs.gs.impl=com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.gs.impl=com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS",
        "spark.hadoop.fs.gs.auth.type=APPLICATION_DEFAULT",
        "spark.hadoop.fs.s3a.impl=org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider="
        "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
        "spark.pyspark.python=/usr/bin/python3.11",
        "spark.pyspark.driver.python=/usr/bin/python3.11",
        "spark.sql.shuffle.partitions=4",
    ]
    command = ["spark-submit", "--master", master]
    for item in conf:
        command += ["--conf", item]
    command += ["--name", "spark-score", "--deploy-mode", "client", ENTRY]
    command += ["run", "--pipelines", "__default__", "--env", "local"]
    command += ["--nodes", "score,rank", "--runner", "ThreadRunner"]
    command += ["--project-path", str(project)]
    return command


def test_local_master_by_default(make_project):
    dag, compiled, project = compiled_dag(make_project, STANDALONE)
    assert submit_command(dag, compiled) == expected_command("local[2]", project)
    task = dag.get_task(task_id_of(compiled, "score"))
    assert task.env_vars == {"LOG_LEVEL": "debug"}


def test_spark_master_url(make_project):
    spark = {**STANDALONE, "master": "spark://127.0.0.1:7077"}
    dag, compiled, project = compiled_dag(make_project, spark)
    assert submit_command(dag, compiled) == expected_command("spark://127.0.0.1:7077", project)


def test_compile_says_how_to_define_the_connection_the_dag_reads(make_project, cli):
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config({**STANDALONE, "master": "local[4]"}),
    )
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Airflow connection 'kedro_spark_spark_demo'" in output
    value = '{"conn_type": "spark", "host": "local[4]"}'
    definition = f"AIRFLOW_CONN_KEDRO_SPARK_SPARK_DEMO='{value}'"
    assert definition in output
    source = (project / "dags" / "spark_demo.py").read_text()
    assert "os.environ" not in source and "import os" not in source
    assert "conn_id='kedro_spark_spark_demo'" in source


def test_a_connection_on_the_worker_wins(make_project, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KEDRO_SPARK_SPARK_DEMO", '{"conn_type": "spark", "host": "local[8]"}'
    )
    dag, compiled, project = compiled_dag(make_project, STANDALONE)
    assert submit_command(dag, compiled)[:3] == ["spark-submit", "--master", "local[8]"]


def test_users_own_connection(make_project, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MY_SPARK", "spark://127.0.0.1:7078")
    dag, compiled, _ = compiled_dag(make_project, {**STANDALONE, "conn_id": "my_spark"})
    assert "os.environ" not in compiled.source
    assert submit_command(dag, compiled)[:3] == [
        "spark-submit",
        "--master",
        "spark://127.0.0.1:7078",
    ]


def test_configured_project_path_and_params_macros(make_project):
    spark = {**STANDALONE, "project_path": "/srv/demo"}
    dag, compiled, _ = compiled_dag(make_project, spark, macro_params=["ds"])
    task = dag.get_task(task_id_of(compiled, "score"))
    args = task.application_args
    assert args[args.index("--params") + 1] == "ds={{ ds }}"
    assert args[-2:] == ["--project-path", "/srv/demo"]
    rendered = task.render_template(args, {"ds": "2025-01-31"}, dag.get_template_env())
    assert rendered[rendered.index("--params") + 1] == "ds=2025-01-31"


def test_values_that_look_like_templates_are_passed_as_written(make_project):
    spark = {**STANDALONE, "conf": {"spark.app.note": "{{ not_a_macro }}"}}
    dag, compiled, _ = compiled_dag(make_project, spark)
    task = dag.get_task(task_id_of(compiled, "score"))
    rendered = task.render_template(task.conf, {}, dag.get_template_env())
    assert rendered["spark.app.note"] == "{{ not_a_macro }}"


@pytest.mark.parametrize(
    ("spark", "message"),
    [
        ({"master": "k8s://https://host"}, "spark://host:port or local"),
        ({"deploy_mode": "cluster"}, "run_config.spark.deploy_mode"),
        ({"master": "local[2]", "conn_id": "x"}, "both set"),
    ],
)
def test_configuration_mistakes(make_project, spark, message):
    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config({**STANDALONE, **spark})
    )
    with pytest.raises(UserError, match=message):
        compile_to(project, artifacts={"entry": ENTRY})


def test_entry_script_must_be_known(make_project):
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(STANDALONE))
    with pytest.raises(UserError, match="run_config.spark.main_python_file"):
        compile_to(project)


def test_applications_log_at_warn_unless_configured(make_project):
    dag, compiled, _ = compiled_dag(make_project, STANDALONE)
    assert dag.get_task(task_id_of(compiled, "score")).conf["spark.log.level"] == "WARN"
    spark = {**STANDALONE, "conf": {"spark.log.level": "INFO"}}
    dag, compiled, _ = compiled_dag(make_project, spark)
    assert dag.get_task(task_id_of(compiled, "score")).conf["spark.log.level"] == "INFO"
