"""`make bench`: run the plan, parse and end-to-end benchmarks and write bench/REPORT.md."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def plan_section() -> list[str]:
    import bench_plan

    lines = [
        "| nodes | cold s | warm s | classify s | tasks | Spark tasks |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in bench_plan.SIZES:
        r = bench_plan.measure(size)
        lines.append(
            f"| {size:,} | {r['cold']:.3f} | {r['warm']:.3f} | {r['classify']:.3f} "
            f"| {r['tasks']:,} | {r['spark']:,} |"
        )
    lines += ["", "cold: first build_plan on a fresh Pipeline; warm: best of 3 repeats."]
    return lines


def grouping_section() -> list[str]:
    import bench_grouping

    return bench_grouping.run()


def cli_plan_section() -> list[str]:
    import bench_cli_plan

    return bench_cli_plan.run()


def parse_section(quick: bool) -> list[str]:
    import bench_parse

    if quick:
        return bench_parse.run(processes=1, rounds=1)
    return bench_parse.run()


def e2e_section() -> list[str]:
    import bench_e2e

    return bench_e2e.run()


def cli_section() -> list[str]:
    import bench_cli

    return bench_cli.run()


def publish_section() -> list[str]:
    import bench_publish

    return bench_publish.run()


SECTIONS = {
    "grouping": ("Spark applications per pipeline", grouping_section),
    "cli-plan": ("Whole-process plan time on catch-all catalogs", cli_plan_section),
    "plan": ("Plan time against pipeline size (classify + build_plan)", plan_section),
    "parse": ("DAG parse time in Airflow's DagBag", parse_section),
    "e2e": ("End to end: Spark nodes grouped and ungrouped", e2e_section),
    "cli": ("Start-up of the commands that only talk to Airflow", cli_section),
    "publish": ("Publishing to object-store emulators (GCS, S3)", publish_section),
}


def run_section(name: str, quick: bool) -> tuple[list[str], bool]:
    """The section's report lines, and whether it ran; a failure is reported, not raised."""
    title, function = SECTIONS[name]
    print(f"== {title} ...", flush=True)
    started = time.monotonic()
    # The benchmarks' own chatter (Kedro and Airflow logging) stays out of the report.
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            lines = function(quick) if name == "parse" else function()
        ok = True
    except (Exception, SystemExit) as error:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        lines = ["FAILED:", "", "```", detail[-3000:], "```"]
        ok = False
    lines += ["", f"({time.monotonic() - started:.0f} s)"]
    return [f"## {title}", "", *lines, ""], ok


def machine() -> str:
    """CPU model, cores, memory, Python, and how busy the machine was when the bench began."""
    model = platform.processor() or platform.machine()
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = ", load average {:.1f} / {:.1f} / {:.1f} at the start".format(*os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPUs{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{load}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip", nargs="+", choices=list(SECTIONS), default=[], metavar="NAME",
                        help="benchmarks to leave out: " + ", ".join(SECTIONS))  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="parse benchmark: one process, one parse per DAG")  # fmt: skip
    parser.add_argument("--output", type=Path, default=BENCH / "REPORT.md")
    args = parser.parse_args()

    report = [
        "# kedro-airflow-k8s benchmarks",
        "",
        f"{datetime.date.today()}, produced by `make bench` (bench/run_all.py) on {machine()}.",
        "",
    ]
    failed = []
    for name in SECTIONS:
        if name in args.skip:
            continue
        lines, ok = run_section(name, args.quick)
        report += lines
        print("\n".join(lines), flush=True)
        if not ok:
            failed.append(name)
    args.output.write_text("\n".join(report).rstrip() + "\n")
    print(f"Wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
