"""End-to-end helpers: example copies, DAG runs in a real Airflow, a Spark standalone cluster."""

from __future__ import annotations

import ast
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kedro_airflow_k8s.spark.standalone import StandaloneFactory
from kedro_airflow_k8s.template_helper import OperatorSpec

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "examples") not in sys.path:
    sys.path.insert(0, str(REPO / "examples"))

import demo  # noqa: E402 - examples/demo.py: project copy, Airflow env, command runner

from tests.airflow_server import migrated_database  # noqa: E402

LOOPBACK = "127.0.0.1"
NODE_PROCESSES = "node_processes.jsonl"
CLUSTER_MARKERS = "spark-cluster-markers"
BASH = "airflow.providers.standard.operators.bash.BashOperator"
DAG_RUN_TIMEOUT = 420


# --- The example project --------------------------------------------------------------------


def prepare_example(target: Path, settings: dict[str, Any] | None = None) -> Path:
    """A fresh copy of the example with this machine's conf/local (plus ``settings``, merged
    key by key) and a hook that records which process ran each Kedro node."""
    project = demo.copy_example(target)
    local = merged(demo.local_settings(project), settings or {})
    (project / "conf" / "local" / "airflow-k8s.yml").write_text(yaml.safe_dump(local))
    record_node_processes(project)
    return project


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


HOOK_MODULE = '''"""Records the process that ran each Kedro node (added by tests/e2e_support.py)."""

import json
import os

from kedro.framework.hooks import hook_impl

RECORD = {record!r}


class NodeProcesses:
    @hook_impl
    def after_node_run(self, node):
        with open(RECORD, "a", encoding="utf-8") as record:
            record.write(json.dumps({{"node": node.name, "pid": os.getpid()}}) + "\\n")
'''


def record_node_processes(project: Path) -> None:
    package = project / "src" / "mixed_demo"
    record = project / NODE_PROCESSES
    (package / "node_processes.py").write_text(HOOK_MODULE.format(record=str(record)))
    with (package / "settings.py").open("a") as settings:
        settings.write(
            "\nfrom mixed_demo.node_processes import NodeProcesses\n\nHOOKS = (NodeProcesses(),)\n"
        )


def node_processes(project: Path) -> dict[str, int]:
    """The process id that ran each node, from the hook's record."""
    record = project / NODE_PROCESSES
    lines = record.read_text().splitlines() if record.exists() else []
    return {entry["node"]: entry["pid"] for entry in map(json.loads, lines)}


def plant_failure(project: Path, function: str) -> str:
    """Make the node function ``function`` raise right after its docstring; returns the
    message it raises."""
    message = f"planted failure in {function}"
    for nodes in (project / "src").rglob("nodes.py"):
        source = nodes.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                lines = source.splitlines(keepends=True)
                after = node.body[0].end_lineno  # the docstring
                lines.insert(after, f"    raise ValueError({message!r})\n")
                nodes.write_text("".join(lines))
                return message
    raise LookupError(f"no node function {function} in {project}")


def describe_pipeline(project_path: str, output: str) -> None:
    """Write each node's inputs and outputs and each dataset's catalog type (None for
    undeclared, that is MemoryDatasets) to ``output``. Kedro only, no kedro-airflow-k8s;
    run in a subprocess (see ``pipeline_datasets``) since it imports the project."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(Path(project_path))
    with KedroSession.create(project_path=project_path, env="local") as session:
        catalog = session.load_context().catalog
    nodes = {
        node.name: {"inputs": node.inputs, "outputs": node.outputs}
        for node in pipelines["__default__"].nodes
    }
    names = {name for node in nodes.values() for name in node["inputs"] + node["outputs"]}
    datasets = {
        name: catalog.get_type(name) if name in catalog else None
        for name in sorted(names)
        if not name.startswith("params:") and name != "parameters"
    }
    Path(output).write_text(json.dumps({"nodes": nodes, "datasets": datasets}))


def pipeline_datasets(project: Path, env: dict[str, str]) -> dict[str, Any]:
    output = project.parent / f"{project.name}-datasets.json"
    code = "import sys; import tests.e2e_support as e2e; e2e.describe_pipeline(*sys.argv[1:])"
    pythonpath = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, "-c", code, str(project), str(output)],
        cwd=project,
        env={**env, "PYTHONPATH": pythonpath},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(output.read_text())


# --- Airflow --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Airflow:
    """One AIRFLOW_HOME on SQLite, shared by every DAG of the session."""

    home: Path
    env: dict[str, str]

    @property
    def dags(self) -> Path:
        return self.home / "dags"


def airflow_home(home: Path) -> Airflow:
    """A migrated AIRFLOW_HOME, and the environment of every command run against it: nothing
    inherited from another Airflow or Spark, no PYTHONPATH (the DAGs need only installed
    packages), and Spark bound to the loopback interface only."""
    (home / "dags").mkdir(parents=True)
    env = {
        key: value
        for key, value in demo.airflow_env(home).items()
        if not key.startswith("SPARK_") and key != "PYTHONPATH"
    }
    env.update({"SPARK_LOCAL_IP": LOOPBACK, "SPARK_PUBLIC_DNS": LOOPBACK})
    migrated_database(home / "airflow.db")
    return Airflow(home, env)


def compile_dag(
    project: Path, airflow: Airflow, dag_id: str, pythonpath: Path | None = None
) -> dict[str, Any]:
    """`kedro airflow-k8s plan` and `compile` into the DAG folder; returns the plan.

    ``pythonpath`` is for compile only (a custom operator factory); the DAG must not need it.
    """
    env = dict(airflow.env)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    kedro = str(demo.BIN / "kedro")
    plan_file = project.parent / f"{dag_id}-plan.json"
    named = ["--dag-name", dag_id]
    plan = [kedro, "airflow-k8s", "plan", "--format", "json", "--output", str(plan_file), *named]
    # Each command spends seconds starting Kedro: run the two side by side.
    planning = subprocess.Popen(
        plan, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        demo.run(
            [kedro, "airflow-k8s", "compile", "--output-dir", str(airflow.dags), *named],
            project,
            env,
        )
    finally:
        output, _ = planning.communicate(timeout=300)
    if planning.returncode != 0:
        raise RuntimeError(f"`{shlex.join(plan)}` failed:\n{output}")
    return json.loads(plan_file.read_text())


@dataclass
class DagRun:
    """One `airflow dags test` of a compiled example: what Airflow recorded and printed."""

    dag_id: str
    project: Path
    plan: dict[str, Any]
    exit_code: int
    output: str
    state: str | None
    task_states: dict[str, str | None]
    seconds: float
    airflow_pid: int
    log: Path = field(repr=False)

    def tasks(self, kind: str) -> list[dict[str, Any]]:
        return [task for task in self.plan["tasks"] if task["kind"] == kind]

    @property
    def spark_task(self) -> dict[str, Any]:
        (task,) = self.tasks("spark")
        return task

    def task_log(self, task_id: str) -> str:
        """What the task logged: `airflow dags test` runs tasks in its own process and prints
        their logs between its "[DAG TEST] starting" and "end task" lines."""
        start = self.output.index(f"[DAG TEST] starting task_id={task_id} ")
        end = self.output.find(f"[DAG TEST] end task task_id={task_id} ", start)
        return self.output[start : end if end >= 0 else len(self.output)]


def airflow_task_id(task: dict[str, Any]) -> str:
    """The Airflow task id of a plan task: the plan's own id (the DAG has no task groups)."""
    return task["task_id"]


def run_dag(project: Path, airflow: Airflow, dag_id: str, plan: dict[str, Any]) -> DagRun:
    """`airflow dags test` in its own process group, killed with its children if it hangs."""
    log = project.parent / f"{dag_id}-dags-test.log"
    started = time.monotonic()
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(demo.BIN / "airflow"), "dags", "test", dag_id],
            cwd=project,
            env=airflow.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            exit_code = process.wait(timeout=DAG_RUN_TIMEOUT)
        except BaseException:
            stop_group(process)
            raise
    seconds = time.monotonic() - started
    state, task_states = recorded_states(airflow.home, dag_id)
    return DagRun(
        dag_id=dag_id,
        project=project,
        plan=plan,
        exit_code=exit_code,
        output=log.read_text(errors="replace"),
        state=state,
        task_states=task_states,
        seconds=seconds,
        airflow_pid=process.pid,
        log=log,
    )


def recorded_states(home: Path, dag_id: str) -> tuple[str | None, dict[str, str | None]]:
    """The state of the DAG's latest run and of its tasks, from Airflow's SQLite database
    (each `airflow` CLI call would cost seconds of start-up)."""
    with sqlite3.connect(home / "airflow.db") as db:
        row = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        if row is None:
            return None, {}
        run_id, state = row
        tasks = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    return state, dict(tasks)


def stop_group(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process group that ``process`` leads (it was started with
    start_new_session), SIGKILL what is left after ``grace`` seconds. The leader is reaped
    only at the end, so its id, which is the group's, cannot have been reused meanwhile."""
    if process.returncode is not None:
        return  # reaped already: the group id may belong to someone else by now
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not exited(process):
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def exited(process: subprocess.Popen) -> bool:
    """Whether ``process`` has exited, without reaping it."""
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return os.waitid(os.P_PID, process.pid, flags) is not None


# --- Spark standalone on 127.0.0.1 ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass
class SparkStandalone:
    """A Spark master and one worker started with pyspark's own `spark-class`."""

    workdir: Path
    port: int = field(default_factory=free_port)
    webui_port: int = field(default_factory=free_port)
    worker_webui_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.port}"

    def status(self) -> dict[str, Any]:
        """The master's web UI as JSON: workers, active and completed applications."""
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = f"http://{LOOPBACK}:{self.webui_port}/json/"
        with no_proxy.open(url, timeout=5) as response:
            return json.load(response)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SPARK_")}
        conf_dir = self.workdir / "conf"  # empty: no spark-defaults or spark-env from elsewhere
        conf_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "SPARK_HOME": str(pyspark_home()),
                "SPARK_CONF_DIR": str(conf_dir),
                "SPARK_LOCAL_IP": LOOPBACK,
                "SPARK_PUBLIC_DNS": LOOPBACK,
                "SPARK_DAEMON_MEMORY": "512m",
                # The REST submission server would listen on the fixed port 6066.
                "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
            }
        )
        return env

    def start(self) -> None:
        """Launch the master and the worker; ``wait_until_ready`` waits for them."""
        spark_class = str(pyspark_home() / "bin" / "spark-class")
        master = [
            spark_class, "org.apache.spark.deploy.master.Master",
            "--host", LOOPBACK, "--port", str(self.port), "--webui-port", str(self.webui_port),
        ]  # fmt: skip
        worker = [
            spark_class, "org.apache.spark.deploy.worker.Worker", self.master_url,
            "--host", LOOPBACK, "--cores", "1", "--memory", "1g",
            "--webui-port", str(self.worker_webui_port),
            "--work-dir", str(self.workdir / "work"),
        ]  # fmt: skip
        self._launch(master, "master")
        self._launch(worker, "worker")

    def wait_until_ready(self, timeout: float = 120) -> None:
        """Until the master's JSON shows a live worker; a process that exits stops the wait."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process, name in zip(self.processes, ("master", "worker"), strict=True):
                if exited(process):
                    raise RuntimeError(f"the Spark {name} exited:\n{self.log_tail(name)}")
            try:
                if self.status()["aliveworkers"] >= 1:
                    return
            except OSError:
                pass  # the web UI is not up yet
            time.sleep(1)
        raise TimeoutError(f"no Spark worker registered within {timeout} s:\n{self.log_tail()}")

    def _launch(self, command: list[str], name: str) -> None:
        with (self.workdir / f"{name}.log").open("w") as log:
            self.processes.append(
                subprocess.Popen(
                    command,
                    env=self.env(),
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def log_tail(self, *names: str, lines: int = 30) -> str:
        chosen = names or ("master", "worker")
        tails = []
        for name in chosen:
            path = self.workdir / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            tails.append(f"--- {name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        """Stop the worker (and its executors), then the master: whole process groups."""
        for process in reversed(self.processes):
            stop_group(process)

    def is_listening(self) -> bool:
        for port in (self.port, self.webui_port, self.worker_webui_port):
            with socket.socket() as probe:
                if probe.connect_ex((LOOPBACK, port)) == 0:
                    return True
        return False


@contextmanager
def spark_standalone(workdir: Path) -> Iterator[SparkStandalone]:
    """A master and a worker, launched (see ``wait_until_ready``) and stopped on the way out
    however the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    spark = SparkStandalone(workdir)
    try:
        spark.start()
        yield spark
    finally:
        spark.stop()


# --- A custom backend with a cluster lifecycle that runs on this machine ----------------------


class SparkSubmitWithLocalCluster(StandaloneFactory):
    """The standalone backend's spark-submit between a create and a delete task that stand
    in for a cluster: each leaves a marker file named after the run's cluster.

    Used with `spark.type: standalone` and `operator_factory`; compile imports it, the DAG it
    writes does not.
    """

    def create_cluster(self, context):
        return self._marker(context, "create_spark_cluster", "created", "setup")

    def delete_cluster(self, context):
        return self._marker(context, "delete_spark_cluster", "deleted", "teardown")

    def _marker(self, context, task_id: str, kind: str, role: str) -> OperatorSpec:
        project = Path(context.spark.project_path or context.project_path)
        folder = shlex.quote(str(markers_dir(project)))
        command = f"mkdir -p {folder} && touch {folder}/{kind}-" + context.cluster_name
        return OperatorSpec(BASH, {"task_id": task_id, "bash_command": command}, role)


def markers_dir(project: Path) -> Path:
    return project / CLUSTER_MARKERS
