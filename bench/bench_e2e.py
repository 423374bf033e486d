"""Wall time of the example pipeline in real Airflow and Spark, with Spark nodes grouped or not."""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))

import demo  # noqa: E402 - examples/demo.py: project copy, Airflow env, command runner

MODES = {"grouped": True, "ungrouped": False}
# Spark logs this line once per SparkContext, i.e. once per Spark application.
APPLICATION_STARTED = re.compile(r"SparkContext: Submitted application")


def prepare(mode: str, work: Path, group: bool) -> Path:
    """A fresh copy of the example whose conf/local sets run_config.spark.group_spark_nodes."""
    demo.WORK = work / mode  # demo.prepare_project copies the example under demo.WORK
    project = demo.prepare_project()
    local = project / "conf" / "local" / "airflow-k8s.yml"
    settings = yaml.safe_load(local.read_text())
    settings["run_config"]["spark"]["group_spark_nodes"] = group
    local.write_text(yaml.safe_dump(settings))
    return project


def run_mode(mode: str, group: bool, work: Path, env: dict[str, str]) -> dict:
    """Compile the example as DAG ``mixed_demo_<mode>``, run it with `airflow dags test`."""
    project = prepare(mode, work, group)
    dag_id = f"mixed_demo_{mode}"
    kedro, airflow = str(demo.BIN / "kedro"), str(demo.BIN / "airflow")
    plan_file = work / mode / "plan.json"
    named = ["--dag-name", dag_id]
    demo.run([kedro, "airflow-k8s", "plan", "--format", "json", "--output", str(plan_file), *named],
             project, env)  # fmt: skip
    demo.run([kedro, "airflow-k8s", "compile", "--output-dir", env["AIRFLOW__CORE__DAGS_FOLDER"],
              *named], project, env)  # fmt: skip
    log = work / mode / "dags-test.log"
    started = time.monotonic()
    demo.run([airflow, "dags", "test", dag_id], project, env, log=log)
    wall = time.monotonic() - started

    plan = json.loads(plan_file.read_text())
    spark_ids = {t["task_id"] for t in plan["tasks"] if t["kind"] == "spark"}
    states = {row["task_id"]: row.get("state") for row in demo.task_states(dag_id, project, env)}
    task_logs = Path(env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) / f"dag_id={dag_id}"
    logs = [log, *(p for p in task_logs.rglob("*") if p.is_file())]
    applications = max(
        len(APPLICATION_STARTED.findall(p.read_text(errors="replace"))) for p in logs
    )
    outputs = demo.expected_outputs(project)
    return {
        "mode": mode,
        "wall": wall,
        "tasks": len(plan["tasks"]),
        "spark_tasks_run": sum(states.get(t) == "success" for t in spark_ids),
        "spark_applications": applications,
        "ok": all(s == "success" for s in states.values()) and all(p.exists() for p in outputs),
    }


def run() -> list[str]:
    """Report lines: one row per mode, both measured in this one run of the script."""
    demo.check_java()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        home = work / "airflow"
        (home / "dags").mkdir(parents=True)
        env = demo.airflow_env(home)
        demo.run([str(demo.BIN / "airflow"), "db", "migrate"], work, env, log=work / "migrate.log")
        results = [run_mode(mode, group, work, env) for mode, group in MODES.items()]
        plain = plain_kedro_run(work, env)
    lines = [
        "examples/mixed-demo in Airflow 3 (`airflow dags test`, SQLite, node_runner local) with",
        "Spark standalone local[2]; both modes from this one run. Wall time is the whole",
        "`airflow dags test` command, Airflow's start-up included; Spark applications are",
        "counted from the SparkContext start lines in the logs.",
        "",
        "| mode | wall s | Airflow tasks | Spark tasks run | Spark applications started | ok |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['wall']:.1f} | {r['tasks']} | {r['spark_tasks_run']} "
            f"| {r['spark_applications']} | {'yes' if r['ok'] else 'NO'} |"
        )
    grouped, ungrouped = results
    lines += [
        f"| plain `kedro run` (no Airflow; Spark nodes in one local session) | {plain:.1f} "
        "| - | - | 1 | yes |",
        "",
        f"Ungrouped / grouped wall time: {ungrouped['wall'] / grouped['wall']:.2f}x. "
        f"Against a plain `kedro run` of the same project: grouped {grouped['wall'] / plain:.2f}x, "
        f"ungrouped {ungrouped['wall'] / plain:.2f}x (the difference is Airflow's own start-up "
        "and scheduling, one process per task, and one Spark application per Spark task).",
    ]
    return lines


def plain_kedro_run(work: Path, env: dict[str, str]) -> float:
    """Wall time of `kedro run` on a fresh copy of the example: the floor for any DAG."""
    demo.WORK = work / "plain"
    project = demo.prepare_project()
    started = time.monotonic()
    demo.run([str(demo.BIN / "kedro"), "run"], project, env, log=work / "plain" / "run.log")
    wall = time.monotonic() - started
    missing = [p for p in demo.expected_outputs(project) if not p.exists()]
    if missing:
        raise RuntimeError(f"kedro run left out {', '.join(map(str, missing))}")
    return wall


if __name__ == "__main__":
    print("\n".join(run()))
