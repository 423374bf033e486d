"""The one exception type for mistakes a user can fix; the CLI prints it without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's project, configuration or command line.

    The message names the thing at fault (config key path, node, dataset, file)
    and says what to do about it.
    """


class ConfigError(UserError):
    """The airflow-k8s configuration does not validate."""


class PlanError(UserError):
    """The pipeline cannot be turned into a valid task plan."""
