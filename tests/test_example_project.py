"""The mixed-demo example project: its pipeline's shape, and a real `kedro run` of it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mixed-demo"

NODE_NAMES = {
    "clean_orders",
    "price_order_lines",
    "aggregate_shop_sales",
    "set_shop_targets",
    "join_shop_targets",
    "rank_shops",
    "collect_shop_ranking",
    "build_region_report",
}
SPARK_DATASET = "kedro_datasets.spark.spark_dataset.SparkDataset"


def copy_example(target: Path) -> Path:
    """A copy of the example, without anything an earlier run left behind."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "dags")
    shutil.copytree(EXAMPLE, target, ignore=ignore)
    for child in (target / "data").iterdir():
        if child.name != "01_raw":
            shutil.rmtree(child)
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "mixed-demo")


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory):
    """Bootstrap a copy in-process once; undo its sys.path, PYTHONPATH and imports after."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    path = copy_example(tmp_path_factory.mktemp("example") / "mixed-demo")
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(sys, "path", list(sys.path))
        monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        monkeypatch.chdir(path)
        bootstrap_project(path)
        with KedroSession.create(project_path=path) as session:
            catalog = session.load_context().catalog
        yield path, catalog
    for name in set(sys.modules) - before:
        if name == "mixed_demo" or name.startswith("mixed_demo."):
            del sys.modules[name]


def kedro_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`kedro run` in a fresh interpreter, as a user would type it in the project."""
    pythonpath = [str(project / "src"), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "PYTHONPATH": os.pathsep.join(filter(None, pythonpath)),
    }
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_default_pipeline_has_the_documented_nodes(bootstrapped) -> None:
    from kedro.framework.project import pipelines

    default = pipelines["__default__"]
    assert {node.name for node in default.nodes} == NODE_NAMES
    tags = {node.name: node.tags for node in default.nodes}
    assert tags["rank_shops"] == {"kedro-airflow-k8s.group.pyspark"}
    assert tags["price_order_lines"] == {"kedro-airflow-k8s.resources.heavy"}


def test_loading_the_catalog_starts_no_spark(bootstrapped) -> None:
    import pyspark
    from kedro.framework.session import KedroSession

    path, _ = bootstrapped
    before = pyspark.SparkContext._active_spark_context
    with KedroSession.create(project_path=path) as session:
        catalog = session.load_context().catalog
    assert catalog.get_type("shop_sales@spark") == SPARK_DATASET
    assert pyspark.SparkContext._active_spark_context is before


def test_memory_datasets_stay_inside_one_part_of_the_pipeline(bootstrapped) -> None:
    from kedro.framework.project import pipelines

    _, catalog = bootstrapped
    undeclared = {
        name
        for name in pipelines["__default__"].datasets()
        if not name.startswith("params:") and catalog.get_type(name) is None
    }
    assert undeclared == {"valid_orders", "shop_performance", "top_shops"}
    for part in ("orders", "shops", "reporting"):
        crossing = pipelines[part].inputs() | pipelines[part].outputs()
        assert not crossing & undeclared, part


def test_spark_only_nodes_are_recognisable_by_tag_or_type_hint_alone(bootstrapped) -> None:
    from kedro.framework.project import pipelines

    _, catalog = bootstrapped
    nodes = {node.name: node for node in pipelines["__default__"].nodes}
    for name in ("rank_shops", "collect_shop_ranking"):
        touched = [*nodes[name].inputs, *nodes[name].outputs]
        assert SPARK_DATASET not in {catalog.get_type(d) for d in touched}, name
    hints = nodes["collect_shop_ranking"].func.__annotations__
    assert hints["top_shops"] == "DataFrame"  # a string: the module defers annotations
    assert nodes["rank_shops"].func.__annotations__ == {}


def test_the_readme_gives_the_reasons_plan_prints_for_the_demo(bootstrapped) -> None:
    from kedro_airflow_k8s.build import make_plan
    from kedro_airflow_k8s.project import load_project

    path, _ = bootstrapped
    plan = make_plan(load_project(path, "local"))
    readme = " ".join((EXAMPLE.parent.parent / "README.md").read_text().split())
    reasons = {node: reason for task in plan.spark_tasks for node, reason in task.reasons.items()}

    annotated = [n for n, reason in reasons.items() if reason.startswith("annotation:")]
    names = ", ".join(f"`{n}`" for n in annotated[:-1]) + f" and `{annotated[-1]}`"
    assert f"{names} take an input annotated `pyspark.sql.DataFrame`" in readme
    for node, reason in reasons.items():
        if reason.startswith("tag "):
            assert f"`{node}` carries the tag `{reason.removeprefix('tag ')}`" in readme
        elif reason.startswith("between Spark nodes"):
            first, second = re.findall(r"'([^']+)'", reason)
            assert f"`{node}` sits between the Spark nodes `{first}` and `{second}`" in readme
        else:
            assert reason.startswith("annotation:"), f"README says nothing of {node}: {reason}"


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_kedro_run_writes_the_reports(project: Path) -> None:
    result = kedro_run(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    reporting = project / "data" / "08_reporting"
    lines = pd.read_csv(project / "data" / "02_intermediate" / "order_lines.csv")
    assert len(lines) == 58  # 61 exported lines: one duplicate, two below min_quantity

    report = pd.read_csv(reporting / "region_report.csv")
    assert list(report["region"]) == ["north", "south", "west"]
    assert report["shops"].sum() == 8
    assert report["orders"].sum() == len(lines)
    assert report["revenue"].sum() == pytest.approx(lines["revenue"].sum())

    ranking = pd.read_csv(reporting / "shop_ranking.csv")
    assert ranking.groupby("region")["rank"].apply(list).to_dict() == {
        region: [1, 2] for region in ("north", "south", "west")
    }
    assert ranking["target_revenue"].to_numpy() == pytest.approx(
        (ranking["revenue"] * 1.08).to_numpy(), abs=0.01
    )
    best = ranking[ranking["rank"] == 1].set_index("region")["shop_name"]
    assert report.set_index("region")["best_shop"].equals(best.rename("best_shop"))

    # A fresh process running only pandas nodes reads what Spark persisted.
    (reporting / "region_report.csv").unlink()
    rerun = kedro_run(project, "--nodes", "set_shop_targets,build_region_report")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert pd.read_csv(reporting / "region_report.csv").equals(report)
