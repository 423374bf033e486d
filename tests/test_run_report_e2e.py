"""What `run-once --wait-for-completion` reports of a real run in a real Airflow 3 on 127.0.0.1:
every task of a run of more than one page, and the error of a failed Spark application."""

from __future__ import annotations

import textwrap
import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest
from airflow_server import AirflowServer, airflow  # noqa: F401 - session fixture

from kedro_airflow_k8s.airflow_api import PAGE_SIZE, AirflowApi
from kedro_airflow_k8s.airflow_settings import settings_from_env
from kedro_airflow_k8s.deploy import trigger_run
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.run_follow import follow_run

pytestmark = pytest.mark.e2e

ADMIN = {"AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": "admin"}
MANY_TASKS = PAGE_SIZE + 7
# EmptyOperators: the scheduler marks them done itself, so a run of 107 tasks takes seconds.
MANY_TASKS_DAG = f"""
import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="many_tasks", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
    for number in range({MANY_TASKS}):
        EmptyOperator(task_id=f"task_{{number:03d}}")
"""
FAILING_SPARK_APP = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("fails_on_purpose").getOrCreate()
spark.range(3).count()
raise ValueError("this Spark application fails on purpose")
"""
SPARK_CONNECTION = "spark_local_one"


def spark_dag(application: str) -> str:
    """One SparkSubmitOperator on local[1], with Spark's default (INFO) logging."""
    return textwrap.dedent(
        f"""
        import datetime

        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
        from airflow.sdk import DAG

        with DAG(dag_id="spark_fails", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
            SparkSubmitOperator(
                task_id="submit",
                application={application!r},
                conn_id={SPARK_CONNECTION!r},
                retries=0,
                conf={{
                    "spark.ui.enabled": "false",
                    "spark.driver.host": "127.0.0.1",
                    "spark.driver.bindAddress": "127.0.0.1",
                    "spark.driver.memory": "512m",
                }},
            )
        """
    )


@pytest.fixture
def api(airflow: AirflowServer) -> Iterator[AirflowApi]:  # noqa: F811
    yield AirflowApi(settings_from_env(airflow.url, environ=ADMIN))


def publish(server: AirflowServer, api: AirflowApi, dag_id: str, source: str) -> dict[str, Any]:
    """Write the DAG file and wait until Airflow has stored it; the DAG."""
    (server.dags_folder / f"{dag_id}.py").write_text(source)

    def stored() -> dict[str, Any] | None:
        details = api.dag_details(dag_id)
        return details if details and details.get("latest_dag_version") else None

    return server.wait_for(f"DAG {dag_id}", stored)


def test_a_run_of_more_tasks_than_one_page_is_reported_task_by_task(
    airflow: AirflowServer,  # noqa: F811
    api: AirflowApi,
) -> None:
    dag = publish(airflow, api, "many_tasks", MANY_TASKS_DAG)
    run = trigger_run(api, dag, echo=lambda _: None)
    # Airflow answers one page of at most 100 task instances per request.
    first_page = airflow.api(
        "GET", f"/dags/many_tasks/dagRuns/{run['dag_run_id']}/taskInstances?limit=1000"
    )
    assert len(first_page["task_instances"]) < first_page["total_entries"] == MANY_TASKS
    lines: list[str] = []

    follow_run(api, run, 5, echo=lines.append, poll=1.0)

    table = lines[-2].splitlines()
    assert table[0].split() == ["TASK", "STATE", "SECONDS"]
    assert sorted(row.split()[0] for row in table[1:]) == [
        f"task_{number:03d}" for number in range(MANY_TASKS)
    ]
    assert {row.split()[1] for row in table[1:]} == {"success"}
    assert lines[-1] == f"run '{run['dag_run_id']}' of DAG 'many_tasks' succeeded"


def test_the_failure_report_of_a_spark_application_shows_its_error_not_spark_info_lines(
    airflow: AirflowServer,  # noqa: F811
    api: AirflowApi,
) -> None:
    application = airflow.home / "spark_apps" / "fails_on_purpose.py"
    application.parent.mkdir(exist_ok=True)
    application.write_text(FAILING_SPARK_APP)
    try:
        connection = {"connection_id": SPARK_CONNECTION, "conn_type": "spark", "host": "local[1]"}
        airflow.api("POST", "/connections", connection)
    except urllib.error.HTTPError as error:
        if error.code != 409:  # already there from an earlier run in this Airflow
            raise
    dag = publish(airflow, api, "spark_fails", spark_dag(str(application)))
    run = trigger_run(api, dag, echo=lambda _: None)

    with pytest.raises(UserError) as failure:
        follow_run(api, run, 10, echo=lambda _: None, poll=2.0)

    report = str(failure.value).splitlines()
    assert report[0].endswith("failed: failed tasks: submit")
    tail = report[report.index("--- last lines of the log of submit ---") + 1 : -1]
    assert "ValueError: this Spark application fails on purpose" in tail
    assert not [line for line in tail if " INFO " in line], tail
    # The log itself ends with Spark's shutdown lines, which the report leaves out.
    (task,) = api.task_instances("spark_fails", run["dag_run_id"])
    logged = [str(record.get("event", record)) for record in map(as_record, api.log(task))]
    assert any("INFO SparkContext: Invoking stop() from shutdown hook" in e for e in logged)


def as_record(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"event": item}
