"""`make demo`: compile the example project and run its DAG in a real Airflow 3 with Spark.

The example's plain nodes run as `kedro run` on the Airflow worker (node_runner
local) and its Spark group is submitted with spark-submit to `local[2]`
(backend standalone). Everything happens in `.demo/` under the repository, with
Airflow on SQLite in a temporary AIRFLOW_HOME. Exit code 0 only when every task
succeeded and every expected output exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "mixed-demo"
WORK = REPO / ".demo"
BIN = Path(sys.executable).parent
JAVA_HINT = (
    "Java is needed for Spark and was not found. Install it, for example with\n"
    "  sudo apt-get install -y openjdk-17-jre-headless\n"
    "then run `make demo` again."
)


def check_java() -> None:
    java = shutil.which("java") or (
        os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java")
    )
    if not java:
        sys.exit(JAVA_HINT)
    result = subprocess.run([str(java), "-version"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(JAVA_HINT)


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path | None = None) -> str:
    """Run a command; on failure show its output (or the log's tail) and stop."""
    started = time.monotonic()
    if log is None:
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        output = result.stdout + result.stderr
    else:
        with log.open("w") as handle:
            result = subprocess.run(cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
        output = log.read_text()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-60:])
        sys.exit(f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n{tail}")
    print(
        f"  {' '.join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))}"
        f"  ({time.monotonic() - started:.1f} s)"
    )
    return result.stdout if log is None else output


def copy_example(target: Path) -> Path:
    """A copy of the example without anything an earlier `kedro run` of it left in data/:
    stale outputs would pass the "every expected output exists" check without a run."""
    ignore = shutil.ignore_patterns("dags", "logs", "__pycache__", "*.egg-info", "build", "dist")
    shutil.copytree(EXAMPLE, target, ignore=ignore)
    for child in (target / "data").iterdir():
        if child.is_dir() and child.name != "01_raw":
            shutil.rmtree(child)
        elif child.is_file():
            child.unlink()
    (target / "conf" / "local").mkdir(parents=True, exist_ok=True)
    return target


def local_settings(project: Path) -> dict:
    """This machine's settings for the copy at ``project``: its Kedro, Python and paths."""
    return {
        "run_config": {
            "local_runner": {"kedro_command": str(BIN / "kedro"), "project_path": str(project)},
            "spark": {"python": sys.executable, "project_path": str(project)},
        }
    }


def prepare_project(work: Path | None = None) -> Path:
    work = work or WORK
    if work.exists():
        shutil.rmtree(work)
    project = copy_example(work / "mixed-demo")
    # Machine-specific settings go to conf/local, merged key by key over conf/base.
    (project / "conf" / "local" / "airflow-k8s.yml").write_text(
        yaml.safe_dump(local_settings(project))
    )
    return project


def spark_connection(master: str) -> str:
    """An Airflow Spark connection to ``master``, as an AIRFLOW_CONN_* variable holds it."""
    return json.dumps({"conn_type": "spark", "host": master})


def airflow_env(home: Path) -> dict[str, str]:
    """The environment of every Airflow command: this AIRFLOW_HOME and nothing inherited
    from another Airflow (its database, connections or settings)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "KEDRO_DISABLE_TELEMETRY": "true",
            # The Spark connection the DAG names (run_config.spark.conn_id): Spark in-process.
            "AIRFLOW_CONN_SPARK_LOCAL": spark_connection("local[2]"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        }
    )
    return env


def json_output(text: str) -> list[dict]:
    """The JSON list in a CLI's output; Airflow may print warnings around it."""
    for line in text.splitlines():
        if line.startswith("["):
            return json.loads(line)
    raise ValueError(f"no JSON in the output:\n{text}")


def task_states(dag_id: str, cwd: Path, env: dict[str, str]) -> list[dict]:
    airflow = str(BIN / "airflow")
    runs = json_output(run([airflow, "dags", "list-runs", dag_id, "-o", "json"], cwd, env))
    run_id = runs[0]["run_id"]
    states = run([airflow, "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"], cwd, env)
    return json_output(states)


def duration(row: dict) -> str:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(row["start_date"])
        end = datetime.fromisoformat(row["end_date"])
    except (KeyError, TypeError, ValueError):
        return "-"
    return f"{(end - start).total_seconds():.1f} s"


def expected_outputs(project: Path) -> list[Path]:
    catalog = yaml.safe_load((project / "conf" / "base" / "catalog.yml").read_text())
    paths = {
        project / entry["filepath"]
        for entry in catalog.values()
        if isinstance(entry, dict)
        and "filepath" in entry
        and not entry["filepath"].startswith("data/01_raw")
    }
    return sorted(paths)


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def main() -> int:
    check_java()
    print("kedro-airflow-k8s demo: examples/mixed-demo, Airflow 3 on SQLite, Spark local[2]")
    project = prepare_project()
    home = WORK / "airflow"
    (home / "dags").mkdir(parents=True)
    env = airflow_env(home)

    kedro = str(BIN / "kedro")
    plan_file = WORK / "plan.json"
    run(
        [kedro, "airflow-k8s", "plan", "--format", "json", "--output", str(plan_file)], project, env
    )
    plan = json.loads(plan_file.read_text())
    run([kedro, "airflow-k8s", "compile", "--output-dir", str(home / "dags")], project, env)
    dag_id = plan["dag_id"]
    run([str(BIN / "airflow"), "db", "migrate"], project, env, log=WORK / "db-migrate.log")
    started = time.monotonic()
    run(
        [str(BIN / "airflow"), "dags", "test", dag_id],
        project,
        env,
        log=WORK / "dags-test.log",
    )
    wall = time.monotonic() - started

    rows = {row["task_id"]: row for row in task_states(dag_id, project, env)}
    tasks = {t["task_id"]: t for t in plan["tasks"]}
    print(f"\nDAG {dag_id}: {len(rows)} tasks, run took {wall:.1f} s\n")
    header = f"{'task':34} {'kind':6} {'state':9} {'time':>8}  Kedro nodes"
    print(header)
    print("-" * len(header))
    ok = True
    for task_id, row in rows.items():
        info = tasks.get(task_id)
        kind = info["kind"] if info else "infra"
        nodes = ", ".join(info["nodes"]) if info else ""
        state = row.get("state") or "none"
        ok &= state == "success"
        print(f"{task_id:34} {kind:6} {state:9} {duration(row):>8}  {nodes}")

    print("\nOutputs written:")
    for path in expected_outputs(project):
        exists = path.exists()
        ok &= exists
        shown = f"{size_of(path):>9,d} bytes" if exists else "  MISSING"
        print(f"  {shown}  {path.relative_to(project)}")
    print(f"\nDAG file: {home / 'dags' / (dag_id + '.py')}")
    print(f"Airflow log of the run: {WORK / 'dags-test.log'}")
    if not ok:
        print("\nDemo FAILED: see the states and outputs above.")
        return 1
    print("\nDemo passed: every task succeeded and every output exists.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
