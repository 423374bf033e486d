"""What Airflow refuses when it parses a DAG, checked at compile before anything is written.

The rules mirror Airflow 3's own (``airflow.sdk.definitions``): ids match
``^[\\w.-]+$`` and hold at most 250 characters, DAG tags at most 100, cron
schedules are what croniter accepts after Airflow's presets are expanded, and a
continuous schedule allows one active run. Importing Airflow here would cost
seconds per compile, so the rules are restated and tests hold them to Airflow's.
"""

from __future__ import annotations

import datetime as dt
import re

# Airflow's KEY_REGEX and its limits (airflow.sdk.definitions._internal.node, dag.py).
KEY_PATTERN = re.compile(r"^[\w.-]+$")
MAX_KEY_LENGTH = 250
MAX_TAG_LENGTH = 100
# Pools and queues are names in Airflow's database (VARCHAR(256)).
MAX_POOL_LENGTH = 256
MAX_QUEUE_LENGTH = 256
# airflow.sdk.definitions.timetables._cron.CRON_PRESETS
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
# Schedules that are no cron expression (airflow.sdk.definitions.dag._create_timetable).
NON_CRON_SCHEDULES = frozenset({"@once", "@continuous"})


def check_key(value: str, what: str, max_length: int = MAX_KEY_LENGTH) -> str:
    """``value`` if Airflow accepts it as a DAG or task id, else ValueError saying why."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{what} has {len(value)} characters; Airflow allows {max_length}")
    if not KEY_PATTERN.match(value):
        bad = sorted({c for c in value if not re.match(r"[\w.-]", c)})
        raise ValueError(
            f"{what} may only hold letters, digits, '_', '.' and '-' "
            f"(found {', '.join(repr(c) for c in bad)})"
        )
    return value


def check_tag(value: str) -> str:
    if not value or len(value) > MAX_TAG_LENGTH:
        raise ValueError(
            f"DAG tags must have 1 to {MAX_TAG_LENGTH} characters; {value!r} has {len(value)}"
        )
    return value


def check_name(value: str, what: str, max_length: int) -> str:
    """A pool or queue name: non-empty, no surrounding blanks or control characters."""
    if not value or value != value.strip():
        raise ValueError(f"{what} must be a name without leading or trailing blanks")
    if len(value) > max_length:
        raise ValueError(f"{what} has {len(value)} characters; Airflow allows {max_length}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} must not hold control characters")
    return value


def check_pool(value: str) -> str:
    return check_name(value, "a pool name", MAX_POOL_LENGTH)


def check_queue(value: str) -> str:
    return check_name(value, "a queue name", MAX_QUEUE_LENGTH)


def check_schedule(value: str) -> str:
    """``value`` (stripped) if Airflow accepts it as a schedule, else ValueError saying why.

    Besides what Airflow checks (croniter parses it), the schedule must fire at
    least once: '0 0 31 2 *' parses but would never run.
    """
    from croniter import CroniterBadCronError, CroniterBadDateError, croniter

    value = value.strip()
    if value in NON_CRON_SCHEDULES:
        return value
    expression = CRON_PRESETS.get(value, value)
    fields = expression.split()
    if len(fields) < 5 and not value.startswith("@"):
        raise ValueError(
            f"'{value}' is not a cron expression: it has {len(fields)} fields, not five "
            "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'"
        )
    try:
        schedule = croniter(expression, dt.datetime(2024, 1, 1))
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as error:
        detail = " ".join(str(error).split())
        if value.startswith("@"):
            presets = ", ".join([*CRON_PRESETS, *sorted(NON_CRON_SCHEDULES)])
            raise ValueError(
                f"'{value}' is not a schedule preset Airflow knows ({presets})"
            ) from None
        raise ValueError(
            f"'{value}' is not a cron expression Airflow accepts ({detail}); write five "
            "fields like '0 3 * * *' or a preset such as @daily"
        ) from None
    try:
        schedule.get_next(dt.datetime)
    except (CroniterBadDateError, StopIteration, ValueError):
        raise ValueError(f"'{value}' is a cron expression that never fires") from None
    return value


def check_max_active_runs(schedule: str | None, max_active_runs: int) -> None:
    """A continuous DAG runs one run at a time (Airflow's ContinuousTimetable limit)."""
    if schedule == "@continuous" and max_active_runs > 1:
        raise ValueError(
            f"schedule @continuous allows one active run at a time, not {max_active_runs}; "
            "set max_active_runs: 1 or use a cron schedule"
        )
