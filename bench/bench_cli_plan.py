"""Whole-process `kedro airflow-k8s plan` against `kedro registry list`, catch-all catalogs."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import big_project  # noqa: E402

SIZES = tuple(int(s) for s in os.environ.get("BENCH_PLAN_SIZES", "1000,10000,20000").split(","))
ROUNDS = int(os.environ.get("BENCH_PLAN_ROUNDS", "5"))
KEDRO = str(Path(sys.executable).with_name("kedro"))
# Kedro's notice for a dataset resolved by a catch-all pattern.
PER_DATASET_NOTICE = "will be used to override the default dataset creation"


def environment(pycache: Path) -> dict[str, str]:
    """Bytecode cached (in a private folder), as on a user's machine after the first run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["KEDRO_DISABLE_TELEMETRY"] = "true"
    env["COLUMNS"] = "120"
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], project: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and output of one run of ``command``."""
    cpu = children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return elapsed, children_cpu() - cpu, completed.stdout + completed.stderr


def measure(size: int, work: Path, env: dict[str, str]) -> dict[str, float | int]:
    project = big_project.write_project(work / f"nodes_{size}", size)
    registry = [KEDRO, "registry", "list"]
    plan = [KEDRO, "airflow-k8s", "plan"]
    timed(registry, project, env)  # warm-up: bytecode of Kedro, the plugin and the project
    timed(plan, project, env)
    runs: dict[str, list[tuple[float, float]]] = {"registry": [], "plan": []}
    for _ in range(ROUNDS):  # interleaved, so a busy moment hits both alike
        wall, cpu, _ = timed(registry, project, env)
        runs["registry"].append((wall, cpu))
        wall, cpu, output = timed(plan, project, env)
        runs["plan"].append((wall, cpu))
    result: dict[str, float | int] = {
        "notices": output.count(PER_DATASET_NOTICE),
        "load": os.getloadavg()[0],
    }
    for name, pairs in runs.items():
        result[name] = statistics.median(wall for wall, _ in pairs)
        result[f"{name}_cpu"] = statistics.median(cpu for _, cpu in pairs)
    return result


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-cli-plan-") as tmp:
        work = Path(tmp)
        env = environment(work / "pycache")
        results = {size: measure(size, work, env) for size in SIZES}
    lines = [
        "Generated projects (bench/big_project.py): chains with fan-in, 10 % Spark nodes by "
        'tag, and a catalog of one catch-all pattern `"{name}": pandas.CSVDataset`. Each '
        f"figure is the median of {ROUNDS} fresh processes, `kedro registry list` and "
        "`kedro airflow-k8s plan` taking turns. Bytecode: our shells set "
        "PYTHONDONTWRITEBYTECODE=1, under which every process compiles every module again; "
        "the bench removes it for these processes and keeps their bytecode in a private "
        "`PYTHONPYCACHEPREFIX` folder, filled by one warm-up run of each command, so every "
        "timed run loads cached bytecode as a user's second run does. CPU is user + system "
        "time of the process.",
        "",
        "| nodes | `kedro registry list` s | `kedro airflow-k8s plan` s | plan - registry s "
        "| CPU s: registry / plan / difference | per-dataset notices printed | load average |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        lines.append(
            f"| {size:,} | {r['registry']:.2f} | {r['plan']:.2f} "
            f"| {r['plan'] - r['registry']:.2f} "
            f"| {r['registry_cpu']:.2f} / {r['plan_cpu']:.2f} / "
            f"{r['plan_cpu'] - r['registry_cpu']:.2f} | {r['notices']} | {r['load']:.1f} |"
        )
    ten, twenty = results[10_000], results[20_000]
    over_ten = ten["plan"] - ten["registry"]
    over_ten_cpu = ten["plan_cpu"] - ten["registry_cpu"]
    lines += [
        "",
        f"10,000 nodes: plan takes {over_ten:.2f} s of wall time on top of `kedro registry "
        f"list` (target < 2 s: {'met' if over_ten < 2 else 'NOT met'}), "
        f"{over_ten_cpu:.2f} s of CPU time (target {'met' if over_ten_cpu < 2 else 'NOT met'}). "
        "On a shared machine the CPU time is the figure that depends least on the "
        "neighbours: both commands are single-threaded, so with the machine to itself wall "
        "time is close to CPU time (the load average column is the one-minute figure when "
        "the size was done; this machine has "
        f"{os.cpu_count()} CPUs).",
        f"t(20k) / t(10k) for the whole plan process: {twenty['plan'] / ten['plan']:.2f} "
        f"(target <= 2.3: {'met' if twenty['plan'] / ten['plan'] <= 2.3 else 'NOT met'}); "
        f"for the part on top of the registry: "
        f"{(twenty['plan'] - twenty['registry']) / max(over_ten, 1e-9):.2f}.",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
