"""Seconds to publish a DAG and its Spark artifacts to a GCS and an S3 emulator on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WHEEL_MIB = 8
ROUNDS = 3


def make_release(folder: Path):
    """A 200 KiB DAG, an 8 MiB wheel and three small artifacts, like a real Spark release."""
    from kedro_airflow_k8s.artifacts import Artifact, ArtifactSet

    version = folder / "v1"
    version.mkdir(parents=True)
    files = {
        "wheel": ("shop_sales-1.4.0-py3-none-any.whl", os.urandom(WHEEL_MIB * 2**20)),
        "conf": ("conf-shop_sales-v1.tar.gz", os.urandom(40 * 2**10)),
        "entry": ("spark_run-shop_sales-v1.py", b"print('run')\n" * 200),
        "init": ("init-shop_sales-v1.sh", b"#!/bin/bash\n" * 100),
    }
    made = {}
    for kind, (name, data) in files.items():
        (version / name).write_bytes(data)
        made[kind] = Artifact(name, version / name, kind)
    dag = folder / "shop_sales.py"
    dag.write_bytes(b"# generated DAG\n" * 12_800)
    return dag, ArtifactSet("v1", made["wheel"], made["conf"], made["entry"], made["init"])


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(scheme: str, options: dict, direct, folder: Path) -> dict[str, float]:
    from kedro_airflow_k8s.publish import publish

    dag, artifacts = make_release(folder)
    results: dict[str, list[float]] = {"full": [], "unchanged": [], "changed DAG": []}
    for round_number in range(ROUNDS):
        bucket = f"bench-{scheme}-{round_number}-{os.getpid()}"
        direct.mkdir(bucket)

        def run(bucket: str = bucket) -> None:
            publish(
                dag,
                f"{scheme}://{bucket}/dags/",
                artifacts,
                f"{scheme}://{bucket}/spark",
                echo=lambda _: None,
                progress=False,
                dag_storage_options=options,
                artifacts_storage_options=options,
            )

        results["full"].append(timed(run))
        results["unchanged"].append(timed(run))
        dag.write_bytes(dag.read_bytes() + b"# changed\n")
        results["changed DAG"].append(timed(run))
    return {name: statistics.median(values) for name, values in results.items()}


def run() -> list[str]:
    from fsspec import filesystem
    from gcsfs.core import GCSFileSystem

    sys.path.insert(0, str(REPO / "tests"))
    from object_stores import AWS_CREDENTIALS, AWS_PROFILE, start_gcs_emulator, start_s3_emulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "aws-config").write_text(AWS_PROFILE)
        (root / "aws-credentials").write_text(AWS_CREDENTIALS)
        os.environ["AWS_CONFIG_FILE"] = str(root / "aws-config")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(root / "aws-credentials")

        gcs = start_gcs_emulator()
        try:
            options = {"endpoint_url": gcs.url, "token": "anon"}
            direct = GCSFileSystem(skip_instance_cache=True, **options)
            rows.append(("fake-gcs-server (gs://)", measure("gs", options, direct, root / "gs")))
        finally:
            gcs.stop()

        s3, port = start_s3_emulator()
        try:
            options = {"endpoint_url": f"http://127.0.0.1:{port}", "profile": "emulator"}
            direct = filesystem("s3", skip_instance_cache=True, **options)
            rows.append(("moto server (s3://)", measure("s3", options, direct, root / "s3")))
        finally:
            s3.stop()
    lines = [
        "| store | full upload s | unchanged s | changed DAG s |",
        "|---|---:|---:|---:|",
    ]
    for name, r in rows:
        figures = " | ".join(f"{r[key]:.2f}" for key in ("full", "unchanged", "changed DAG"))
        lines.append(f"| {name} | {figures} |")
    lines += [
        "",
        f"Release: a 200 KiB DAG, an {WHEEL_MIB} MiB wheel and three small artifacts; median of "
        f"{ROUNDS} rounds, each into a fresh bucket. full: everything written; unchanged: the "
        "artifacts found identical by checksum and skipped, the DAG rewritten; changed DAG: "
        "the same with a different DAG. Both emulators run on 127.0.0.1 in this process's "
        "machine, so the figures are the tool's own overhead, not a network's.",
    ]
    return lines


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()
    print("\n".join(run()))
