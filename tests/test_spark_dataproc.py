"""dataproc backend: a cluster per run with our init script, one PySpark job per Spark group."""

from __future__ import annotations

import pytest
from google.cloud import dataproc_v1

from kedro_airflow_k8s.errors import UserError
from tests.spark_projects import (
    SIMPLE_CATALOG,
    SIMPLE_NODES,
    compile_to,
    config,
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
    task_id_of,
)

ARTIFACTS = {
    "entry": "gs://bucket/artifacts/v1/spark_run-demo-v1.py",
    "init": "gs://bucket/artifacts/v1/init-demo-v1.sh",
}
DATAPROC = {
    "type": "dataproc",
    "artifacts_path": "gs://bucket/artifacts",
    "labels": {"team": "data"},
    "resources": {"big": {"executor_memory": "8g", "executor_instances": 4}},
    "conf": {"spark.sql.shuffle.partitions": "64"},
    # The REST API's spelling, as the seed documents it.
    "cluster_config": {
        "masterConfig": {"numInstances": 1, "machineTypeUri": "n2-standard-4"},
        "workerConfig": {"numInstances": 2, "machineTypeUri": "n2-standard-8"},
        "softwareConfig": {
            "imageVersion": "2.2-debian12",
            "properties": {"spark:spark.executor.cores": "4"},
        },
    },
    "dataproc": {
        "project_id": "my-project",
        "region": "us-central1",
        "gcp_conn_id": "gcp_prod",
        "idle_delete_ttl": 1800,
        "labels": {"cost-center": "analytics"},
    },
}


def compiled_dag(make_project, spark=DATAPROC, **run_config):
    project = make_project(
        nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark, **run_config)
    )
    folder, compiled = compile_to(project, artifacts=ARTIFACTS)
    return load_dag(folder, compiled.dag_id), compiled


def test_create_cluster(make_project):
    dag, _ = compiled_dag(make_project)
    create = dag.get_task("create_spark_cluster")
    assert type(create).__name__ == "DataprocCreateClusterOperator"
    assert (create.project_id, create.region, create.gcp_conn_id) == (
        "my-project",
        "us-central1",
        "gcp_prod",
    )
    assert create.labels == {"team": "data", "cost-center": "analytics"}
    config = dataproc_v1.ClusterConfig(create.cluster_config)  # rejects unknown fields
    assert config.master_config.num_instances == 1
    assert config.worker_config.machine_type_uri == "n2-standard-8"
    assert config.software_config.properties["spark:spark.executor.cores"] == "4"
    assert [a.executable_file for a in config.initialization_actions] == [ARTIFACTS["init"]]
    assert config.lifecycle_config.idle_delete_ttl.total_seconds() == 1800


def test_delete_cluster(make_project):
    dag, _ = compiled_dag(make_project)
    delete = dag.get_task("delete_spark_cluster")
    assert type(delete).__name__ == "DataprocDeleteClusterOperator"
    assert (delete.project_id, delete.region, delete.gcp_conn_id) == (
        "my-project",
        "us-central1",
        "gcp_prod",
    )
    assert delete.cluster_name == dag.get_task("create_spark_cluster").cluster_name


def test_submit_job(make_project):
    dag, compiled = compiled_dag(make_project, macro_params=["ds"])
    submit = dag.get_task(task_id_of(compiled, "score"))
    assert type(submit).__name__ == "DataprocSubmitJobOperator"
    job = dataproc_v1.Job(submit.job)
    pyspark = job.pyspark_job
    assert pyspark.main_python_file_uri == ARTIFACTS["entry"]
    assert list(pyspark.args) == [
        "run",
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--nodes",
        "score,rank",
        "--runner",
        "ThreadRunner",
        "--params",
        "ds={{ ds }}",
    ]
    assert dict(pyspark.properties) == {
        "spark.log.level": "WARN",  # unless configured otherwise
        "spark.executor.memory": "8g",
        "spark.executor.instances": "4",
        # gs:// is native on Dataproc; s3a:// needs the connector settings.
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"
        ),
        "spark.sql.shuffle.partitions": "64",
    }
    assert job.placement.cluster_name == "{{ run_id | spark_cluster_name(dag.dag_id) }}"
    assert job.reference.project_id == "my-project"
    assert (submit.project_id, submit.region, submit.gcp_conn_id) == (
        "my-project",
        "us-central1",
        "gcp_prod",
    )


def test_submit_args_extend_the_pyspark_job(make_project):
    spark = {**DATAPROC, "submit_args": {"jarFileUris": ["gs://bucket/jars/delta.jar"]}}
    dag, compiled = compiled_dag(make_project, spark)
    job = dag.get_task(task_id_of(compiled, "score")).job
    assert job["pyspark_job"]["jar_file_uris"] == ["gs://bucket/jars/delta.jar"]


def test_users_own_idle_ttl_and_init_actions_are_kept(make_project):
    cluster_config = {
        "lifecycle_config": {"idle_delete_ttl": "900s"},
        "initialization_actions": [{"executable_file": "gs://bucket/setup-repos.sh"}],
    }
    dag, _ = compiled_dag(make_project, {**DATAPROC, "cluster_config": cluster_config})
    config = dataproc_v1.ClusterConfig(dag.get_task("create_spark_cluster").cluster_config)
    assert config.lifecycle_config.idle_delete_ttl.total_seconds() == 900
    assert [a.executable_file for a in config.initialization_actions] == [
        "gs://bucket/setup-repos.sh",
        ARTIFACTS["init"],
    ]


@pytest.mark.parametrize(
    ("cluster_config", "field"),
    [
        ({"master_confg": {"num_instances": 1}}, "master_confg"),
        ({"masterConfig": {"numInstance": 1}}, "numInstance"),
        ({"softwareConfig": {"optionalComponents": ["JUPYTR"]}}, "JUPYTR"),
    ],
)
def test_misspelt_cluster_config_is_a_compile_error(make_project, cluster_config, field):
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config({**DATAPROC, "cluster_config": cluster_config}),
    )
    with pytest.raises(UserError) as error:
        compile_to(project, artifacts=ARTIFACTS)
    assert "run_config.spark.cluster_config" in str(error.value)
    assert field in str(error.value)


def test_misspelt_job_field_in_submit_args_is_a_compile_error(make_project):
    spark = {**DATAPROC, "submit_args": {"jar_file_uri": ["gs://x.jar"]}}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"run_config\.spark\.submit_args.*jar_file_uri"):
        compile_to(project, artifacts=ARTIFACTS)


@pytest.mark.parametrize("artifacts_path", [None, "s3://bucket/artifacts"])
def test_artifacts_path_on_cloud_storage_is_required(make_project, artifacts_path):
    spark = {**DATAPROC, "artifacts_path": artifacts_path}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"run_config\.spark\.artifacts_path"):
        compile_to(project, artifacts=ARTIFACTS)


def test_invalid_label_names_its_key(make_project):
    spark = {**DATAPROC, "labels": {"Team": "data"}}
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=config(spark))
    with pytest.raises(UserError, match=r"'Team'.*run_config\.spark\.labels"):
        compile_to(project, artifacts=ARTIFACTS)
