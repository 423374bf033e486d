"""When a published schedule starts its first run, and what `schedule` says about the DAG."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kedro_airflow_k8s.config import RunConfig


def hold_first_run(run_config: RunConfig, now: dt.datetime | None = None) -> dt.datetime | None:
    """Move the DAG's start to the next whole minute, so its first run is the next cron time.

    With catchup off, Airflow starts a run of the most recent cron time as soon as an
    unpaused DAG gets a schedule it has not run yet: a run nobody asked for. Nothing
    changes where run_config.catchup is on (the user asked for the missed runs).
    Returns the new start, or None where it was left alone.
    """
    if not run_config.cron_expression or run_config.catchup:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    start = (now + dt.timedelta(minutes=1)).replace(second=0, microsecond=0, tzinfo=None)
    configured = dt.datetime.combine(run_config.start_date, dt.time())
    if configured >= start:
        return None
    run_config.start_date = start
    return start


def paused_state(dag: dict[str, Any] | None, url: str) -> str:
    """What the published schedule will do, given the DAG as Airflow knew it before publishing."""
    if dag is None:
        return (
            "Airflow creates new DAGs paused (unless [core] dags_are_paused_at_creation is off): "
            f"unpause it to start the schedule at {url}"
        )
    if dag.get("is_paused"):
        return f"The DAG is paused, as it was; unpause it to start the schedule at {url}"
    return f"The DAG is not paused, as it was: it runs from the next scheduled time; see {url}"
