"""The MLflow run of each DAG run: its start and end tasks, and the variables every task gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from kedro_airflow_k8s import __version__
from kedro_airflow_k8s.config import MlflowConfig, RunConfig
from kedro_airflow_k8s.source import literal, neutralise_all, neutralise_template

START_TASK = "mlflow_start_run"
END_TASK = "mlflow_end_run"
# Module-level names of the MLflow part of a DAG; task variables must avoid them.
DAG_NAMES = frozenset(
    {
        START_TASK,
        END_TASK,
        "MLFLOW_CONN_ID",
        "MLFLOW_URL",
        "START_TASK_ID",
        "mlflow_api",
        "mlflow_answer",
        "mlflow_base_url",
        "requests",
        "start_mlflow_run",
        "end_mlflow_run",
        "mlflow_run_filter",
        "HttpHook",
        "PythonOperator",
    }
)
OPERATOR_IMPORT = "from airflow.providers.standard.operators.python import PythonOperator"
CONNECTION_IMPORT = "from airflow.providers.http.hooks.http import HttpHook"
URL_IMPORT = "import requests"  # a dependency of Airflow and of its HTTP provider

# The start and end tasks' code runs on the Airflow worker with only Airflow and its HTTP
# provider: no mlflow package. It reaches the server through the Airflow connection
# mlflow.conn_id, which the deployment provides with its credentials, or else at the
# tracking_uri written in the DAG, which holds none. Importing the DAG file changes nothing.
BY_CONNECTION = '''
def mlflow_api(endpoint, payload, method="POST", tolerate=()):
    """One call of the MLflow REST API through the Airflow connection MLFLOW_CONN_ID."""
    hook = HttpHook(method=method, http_conn_id=MLFLOW_CONN_ID)
    body = {"data": payload} if method == "GET" else {"json": payload}
    response = hook.run(
        f"api/2.0/mlflow/{endpoint}", extra_options={"check_response": False}, **body
    )
    return mlflow_answer(response, method, endpoint, tolerate)


def mlflow_base_url():
    """The tracking server's URL, from the connection (host, schema and port)."""
    hook = HttpHook(method="GET", http_conn_id=MLFLOW_CONN_ID)
    hook.get_conn()
    return hook.base_url
'''
BY_URL = '''
def mlflow_api(endpoint, payload, method="POST", tolerate=()):
    """One call of the MLflow REST API of the tracking server at MLFLOW_URL."""
    body = {"params": payload} if method == "GET" else {"json": payload}
    url = f"{MLFLOW_URL.rstrip('/')}/api/2.0/mlflow/{endpoint}"
    response = requests.request(method, url, timeout=60, **body)
    return mlflow_answer(response, method, endpoint, tolerate)


def mlflow_base_url():
    """The tracking server's URL."""
    return MLFLOW_URL
'''
FUNCTIONS = '''
def mlflow_answer(response, method, endpoint, tolerate):
    """The JSON answer of the MLflow REST API; None for an error whose code is in ``tolerate``."""
    if response.ok:
        return response.json()
    try:
        code = response.json().get("error_code")
    except ValueError:
        code = None
    if code and code in tolerate:
        return None
    raise RuntimeError(
        f"MLflow {method} {endpoint} answered {response.status_code}: {response.text[:500]}"
    )


def mlflow_run_filter(tags):
    """An MLflow search filter matching runs that carry every tag in ``tags``."""
    clauses = []
    for key, value in tags.items():
        quote = "'" if "'" not in value else '"'
        clauses.append(f"tags.`{key}` = {quote}{value}{quote}")
    return " and ".join(clauses)


def start_mlflow_run(experiment_name, run_name, tags, ti):
    """Open the MLflow run of this DAG run and hand its id to every task through XCom.

    A retried or cleared start task finds the run it opened before, so a DAG run
    never has more than one MLflow run.
    """
    by_name = {"experiment_name": experiment_name}
    missing = ("RESOURCE_DOES_NOT_EXIST",)
    found = mlflow_api("experiments/get-by-name", by_name, "GET", tolerate=missing)
    if found is None:
        # Another DAG run may create it at the same moment; either creation will do.
        exists = ("RESOURCE_ALREADY_EXISTS",)
        mlflow_api("experiments/create", {"name": experiment_name}, tolerate=exists)
        found = mlflow_api("experiments/get-by-name", by_name, "GET")
    if found["experiment"].get("lifecycle_stage") == "deleted":
        raise RuntimeError(
            f"the MLflow experiment {experiment_name!r} is deleted: restore it in MLflow, "
            "or set run_config.mlflow.experiment_name to another name and compile again"
        )
    experiment_id = found["experiment"]["experiment_id"]
    tags = {**tags, "airflow.dag_id": ti.dag_id, "airflow.run_id": ti.run_id}
    keys = {key: tags[key] for key in ("airflow.dag_id", "airflow.run_id")}
    search = {"experiment_ids": [experiment_id], "filter": mlflow_run_filter(keys)}
    runs = mlflow_api("runs/search", {**search, "max_results": 1}).get("runs", [])
    if runs:
        run_id = runs[0]["info"]["run_id"]
        mlflow_api("runs/update", {"run_id": run_id, "status": "RUNNING"})
    else:
        created = mlflow_api(
            "runs/create",
            {
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": int(datetime.datetime.now().timestamp() * 1000),
                "tags": [{"key": key, "value": value} for key, value in tags.items()],
            },
        )
        run_id = created["run"]["info"]["run_id"]
    ti.xcom_push(key="tracking_uri", value=mlflow_base_url())
    ti.xcom_push(key="run_id", value=run_id)
    ti.xcom_push(key="run_name", value=run_name)
    print(f"MLflow run {run_id} of experiment {experiment_name!r} ({experiment_id})")
    return run_id


def end_mlflow_run(ti):
    """Close the MLflow run: FAILED if a Kedro task failed or could not run, else FINISHED.

    The run gets its name back too, should a task have renamed it on resuming it.
    """
    run_id = ti.xcom_pull(task_ids=START_TASK_ID, key="run_id")
    run_name = ti.xcom_pull(task_ids=START_TASK_ID, key="run_name")
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=KEDRO_TASK_IDS)
    failed = sorted(
        task
        for task, state in states.get(ti.run_id, {}).items()
        if state in ("failed", "upstream_failed")
    )
    status = "FAILED" if failed else "FINISHED"
    end_time = int(datetime.datetime.now().timestamp() * 1000)
    update = {"run_id": run_id, "status": status, "end_time": end_time, "run_name": run_name}
    mlflow_api("runs/update", update)
    print(f"MLflow run {run_id} is {status}" + (f": {', '.join(failed)} failed" if failed else ""))
    return status
'''


@dataclass
class MlflowRendering:
    """What the MLflow run adds to a DAG: imports, functions, two tasks and their wiring."""

    imports: list[str]
    preamble: str
    start: str
    end: str
    env: dict[str, str] = field(default_factory=dict)


def experiment_name(config: MlflowConfig, dag_id: str) -> str:
    return config.experiment_name or dag_id


def pulled(key: str) -> str:
    """An Airflow template for a value the start task pushed to XCom."""
    return f'{{{{ ti.xcom_pull(task_ids="{START_TASK}", key="{key}") }}}}'


def task_env(run: RunConfig, dag_id: str) -> dict[str, str]:
    """``MLFLOW_*`` variables of every task (pods, local commands, Spark drivers), as text for
    templated fields: the run id is rendered for each DAG run. Empty without ``mlflow``."""
    config = run.mlflow
    if config is None:
        return {}
    uri = neutralise_template(config.tracking_uri) if config.tracking_uri else None
    return {
        "MLFLOW_TRACKING_URI": uri or pulled("tracking_uri"),
        "MLFLOW_EXPERIMENT_NAME": neutralise_template(experiment_name(config, dag_id)),
        "MLFLOW_RUN_ID": pulled("run_id"),
    }


def run_tags(
    config: MlflowConfig,
    *,
    commit_sha: str | None,
    pipeline: str,
    env: str,
    dag_id: str,
) -> dict[str, str]:
    """Tags of every MLflow run of the DAG; the start task adds the DAG run's id."""
    tags = {
        "mlflow.source.name": dag_id,
        "mlflow.source.type": "JOB",
        "kedro.pipeline": pipeline,
        "kedro.env": env,
        "kedro_airflow_k8s.version": __version__,
    }
    if commit_sha:
        tags["mlflow.source.git.commit"] = commit_sha
    return {**tags, **config.tags}


def preamble(config: MlflowConfig, dag_id: str) -> str:
    lines = [
        "# MLflow: the start task opens one run per DAG run, every task logs into it",
        "# (MLFLOW_RUN_ID), and the end task closes it, through the tracking server's REST API.",
    ]
    if config.conn_id:
        lines += [
            "# The server and its credentials: the Airflow connection mlflow.conn_id.",
            f"MLFLOW_CONN_ID = {literal(config.conn_id)}",
        ]
    else:
        lines += [
            "# The server: mlflow.tracking_uri; set mlflow.conn_id to an Airflow HTTP",
            "# connection to reach it with credentials.",
            f"MLFLOW_URL = {literal(config.tracking_uri)}",
        ]
    lines.append(f"START_TASK_ID = {literal(START_TASK)}")
    api = BY_CONNECTION if config.conn_id else BY_URL
    return "\n".join(lines) + "\n\n\n" + api.strip("\n") + "\n\n\n" + FUNCTIONS.strip("\n")


def imports(config: MlflowConfig) -> list[str]:
    return [OPERATOR_IMPORT, CONNECTION_IMPORT if config.conn_id else URL_IMPORT]


def rendering(
    run: RunConfig,
    dag_id: str,
    *,
    commit_sha: str | None,
    pipeline: str,
    env: str,
) -> MlflowRendering | None:
    """The MLflow part of the DAG of ``dag_id``, or None when ``run_config.mlflow`` is unset."""
    config = run.mlflow
    if config is None:
        return None
    tags = run_tags(config, commit_sha=commit_sha, pipeline=pipeline, env=env, dag_id=dag_id)
    kwargs = {
        "experiment_name": literal(neutralise_template(experiment_name(config, dag_id))),
        # run_name is an Airflow template by design (default "{{ dag.dag_id }} {{ run_id }}").
        "run_name": literal(config.run_name),
        "tags": literal(neutralise_all(tags), 8),
    }
    start = "\n".join(
        [
            "PythonOperator(",
            f"    task_id={literal(START_TASK)},",
            "    python_callable=start_mlflow_run,",
            "    op_kwargs={",
            *(f"        {literal(key)}: {value}," for key, value in kwargs.items()),
            "    },",
            ")",
        ]
    )
    end = "\n".join(
        [
            "PythonOperator(",
            f"    task_id={literal(END_TASK)},",
            "    python_callable=end_mlflow_run,",
            ")",
        ]
    )
    return MlflowRendering(
        imports=imports(config),
        preamble=preamble(config, dag_id),
        start=start,
        end=end,
        env=task_env(run, dag_id),
    )
