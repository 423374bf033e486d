"""Custom backend: the user's factory class, named by run_config.spark.operator_factory."""

from __future__ import annotations

import importlib
import inspect

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark.base import SparkFactory, SparkOperatorFactoryBase

KEY = "run_config.spark.operator_factory"
FACTORY_BASES = (SparkFactory, SparkOperatorFactoryBase)
# Members of the seed's string API: a SparkFactory (the built-ins included) that has one was
# written for the string API, and would have it silently ignored.
STRING_API = frozenset(
    {"imports_statement", "create_cluster_operator", "delete_cluster_operator"}
    | {"submit_operator", "preamble", "dag_arguments"}
)


def factory_class(path: str, base: type | None = None) -> type:
    """The class at ``package.module.Class``: a ``SparkFactory`` (or a seed-style
    ``SparkOperatorFactoryBase``), and a subclass of ``base`` when given; every way it can
    be wrong is a UserError."""
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is the user's to fix
        raise UserError(
            f"{KEY} '{path}': cannot import module '{module_name}' "
            f"({type(error).__name__}: {error}); install the package that holds it in the "
            "environment that runs kedro airflow-k8s"
        ) from None
    found = getattr(module, class_name, None)
    if found is None:
        raise UserError(f"{KEY} '{path}': module '{module_name}' has no attribute '{class_name}'")
    if not inspect.isclass(found) or not issubclass(found, FACTORY_BASES):
        raise UserError(
            f"{KEY} '{path}' is not a subclass of kedro_airflow_k8s.template_helper.SparkFactory "
            "(or of the string-returning SparkOperatorFactoryBase)"
        )
    string_methods = sorted(STRING_API & set(dir(found))) if issubclass(found, SparkFactory) else []
    if string_methods:
        raise UserError(
            f"{KEY} '{path}' is a SparkFactory but defines {', '.join(string_methods)} of the "
            "string API, which a SparkFactory never calls; return OperatorSpecs from "
            "create_cluster(context), delete_cluster(context) and submit(context, group), or "
            "derive from SparkOperatorFactoryBase alone"
        )
    if base is not None and not issubclass(found, base):
        raise UserError(
            f"{KEY} '{path}' is not a subclass of {base.__module__}.{base.__qualname__}, the "
            "factory of the backend run_config.spark.type names; extend that class, or use "
            "type custom for a factory of your own"
        )
    return found


def create_factory(path: str, base: type | None = None) -> SparkFactory | SparkOperatorFactoryBase:
    """An instance of the class at ``path``."""
    cls = factory_class(path, base)
    try:
        return cls()
    except Exception as error:  # noqa: BLE001 - includes abstract methods left unimplemented
        raise UserError(
            f"{KEY} '{path}' could not be created ({type(error).__name__}: {error})"
        ) from None
