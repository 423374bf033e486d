"""The Spark backends: one descriptor each, the only place that knows what a backend needs."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark_config import (
    BACKEND_MODELS,
    KubernetesSparkConfig,
    SparkCommonConfig,
)

Driver = Literal["local", "remote", "either"]
"""Where a backend's Spark driver and executors read files: ``local`` on the machine where the
project is (they see its files), ``remote`` on a cluster (they see published artifacts, the
image and shared storage only), ``either`` when the backend may do both."""

Check = Callable[[RunConfig], None]
Notes = Callable[[RunConfig, str], list[str]]


def _no_check(run: RunConfig) -> None:
    return None


def _no_notes(run: RunConfig, dag_id: str) -> list[str]:
    return []


@dataclass(frozen=True)
class Backend:
    """One Spark backend: its config, its factory, where its driver runs, what it needs."""

    name: str
    config_model: type[SparkCommonConfig]
    factory: str | None
    """Import path of the built-in factory class; None for none (no Spark operators) and
    custom (the class run_config.spark.operator_factory names)."""
    driver: Callable[[Any], Driver]
    """Where the driver runs for a given run_config.spark section."""
    artifacts: frozenset[str] = frozenset()
    """Artifact kinds its tasks use (wheel, conf, entry, init) when they are built."""
    artifacts_scheme: str | None = None
    """URL scheme run_config.spark.artifacts_path must have, when the backend requires one."""
    native_filesystems: tuple[str, ...] = ()
    """Object-store schemes the platform configures itself (no connector conf is added)."""
    check: Check = _no_check
    """Raises UserError naming the key when the section cannot work; runs at planning."""
    notes: Notes = _no_notes
    """What compile tells the user to set up where Airflow runs, for a DAG id."""

    def builds_local_artifacts(self, spark: Any) -> bool:
        """Without artifacts_path, whether compile builds the artifacts for local use."""
        return self.driver(spark) in ("local", "either")

    def sees_local_paths(self, spark: Any) -> bool:
        """Whether Spark reads datasets on this machine's relative paths."""
        return self.driver(spark) == "local"

    def factory_class(self) -> type:
        if self.factory is None:
            raise UserError(f"the '{self.name}' Spark backend has no built-in operator factory")
        module_name, _, class_name = self.factory.rpartition(".")
        return getattr(importlib.import_module(module_name), class_name)


def _check_dataproc(run: RunConfig) -> None:
    from kedro_airflow_k8s.spark import dataproc

    dataproc.check(run)


def _check_k8s(run: RunConfig) -> None:
    from kedro_airflow_k8s.spark import conf, kubernetes, spark_submit

    spark_submit.check(run, kubernetes.checked_master)
    conf.kubernetes_layer(run)


def _check_standalone(run: RunConfig) -> None:
    from kedro_airflow_k8s.spark import spark_submit, standalone

    spark_submit.check(run, standalone.checked_master)


def _k8s_notes(run: RunConfig, dag_id: str) -> list[str]:
    from kedro_airflow_k8s.spark import kubernetes, spark_submit

    return spark_submit.connection_notes(run, dag_id, kubernetes.checked_master(run))


def _standalone_notes(run: RunConfig, dag_id: str) -> list[str]:
    from kedro_airflow_k8s.spark import spark_submit, standalone

    return spark_submit.connection_notes(run, dag_id, standalone.checked_master(run))


def _k8s_driver(spark: KubernetesSparkConfig) -> Driver:
    # In client mode the driver runs on the Airflow worker, the executors in pods.
    return "either" if spark.deploy_mode == "client" else "remote"


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in [
        Backend("none", BACKEND_MODELS["none"], None, driver=lambda spark: "local"),
        Backend(
            "dataproc",
            BACKEND_MODELS["dataproc"],
            "kedro_airflow_k8s.spark.dataproc.DataprocFactory",
            driver=lambda spark: "remote",
            artifacts=frozenset({"wheel", "conf", "entry", "init"}),
            artifacts_scheme="gs://",
            native_filesystems=("gs", "gcs"),
            check=_check_dataproc,
        ),
        Backend(
            "k8s",
            BACKEND_MODELS["k8s"],
            "kedro_airflow_k8s.spark.kubernetes.KubernetesFactory",
            driver=_k8s_driver,
            artifacts=frozenset({"entry"}),
            check=_check_k8s,
            notes=_k8s_notes,
        ),
        Backend(
            "spark-operator",
            BACKEND_MODELS["spark-operator"],
            "kedro_airflow_k8s.spark.spark_operator.SparkOperatorFactory",
            driver=lambda spark: "remote",
        ),
        Backend(
            "standalone",
            BACKEND_MODELS["standalone"],
            "kedro_airflow_k8s.spark.standalone.StandaloneFactory",
            # The driver runs the project directory itself; the conf archive is unused.
            driver=lambda spark: "local",
            artifacts=frozenset({"entry"}),
            check=_check_standalone,
            notes=_standalone_notes,
        ),
        Backend(
            "custom",
            BACKEND_MODELS["custom"],
            None,
            # A factory of your own may run the driver here (local artifacts are built when
            # artifacts_path is unset) or on a cluster (local dataset paths are warned about).
            driver=lambda spark: "either",
            artifacts=frozenset({"wheel", "conf", "entry", "init"}),
        ),
    ]
}


def backend_of(spark: SparkCommonConfig) -> Backend:
    return BACKENDS[spark.backend]


def check_backend(run: RunConfig, spark_node_tags: Mapping[str, Iterable[str]]) -> None:
    """Every check of run_config.spark that needs no artifacts, for the Spark nodes and their
    tags; raises UserError naming the key. Planning calls it, so `plan` reports these and
    compile stops before it builds anything."""
    spark = run.spark
    backend = backend_of(spark)
    if backend.name == "none" or not spark_node_tags:
        return
    from kedro_airflow_k8s.spark import custom

    artifacts_path = getattr(spark, "artifacts_path", None)
    if backend.artifacts_scheme and not str(artifacts_path or "").startswith(
        backend.artifacts_scheme
    ):
        raise UserError(
            f"run_config.spark.artifacts_path is {artifacts_path!r}; the {backend.name} backend "
            "fetches the project, its conf and the init and entry scripts from "
            f"{backend.artifacts_scheme}, so set it to a {backend.artifacts_scheme}bucket/path URL"
        )
    backend.check(run)
    factory = getattr(spark, "operator_factory", None)
    if backend.factory is None:
        custom.factory_class(factory or "")
    elif factory:
        custom.factory_class(factory, backend.factory_class())
