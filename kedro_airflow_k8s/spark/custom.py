"""Custom backend: the user's factory class, named by run_config.spark.operator_factory."""

from __future__ import annotations

import importlib
import inspect

from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark.base import SparkOperatorFactoryBase
from kedro_airflow_k8s.spark.builtin import BuiltinFactory, SparkContext

KEY = "run_config.spark.operator_factory"


def factory_class(
    path: str, base: type[SparkOperatorFactoryBase] = SparkOperatorFactoryBase
) -> type[SparkOperatorFactoryBase]:
    """The class at ``package.module.Class``, a subclass of ``base``; every way it can be
    wrong is a UserError."""
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
    if not inspect.isclass(found) or not issubclass(found, SparkOperatorFactoryBase):
        raise UserError(
            f"{KEY} '{path}' is not a subclass of "
            "kedro_airflow_k8s.template_helper.SparkOperatorFactoryBase"
        )
    if not issubclass(found, base):
        raise UserError(
            f"{KEY} '{path}' is not a subclass of {base.__module__}.{base.__qualname__}, the "
            "factory of the backend run_config.spark.type names; extend that class, or use "
            "type custom for a factory of your own"
        )
    return found


def create_factory(
    path: str,
    context: SparkContext,
    base: type[SparkOperatorFactoryBase] = SparkOperatorFactoryBase,
) -> SparkOperatorFactoryBase:
    """An instance of the class at ``path``; subclasses of a built-in backend get ``context``."""
    cls = factory_class(path, base)
    try:
        return cls(context) if issubclass(cls, BuiltinFactory) else cls()
    except Exception as error:  # noqa: BLE001 - includes abstract methods left unimplemented
        raise UserError(
            f"{KEY} '{path}' could not be created ({type(error).__name__}: {error})"
        ) from None
