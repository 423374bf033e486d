"""Compile a loaded Kedro project into checked DAG source: plan, Spark backend, render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kedro_airflow_k8s.naming import dag_id_from
from kedro_airflow_k8s.plan import Plan
from kedro_airflow_k8s.project import KedroProject
from kedro_airflow_k8s.render import DagContext, DagRenderer, SparkRendering, check_source


@dataclass(frozen=True)
class CompiledDag:
    """The DAG source of one project, with the plan it was built from."""

    dag_id: str
    plan: Plan
    source: str

    @property
    def filename(self) -> str:
        return f"{self.dag_id}.py"


def make_plan(project: KedroProject, dag_name: str | None = None) -> Plan:
    from kedro_airflow_k8s.grouping import build_plan

    dag_id = dag_id_from(dag_name) if dag_name else project.dag_id
    return build_plan(project.pipeline, project.catalog_type, project.config.run_config, dag_id)


def dag_context(project: KedroProject) -> DagContext:
    return DagContext(
        project_name=project.project_name,
        package_name=project.package_name,
        env=project.env,
        pipeline_name=project.pipeline_name,
        project_path=str(project.path),
        commit_sha=project.commit_sha,
        node_tags={node.name: set(node.tags) for node in project.pipeline.nodes},
    )


def compile_project(
    project: KedroProject,
    dag_name: str | None = None,
    spark: SparkRendering | None = None,
) -> CompiledDag:
    """Plan, render and compile-check the DAG of ``project`` (nothing is written)."""
    plan = make_plan(project, dag_name)
    if spark is None:
        spark = spark_rendering(project, plan)
    source = DagRenderer(plan, project.config, dag_context(project)).render(spark)
    check_source(source, f"{plan.dag_id}.py")
    return CompiledDag(plan.dag_id, plan, source)


def spark_rendering(project: KedroProject, plan: Plan) -> SparkRendering | None:
    """The Spark backend's part of the DAG; None when Spark groups run as plain tasks."""
    if project.config.run_config.spark.backend == "none" or not plan.spark_tasks:
        return None
    from kedro_airflow_k8s.spark.render import render_spark

    return render_spark(project, plan)


def dag_path(output_dir: Path, compiled: CompiledDag) -> Path:
    return output_dir / compiled.filename
