"""The catalog entries compile reads: each names a dataset class that exists; no credentials."""

from __future__ import annotations

import copy
from typing import Any

from kedro_airflow_k8s.errors import UserError


def check_catalog_types(catalog_config: dict[str, Any], env: str) -> None:
    """Refuse catalog entries that are not mappings or name a dataset class that does not
    exist. A class whose own dependencies are missing here still passes: it exists, and
    the image that runs it may have them."""
    from kedro_airflow_k8s.dataset_classes import dataset_class_exists

    checked: dict[str, bool] = {}
    for name, entry in catalog_config.items():
        where = f"catalog entry '{name}' (env '{env}')"
        if not isinstance(entry, dict):
            # The value itself is not shown: it may be a credential written in the wrong place.
            raise UserError(
                f"{where} must be a mapping with a `type`, not a {type(entry).__name__}"
            )
        dataset_type = entry.get("type")
        if not isinstance(dataset_type, str) or not dataset_type.strip():
            raise UserError(
                f"{where} has no `type`: set it to a dataset class such as pandas.CSVDataset"
            )
        if dataset_type not in checked:
            checked[dataset_type] = dataset_class_exists(dataset_type)
        if not checked[dataset_type]:
            raise UserError(
                f"{where} has the type '{dataset_type}', which is not a dataset class "
                "Kedro can find (tried it as given, under kedro_datasets. and under kedro.io.); "
                "check the spelling or install the package that provides it"
            )


def strip_credentials(catalog_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``catalog_config`` without its ``credentials`` keys."""
    # Dataset types never depend on credentials; leaving them out means compile
    # works where conf/local is absent and no secret is ever loaded.
    cleaned = copy.deepcopy(catalog_config)
    for entry in cleaned.values():
        if isinstance(entry, dict):
            entry.pop("credentials", None)
            for nested in ("dataset", "filepath_arguments"):
                if isinstance(entry.get(nested), dict):
                    entry[nested].pop("credentials", None)
    return cleaned
