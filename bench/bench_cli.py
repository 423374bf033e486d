"""Start-up cost of the commands that only talk to Airflow: `list-pipelines` and `ui`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXAMPLE = REPO / "examples" / "mixed-demo"
KEDRO = str(Path(sys.executable).parent / "kedro")
SCRIPT = str(Path(sys.executable).parent / "kedro-airflow-k8s")
TARGET = 1.5  # seconds over bare Python start-up
DAG = {
    "dag_id": "mixed-demo",
    "dag_display_name": "mixed-demo",
    "is_paused": False,
    "timetable_summary": "0 3 * * *",
    "tags": [{"name": "kedro"}],
}
RUN = {"dag_run_id": "r1", "state": "success", "end_date": "2026-01-01T03:10:00Z"}


class StubAirflow:
    """Answers the calls of `list-pipelines` at once, so only the command's own cost counts."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                if path == "/auth/token":
                    body: Any = {"access_token": "token"}
                elif path == "/api/v2/dags":
                    body = {"dags": [DAG], "total_entries": 1}
                else:
                    body = {"dag_runs": [RUN], "total_entries": 1}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) of one run; raises if it fails."""
    import time

    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(command: list[str], cwd: Path, env: dict[str, str], repeats: int) -> dict[str, float]:
    timed(command, cwd, env)  # warm the file cache
    walls, cpus = zip(*(timed(command, cwd, env) for _ in range(repeats)), strict=True)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def run(repeats: int = 5) -> list[str]:
    stub = StubAirflow()
    scratch = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        project = scratch / "mixed-demo"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "dags"))
        config_file = project / "conf" / "base" / "airflow-k8s.yml"
        config = yaml.safe_load(config_file.read_text())
        config["host"] = stub.url
        config_file.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env |= {
            "PYTHONPATH": str(REPO),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "AIRFLOW_USERNAME": "admin",
            "AIRFLOW_PASSWORD": "admin",
            "BROWSER": "true",  # `ui` "opens" the page with /bin/true
        }
        commands = {
            "`python -c pass` (bare start-up)": [sys.executable, "-c", "pass"],
            "`kedro --help` (Kedro's own CLI start-up)": [KEDRO, "--help"],
            "`kedro airflow-k8s ui`": [KEDRO, "airflow-k8s", "ui"],
            "`kedro airflow-k8s list-pipelines`": [KEDRO, "airflow-k8s", "list-pipelines"],
            # The plugin's own entry points, without the `kedro` command's start-up.
            "`kedro-airflow-k8s ui`": [SCRIPT, "ui"],
            "`kedro-airflow-k8s list-pipelines`": [SCRIPT, "list-pipelines"],
            "`python -m kedro_airflow_k8s ui`": [sys.executable, "-m", "kedro_airflow_k8s", "ui"],
            "`python -m kedro_airflow_k8s list-pipelines`": [
                sys.executable,
                "-m",
                "kedro_airflow_k8s",
                "list-pipelines",
            ],
        }
        results = {name: measure(cmd, project, env, repeats) for name, cmd in commands.items()}
    finally:
        stub.close()
        shutil.rmtree(scratch, ignore_errors=True)
    bare = results["`python -c pass` (bare start-up)"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"Median of {repeats} runs in a copy of examples/mixed-demo; `list-pipelines` asks a "
        "stub API on 127.0.0.1 that answers at once. CPU is user + system time of the process; "
        "the target is judged on CPU time over bare start-up, which the other jobs on a shared "
        "machine disturb far less than wall time (on an idle machine the two are close: these "
        f"commands wait for nothing but the stub). Load average {load} on {os.cpu_count()} "
        f"CPUs. PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')} "
        "(when set, modules without cached bytecode are compiled on every run).",
        "",
        "| command | wall s | CPU s | wall over bare s | CPU over bare s | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, result in results.items():
        wall_over = result["wall"] - bare["wall"]
        cpu_over = result["cpu"] - bare["cpu"]
        target = ""
        if "airflow-k8s" in name or "kedro_airflow_k8s" in name:
            target = f"< {TARGET} s: {'met' if cpu_over < TARGET else 'missed'}"
        lines.append(
            f"| {name} | {result['wall']:.2f} | {result['cpu']:.2f} | {wall_over:.2f} "
            f"| {cpu_over:.2f} | {target} |"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    print("\n".join(run(parser.parse_args().repeats)))
