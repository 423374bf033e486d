"""DAG parse time in Airflow's DagBag: generated DAGs against hand-written, Kedro-importing ones."""

from __future__ import annotations

import argparse
import json
import os
import py_compile
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

SIZES = (100, 1_000)
PROCESSES = 3
ROUNDS = 3
VARIANTS = ("generated", "hand_written", "kedro_import")
RUN_CONFIG = {
    "image": "registry.example.com/project:1.0",
    "namespace": "data-pipelines",
    "resources": {"__default__": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
}

# The same DAG as the generator writes, built in a loop as a person would write it.
HAND_WRITTEN = """\
import datetime
{kedro_imports}
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, TaskGroup
from kubernetes.client import models as k8s

RESOURCES = k8s.V1ResourceRequirements(requests={{"cpu": "500m", "memory": "1Gi"}}, limits=None)

with DAG(
    dag_id="bench",
    description=None,
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={{"retries": 0, "retry_delay": datetime.timedelta(seconds=300)}},
    tags=["commit_sha:unknown"],
    doc_md="Kedro project **bench**.",
) as dag:
    with TaskGroup(group_id="kedro"):
        tasks = []
        for i in range({size}):
            task = KubernetesPodOperator(
                task_id=f"t{{i}}",
                name=f"t{{i}}",
                doc_md=f"Kedro nodes run by this task (node):\\n\\n- `n{{i}}`: plain node",
                arguments=[
                    "run", "--pipeline", "__default__", "--env", "local", "--nodes", f"n{{i}}"
                ],
                namespace="data-pipelines",
                image="registry.example.com/project:1.0",
                image_pull_policy="IfNotPresent",
                cmds=["kedro"],
                startup_timeout_seconds=600,
                on_finish_action="delete_pod",
                get_logs=True,
                container_resources=RESOURCES,
            )
            for up in sorted({{i - 1, i // 2}} - {{i}}) if i else ():
                tasks[up] >> task
            tasks.append(task)
"""
# What the official kedro-airflow template puts at the top of every DAG file.
KEDRO_IMPORTS = (
    "\nfrom kedro.framework.project import configure_project  # noqa: F401\n"
    "from kedro.framework.session import KedroSession  # noqa: F401\n"
)
WARM_UP = """\
import datetime
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG
with DAG(dag_id="warm_up", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    KubernetesPodOperator(task_id="a", name="a", image="i", namespace="n") >> \\
        KubernetesPodOperator(task_id="b", name="b", image="i", namespace="n")
"""


def upstream(i: int) -> list[int]:
    """Chain and fan: every task follows the one before it and the one at half its index."""
    return sorted({i - 1, i // 2} - {i}) if i else []


def generated_dag(size: int) -> str:
    """The DAG kedro-airflow-k8s renders for ``size`` single-node tasks in the pattern above."""
    from kedro_airflow_k8s.config import parse_config
    from kedro_airflow_k8s.plan import Plan, Task
    from kedro_airflow_k8s.render import DagContext, DagRenderer, check_source

    config = parse_config({"run_config": RUN_CONFIG})
    tasks = tuple(
        Task(
            f"t{i}",
            "node",
            (f"n{i}",),
            tuple(f"t{u}" for u in upstream(i)),
            {f"n{i}": "plain node"},
            profiles={"resources": "__default__"},  # as planning chooses for untagged nodes
        )
        for i in range(size)
    )
    ctx = DagContext("bench", "bench", "local", "__default__", "/srv/bench")
    source = DagRenderer(Plan("bench", tasks), config, ctx).render()
    check_source(source, "bench.py")
    return source


def write_dags(folder: Path, size: int) -> dict[str, Path]:
    sources = {
        "generated": generated_dag(size),
        "hand_written": HAND_WRITTEN.format(size=size, kedro_imports=""),
        "kedro_import": HAND_WRITTEN.format(size=size, kedro_imports=KEDRO_IMPORTS),
    }
    paths = {}
    for variant, source in sources.items():
        paths[variant] = folder / f"{variant}_{size}" / "dag.py"
        paths[variant].parent.mkdir(parents=True)
        paths[variant].write_text(source)
    paths["warm_up"] = folder / "warm_up" / "dag.py"
    paths["warm_up"].parent.mkdir(exist_ok=True)
    paths["warm_up"].write_text(WARM_UP)
    return paths


def child(paths: dict[str, str], rounds: int) -> None:
    """In a fresh process: import Airflow and the provider, parse a small DAG, then time files.

    The Kedro-free files are parsed ``rounds`` times each, alternating which goes first;
    the Kedro-importing file once, last, so Kedro is never imported before it is timed.
    """
    from airflow.dag_processing.dagbag import DagBag

    def parse(variant: str) -> float:
        started = time.perf_counter()
        bag = DagBag(dag_folder=paths[variant], safe_mode=False)
        seconds = time.perf_counter() - started
        if bag.import_errors or len(bag.dags) != 1:
            raise SystemExit(f"{variant}: {bag.import_errors or 'no DAG'}")
        tasks[variant] = len(next(iter(bag.dags.values())).tasks)
        return seconds

    DagBag(dag_folder=paths["warm_up"], safe_mode=False)
    tasks: dict[str, int] = {}
    times: dict[str, list[float]] = {"generated": [], "hand_written": []}
    for round_ in range(rounds):
        for variant in ("generated", "hand_written")[:: 1 if round_ % 2 == 0 else -1]:
            times[variant].append(parse(variant))
    times["kedro_import"] = [parse("kedro_import")]
    medians = {variant: statistics.median(values) for variant, values in times.items()}
    print(json.dumps({"seconds": medians, "tasks": tasks}))


def measure(size: int, folder: Path, processes: int, rounds: int) -> dict[str, float]:
    """Median seconds per variant over ``processes`` fresh processes."""
    paths = {k: str(v) for k, v in write_dags(folder, size).items()}
    for path in paths.values():
        # Airflow's loader caches bytecode beside the file: time the steady state, not compile.
        py_compile.compile(path, doraise=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(folder / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(processes):
        result = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(paths), str(rounds)],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"DagBag run failed:\n{result.stdout}\n{result.stderr[-3000:]}")
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        for variant in VARIANTS:
            if measured["tasks"][variant] != size:
                raise RuntimeError(f"{variant} has {measured['tasks'][variant]} tasks, not {size}")
            times[variant].append(measured["seconds"][variant])
    return {variant: statistics.median(values) for variant, values in times.items()}


def compile_seconds(size: int) -> dict[str, float]:
    """Seconds to compile each source to bytecode, paid on the first parse after a change."""
    result = {}
    sources = {
        "generated": generated_dag(size),
        "hand_written": HAND_WRITTEN.format(size=size, kedro_imports=""),
    }
    for variant, source in sources.items():
        started = time.perf_counter()
        compile(source, variant, "exec")
        result[variant] = time.perf_counter() - started
    return result


def run(
    sizes: tuple[int, ...] = SIZES, processes: int = PROCESSES, rounds: int = ROUNDS
) -> list[str]:
    """Report lines (a Markdown table) of parse times and ratios for each size."""
    lines = [
        f"Seconds for `DagBag` to parse one DAG file: median over {processes} fresh processes",
        f"(each the median of {rounds} parses; Airflow and the Kubernetes provider imported",
        "before timing, Kedro not; bytecode already cached).",
        "",
        "| tasks | generated | hand-written | Kedro-importing | generated / hand-written "
        "| generated / Kedro-importing |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    compiled = []
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        for size in sizes:
            m = measure(size, Path(tmp), processes, rounds)
            lines.append(
                f"| {size:,} | {m['generated']:.3f} | {m['hand_written']:.3f} "
                f"| {m['kedro_import']:.3f} | {m['generated'] / m['hand_written']:.2f}x "
                f"| {m['generated'] / m['kedro_import']:.2f}x |"
            )
            c = compile_seconds(size)
            compiled.append(
                f"{size:,} tasks: generated {c['generated']:.3f} s, "
                f"hand-written {c['hand_written']:.3f} s"
            )
    lines += [
        "",
        "Target: generated within 1.2x of hand-written.",
        "One-off bytecode compile on the first parse after a change: " + "; ".join(compiled) + ".",
    ]
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=PROCESSES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    print("\n".join(run(tuple(args.sizes), args.processes, args.rounds)))


if __name__ == "__main__":
    main()
