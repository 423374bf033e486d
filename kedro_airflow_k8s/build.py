"""Compile a loaded Kedro project into checked DAG source: plan, Spark backend, render."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro_airflow_k8s.cycle_collection import cycle_collection_paused
from kedro_airflow_k8s.dag_version import dag_version
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.naming import dag_id_from
from kedro_airflow_k8s.plan import Plan
from kedro_airflow_k8s.project import KedroProject
from kedro_airflow_k8s.render import DagContext, DagRenderer, check_source
from kedro_airflow_k8s.spark.spec import SparkOperators


@dataclass(frozen=True)
class CompiledDag:
    """The DAG source of one project, with the plan it was built from."""

    dag_id: str
    plan: Plan
    source: str
    version: str = ""
    """``dag_version.dag_version`` of the source, which its doc_md names."""
    notes: tuple[str, ...] = ()
    """Warnings for the user about what the DAG leaves out."""

    @property
    def filename(self) -> str:
        return f"{self.dag_id}.py"


def make_plan(project: KedroProject, dag_name: str | None = None) -> Plan:
    """The plan of ``project``, with its Spark backend's configuration checked for it."""
    from kedro_airflow_k8s.grouping import build_plan
    from kedro_airflow_k8s.spark.registry import check_backend
    from kedro_airflow_k8s.task_details import with_details

    run_config = project.config.run_config
    dag_id = dag_id_from(dag_name) if dag_name else project.dag_id
    with cycle_collection_paused():
        plan = build_plan(project.pipeline, project.catalog_type, run_config, dag_id)
        plan = with_details(plan, project.pipeline, run_config, project.dataset_config)
    check_backend(run_config, {n: tags for t in plan.spark_tasks for n, tags in t.tags.items()})
    return whole_namespaces_only(plan, project.registered_pipeline)


def whole_namespaces_only(plan: Plan, registered: Any) -> Plan:
    """Keep a task's namespace only where ``kedro run --pipelines P --namespaces ns`` runs
    exactly its nodes: a node filter may have left part of the namespace out."""
    if registered is None or not any(task.namespace for task in plan.tasks):
        return plan
    import dataclasses

    tasks = []
    for task in plan.tasks:
        if task.namespace:
            whole = registered.only_nodes_with_namespaces([task.namespace])
            if {node.name for node in whole.nodes} != set(task.nodes):
                task = dataclasses.replace(task, namespace=None)
        tasks.append(task)
    return dataclasses.replace(plan, tasks=tuple(tasks))


def dag_context(project: KedroProject) -> DagContext:
    from kedro_airflow_k8s.trigger_params import parameter_value

    names = project.config.run_config.trigger_params
    return DagContext(
        project_name=project.project_name,
        package_name=project.package_name,
        env=project.env,
        pipeline_name=project.pipeline_name,
        project_path=str(project.path),
        commit_sha=project.commit_sha,
        config_source=project.config_source,
        params=project.params,
        trigger_defaults={
            name: parameter_value(project.parameters, name, project.config_source) for name in names
        },
    )


def compile_project(
    project: KedroProject,
    dag_name: str | None = None,
    spark: SparkOperators | None = None,
    artifacts: Mapping[str, str] | None = None,
    plan: Plan | None = None,
) -> CompiledDag:
    """Plan, render and compile-check the DAG of ``project`` (nothing is written).

    ``artifacts`` maps a Spark artifact kind ("entry", "init", "wheel", "conf") to
    where it will be at run time; ``plan`` spares planning again when known.
    """
    plan = plan or make_plan(project, dag_name)
    if spark is None:
        spark = spark_rendering(project, plan, artifacts)
    ctx = dag_context(project)
    if project.config.run_config.assets:
        ctx.assets = plan_assets(project, plan)
    # The version is the hash of the source without it, so equal DAGs get equal versions.
    ctx.version = dag_version(DagRenderer(plan, project.config, ctx).render(spark))
    source = DagRenderer(plan, project.config, ctx).render(spark)
    check_source(source, f"{plan.dag_id}.py")
    summary = ctx.assets.summary() if ctx.assets else None
    return CompiledDag(plan.dag_id, plan, source, ctx.version, (summary,) if summary else ())


def plan_assets(project: KedroProject, plan: Plan) -> Any:
    """The Airflow Assets each task of ``plan`` reads and writes, from the catalog."""
    from kedro_airflow_k8s.assets import task_assets
    from kedro_airflow_k8s.classify import is_parameter

    run = project.config.run_config
    node_io = {
        node.name: (
            [name for name in node.inputs if not is_parameter(name)],
            [name for name in node.outputs if not is_parameter(name)],
        )
        for node in project.pipeline.nodes
    }
    # Relative paths mean something only where tasks run in this project's directory.
    local = run.node_runner == "local"
    root = Path(run.local_runner.project_path or project.path) if local else None
    tasks = [(task.task_id, task.nodes) for task in plan.tasks]
    paths = {name: path for task in plan.tasks for name, path in task.datasets.items()}

    def entry(name: str) -> Mapping[str, Any]:
        # The path as planned; only a dataset without one (a table) needs its catalog entry.
        path = paths.get(name)
        return {"filepath": path} if path else project.dataset_config(name)

    return task_assets(tasks, node_io, entry, root)


def spark_rendering(
    project: KedroProject, plan: Plan, artifacts: Mapping[str, str] | None = None
) -> SparkOperators | None:
    """The Spark backend's part of the DAG; None when Spark groups run as plain tasks."""
    if project.config.run_config.spark.backend == "none" or not plan.spark_tasks:
        return None
    from kedro_airflow_k8s.spark.operators import spark_operators

    return spark_operators(project, plan, artifacts)


def dag_path(output_dir: Path, compiled: CompiledDag) -> Path:
    return output_dir / compiled.filename


ARTIFACTS_DIR = ".kedro-airflow-k8s"


@dataclass(frozen=True)
class CompileResult:
    """A compiled DAG with the Spark artifacts it refers to, and warnings for the user."""

    compiled: CompiledDag
    artifacts: Any | None
    warnings: tuple[str, ...]


def needs_artifacts(project: KedroProject, plan: Plan) -> bool:
    return bool(plan.spark_tasks) and project.config.run_config.spark.backend != "none"


def compile_with_artifacts(
    project: KedroProject,
    artifacts_dir: Path,
    dag_name: str | None = None,
    for_publishing: bool = False,
) -> CompileResult:
    """Build the Spark artifacts the DAG needs, then compile the DAG so that it points at
    exactly those artifacts. Nothing is written but the artifacts, under ``artifacts_dir``.

    With ``run_config.spark.artifacts_path`` set, the DAG refers to the artifacts at
    that URL (``upload-pipeline`` puts them there). Without it, standalone and custom
    backends use the local files, and k8s and spark-operator the project in the image.
    ``for_publishing`` refuses local files, which would not exist where the DAG runs.
    """
    from kedro_airflow_k8s.artifacts import build_artifacts

    plan = make_plan(project, dag_name)
    if not needs_artifacts(project, plan):
        compiled = compile_project(project, dag_name, plan=plan)
        return CompileResult(compiled, None, compiled.notes)
    from kedro_airflow_k8s.spark.registry import backend_of

    run_config = project.config.run_config
    backend = backend_of(run_config.spark)
    base_url = run_config.spark.artifacts_path
    warnings = (*spark_path_warnings(project, plan), *backend.notes(run_config, plan.dag_id))
    if not base_url and not backend.builds_local_artifacts(run_config.spark):
        compiled = compile_project(project, dag_name, plan=plan)
        return CompileResult(compiled, None, (*warnings, *compiled.notes))
    if not base_url and for_publishing:
        raise UserError(
            f"the '{backend.name}' Spark backend runs the project from its artifacts: set "
            "run_config.spark.artifacts_path to where the Spark driver can read them "
            "(a bucket URL or a shared directory), or use `compile` for a local DAG"
        )
    with removed_on_failure(artifacts_dir) as built:
        artifacts = build_artifacts(
            project.path,
            project.package_name,
            project.env,
            run_config,
            artifacts_dir,
            base_url,
            conf_source=conf_folder(project),
            config_patterns=project.config_patterns,
        )
        built.append(artifacts.wheel.path.parent)
        locations = (
            artifacts.urls(base_url)
            if base_url
            else {artifact.kind: str(artifact.path) for artifact in artifacts}
        )
        compiled = compile_project(project, dag_name, artifacts=locations, plan=plan)
    # The conf archive's warnings matter only to backends that ship it.
    if "conf" in backend.artifacts:
        warnings = (*artifacts.warnings, *warnings)
    return CompileResult(compiled, artifacts, (*warnings, *compiled.notes))


@contextmanager
def removed_on_failure(directory: Path) -> Iterator[list[Path]]:
    """Remove what a failed compile created under ``directory`` (new folders, and the
    version folders appended to the yielded list when they did not exist before)."""
    new_parents = [p for p in (directory, *directory.parents) if not p.exists()]
    existing = set(directory.iterdir()) if directory.is_dir() else set()
    built: list[Path] = []
    try:
        yield built
    except BaseException:
        for path in built:
            if path not in existing and path.exists():
                shutil.rmtree(path, ignore_errors=True)
        for path in new_parents:  # innermost first
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise


def conf_folder(project: KedroProject) -> str:
    """settings.py's CONF_SOURCE relative to the project (``conf`` unless it moved it)."""
    try:
        return project.conf_source.relative_to(project.path).as_posix()
    except ValueError:
        return "conf"


def spark_path_warnings(project: KedroProject, plan: Plan) -> tuple[str, ...]:
    """Warnings for Spark-group datasets on local relative paths a remote cluster cannot see."""
    from kedro_airflow_k8s.artifacts import warn_local_paths
    from kedro_airflow_k8s.spark.registry import backend_of

    filepaths = {name: path for task in plan.spark_tasks for name, path in task.datasets.items()}

    spark = project.config.run_config.spark
    return tuple(warn_local_paths(filepaths, backend_of(spark).sees_local_paths(spark)))


def prune_artifacts(artifacts_dir: Path, package_name: str, current: set[str]) -> list[Path]:
    """Remove this package's artifact versions under ``artifacts_dir`` except ``current``
    and the most recently written other one: a DAG run that started before this compile
    may still be reading it. Other packages' versions are left alone. Returns what went.
    """
    if not artifacts_dir.is_dir():
        return []
    entry_prefix = f"spark_run-{package_name}-"
    ours = [
        folder
        for folder in artifacts_dir.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and any(f.name.startswith(entry_prefix) for f in folder.iterdir())
    ]
    older = sorted(
        (folder for folder in ours if folder.name not in current),
        key=lambda folder: folder.stat().st_mtime_ns,
        reverse=True,
    )
    removed = older[1:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def ignore_artifacts_in(dags_dir: Path) -> None:
    """Keep Airflow from parsing the artifacts when they sit inside its DAG folder
    (it treats every zip file, wheels included, as a possible DAG bundle)."""
    ignore = dags_dir / ".airflowignore"
    line = f"{ARTIFACTS_DIR}/"
    existing = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if line not in existing:
        from kedro_airflow_k8s.render import write_atomic

        write_atomic(ignore, "\n".join([*existing, line]) + "\n")
