"""The Airflow API client: retries, authentication and error messages, against a local fake."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow_server import free_port

from kedro_airflow_k8s import airflow_errors
from kedro_airflow_k8s.airflow_api import AirflowApi
from kedro_airflow_k8s.airflow_errors import ApiError, HttpError
from kedro_airflow_k8s.airflow_settings import ApiSettings, settings_from_env
from kedro_airflow_k8s.errors import UserError

Reply = tuple[int, Any, dict[str, str]]


class FakeAirflow:
    """Answers each (method, path) with scripted replies, the last one repeating."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], list[Reply]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": urlsplit(self.path).query,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(body) if body else None,
                    }
                )
                queue = fake.replies.get((self.command, path)) or [
                    (404, {"detail": "Not Found"}, {})
                ]
                status, payload, headers = queue.pop(0) if len(queue) > 1 else queue[0]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeAirflow]:
    server = FakeAirflow()
    yield server
    server.close()


def dag(dag_id: str = "demo", tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "is_paused": True,
        "file_token": "tok",
        "tags": [{"name": t, "dag_id": dag_id, "dag_display_name": dag_id} for t in tags],
    }


def api_for(fake: FakeAirflow, sleeps: list[float] | None = None, **settings: Any) -> AirflowApi:
    record = sleeps.append if sleeps is not None else time.sleep
    options = {"token": "good", "retry_seconds": 30.0} | settings
    return AirflowApi(ApiSettings(host=fake.url, **options), sleep=record)


DAG_PATH = "/api/v2/dags/demo"


# -- retries --------------------------------------------------------------------------------


def test_429_and_503_are_retried_until_the_answer_comes(fake: FakeAirflow) -> None:
    fake.reply(
        "GET",
        DAG_PATH,
        (429, {"detail": "slow down"}, {"Retry-After": "0"}),
        (503, {"detail": "starting"}, {}),
        (200, dag(), {}),
    )
    sleeps: list[float] = []

    assert api_for(fake, sleeps).dag("demo")["dag_id"] == "demo"
    assert len(fake.calls("GET", DAG_PATH)) == 3
    assert sleeps[0] == 0.0  # Retry-After honoured
    assert 0 < sleeps[1] <= airflow_errors.MAX_DELAY


def test_backoff_doubles_and_gives_up_within_the_budget() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def always_503() -> None:
        raise HttpError(503, "Service Unavailable")

    with pytest.raises(HttpError):
        airflow_errors.with_retries(always_503, budget=20.0, sleep=sleep, clock=lambda: now[0])

    assert sum(sleeps) <= 20.0
    assert len(sleeps) >= 4
    for earlier, later in zip(sleeps, sleeps[1:4], strict=False):
        assert later > earlier  # jitter stays within [0.5, 1] of a doubling base
    assert max(sleeps) <= airflow_errors.MAX_DELAY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_answers_other_than_429_and_5xx_are_not_retried(fake: FakeAirflow, status: int) -> None:
    fake.reply("POST", "/api/v2/dags/demo/dagRuns", (status, {"detail": "no"}, {}))

    with pytest.raises(ApiError) as error:
        api_for(fake).trigger("demo", "run-1", dt.datetime.now(dt.timezone.utc))
    assert error.value.status == status
    assert len(fake.calls("POST", "/api/v2/dags/demo/dagRuns")) == 1


def test_5xx_that_never_ends_says_to_check_the_server(fake: FakeAirflow) -> None:
    fake.reply("GET", DAG_PATH, (502, {"detail": "Bad Gateway"}, {}))

    with pytest.raises(ApiError, match="kept answering 502.*health and logs"):
        api_for(fake, retry_seconds=1.0).dag("demo")


# -- error messages -------------------------------------------------------------------------


def test_401_with_a_token_names_the_token_variable(fake: FakeAirflow) -> None:
    fake.reply("GET", DAG_PATH, (401, {"detail": "Token Expired"}, {}))

    with pytest.raises(ApiError, match="Token Expired.*AIRFLOW_API_TOKEN") as error:
        api_for(fake).dag("demo")
    assert error.value.status == 401


def test_an_undecodable_token_is_a_credentials_problem_not_a_permission_one(
    fake: FakeAirflow,
) -> None:
    fake.reply("GET", DAG_PATH, (403, {"detail": "Invalid JWT token"}, {}))

    with pytest.raises(ApiError, match="AIRFLOW_API_TOKEN"):
        api_for(fake).dag("demo")


def test_403_says_the_user_lacks_the_permission(fake: FakeAirflow) -> None:
    fake.reply("POST", "/api/v2/dags/demo/dagRuns", (403, {"detail": "Forbidden"}, {}))

    with pytest.raises(ApiError, match="does not allow this user to trigger DAG 'demo'"):
        api_for(fake).trigger("demo", "run-1", dt.datetime.now(dt.timezone.utc))


def test_404_says_to_check_the_dag_id_and_the_dag_folder(fake: FakeAirflow) -> None:
    fake.reply("PATCH", DAG_PATH, (404, {"detail": "The Dag with ID: `demo` was not found"}, {}))

    with pytest.raises(ApiError, match="check the DAG id.*DAG folder"):
        api_for(fake).unpause("demo")


def test_a_host_that_is_not_airflow_says_to_check_host(fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/dags", (200, b"<html>a login page</html>", {}))

    with pytest.raises(ApiError, match="not answer like an Airflow API server.*`host`"):
        api_for(fake).check()


def test_a_dag_airflow_does_not_know_yet_is_none(fake: FakeAirflow) -> None:
    fake.reply("GET", DAG_PATH, (404, {"detail": "The Dag with ID: `demo` was not found"}, {}))

    assert api_for(fake).dag("demo") is None


def test_unreachable_host_says_to_check_host_and_the_api_server() -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    api = AirflowApi(ApiSettings(host=host, token="t", retry_seconds=1.0))

    with pytest.raises(ApiError, match=f"cannot reach the Airflow API server at {host}.*`host`"):
        api.check()


def test_a_retried_trigger_that_already_happened_returns_the_run(fake: FakeAirflow) -> None:
    run = {"dag_id": "demo", "dag_run_id": "run-1", "state": "queued"}
    fake.reply("POST", "/api/v2/dags/demo/dagRuns", (409, {"detail": "exists"}, {}))
    fake.reply("GET", "/api/v2/dags/demo/dagRuns/run-1", (200, run, {}))

    now = dt.datetime.now(dt.timezone.utc)
    assert api_for(fake).trigger("demo", "run-1", now)["dag_run_id"] == "run-1"


# -- authentication -------------------------------------------------------------------------


def test_user_and_password_are_exchanged_for_a_token(fake: FakeAirflow) -> None:
    fake.reply("POST", "/auth/token", (201, {"access_token": "jwt-1"}, {}))
    fake.reply("GET", DAG_PATH, (200, dag(), {}))

    api_for(fake, token=None, username="ada", password="secret").dag("demo")

    assert fake.calls("POST", "/auth/token")[0]["body"] == {"username": "ada", "password": "secret"}
    assert fake.calls("GET", DAG_PATH)[0]["auth"] == "Bearer jwt-1"


def test_wrong_password_names_the_username_and_password_variables(fake: FakeAirflow) -> None:
    fake.reply("POST", "/auth/token", (401, {"detail": "Invalid credentials"}, {}))

    with pytest.raises(
        ApiError, match="Invalid credentials.*AIRFLOW_USERNAME and AIRFLOW_PASSWORD"
    ):
        api_for(fake, token=None, username="ada", password="wrong").dag("demo")
    assert not fake.calls("GET", DAG_PATH)


def test_an_expired_token_is_renewed_once(fake: FakeAirflow) -> None:
    fake.reply("POST", "/auth/token", (201, {"access_token": "jwt-1"}, {}))
    fake.reply("GET", DAG_PATH, (401, {"detail": "Token Expired"}, {}), (200, dag(), {}))

    assert api_for(fake, token=None, username="ada", password="pw").dag("demo") is not None
    assert len(fake.calls("POST", "/auth/token")) == 2


def test_no_token_endpoint_suggests_a_token(fake: FakeAirflow) -> None:
    with pytest.raises(ApiError, match="/auth/token does not exist.*AIRFLOW_API_TOKEN"):
        api_for(fake, token=None, username="ada", password="pw").dag("demo")


def test_missing_host_names_the_host_key() -> None:
    with pytest.raises(UserError, match="host is not set in conf/local/airflow-k8s.yml"):
        settings_from_env(None, config_source="conf/local/airflow-k8s.yml", environ={})


def test_tls_verification_is_on_unless_switched_off() -> None:
    host = "https://airflow.example.com/"
    assert settings_from_env(host, environ={}).verify_ssl
    assert not settings_from_env(host, insecure=True, environ={}).verify_ssl
    assert not settings_from_env(host, environ={"AIRFLOW_API_VERIFY_SSL": "false"}).verify_ssl
    assert settings_from_env(host, environ={}).host == "https://airflow.example.com"


def test_token_wins_over_username_and_password() -> None:
    environ = {"AIRFLOW_API_TOKEN": "t", "AIRFLOW_USERNAME": "u", "AIRFLOW_PASSWORD": "p"}
    assert settings_from_env("http://h", environ=environ).auth == "token"
    with pytest.raises(UserError, match="AIRFLOW_PASSWORD is not"):
        settings_from_env("http://h", environ={"AIRFLOW_USERNAME": "u"})


# -- waiting for a version ------------------------------------------------------------------


def test_an_import_error_of_the_new_file_stops_the_wait(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.build import CompiledDag
    from kedro_airflow_k8s.deploy import wait_for_version

    old = {"import_error_id": 1, "timestamp": "2026-01-01T00:00:00Z", "filename": "demo.py"}
    new = {
        "import_error_id": 1,
        "timestamp": "2026-01-01T00:05:00Z",
        "filename": "dags/demo.py",
        "stack_trace": "ModuleNotFoundError: No module named 'airflow.providers.cncf'",
    }
    fake.reply("GET", f"{DAG_PATH}/details", (200, details(OLD, 1), {}))
    fake.reply("PUT", "/api/v2/parseDagFile/tok", (201, None, {}))
    fake.reply(
        "GET", "/api/v2/importErrors", (200, {"import_errors": [new], "total_entries": 1}, {})
    )
    compiled = CompiledDag("demo", None, "", NEW)  # type: ignore[arg-type]

    with pytest.raises(UserError, match="cannot import demo.py:\nModuleNotFoundError"):
        wait_for_version(api_for(fake), compiled, {(1, old["timestamp"])}, echo=lambda _: None)
    assert fake.calls("PUT", "/api/v2/parseDagFile/tok"), "an update asks for a reparse"


OLD, NEW = "0123456789ab", "cdef01234567"
PARSED_BEFORE = "2026-01-01T00:00:00Z"


def details(version: str, number: int, parsed: str = PARSED_BEFORE) -> dict[str, Any]:
    """/details as Airflow serves it: the DAG's fields as last parsed, with doc_md of the
    latest stored (serialized) version and that version's number."""
    return dag(tags=("kedro",)) | {
        "last_parsed_time": parsed,
        "doc_md": f"2 tasks.\n\nGenerated by kedro-airflow-k8s 0.1.0, DAG version `{version}`.",
        "latest_dag_version": {"version_number": number, "dag_id": "demo"},
    }


def test_waiting_ends_when_the_latest_stored_version_is_the_published_one(
    fake: FakeAirflow,
) -> None:
    from kedro_airflow_k8s.build import CompiledDag
    from kedro_airflow_k8s.deploy import wait_for_version

    # Airflow parses the new file at once (last_parsed_time moves) but stores it later.
    fake.reply(
        "GET",
        f"{DAG_PATH}/details",
        (404, {"detail": "not found"}, {}),
        (200, details(OLD, 1), {}),
        (200, details(OLD, 1, parsed="2026-01-01T00:00:03Z"), {}),
        (200, details(NEW, 2, parsed="2026-01-01T00:00:03Z"), {}),
    )
    fake.reply("PUT", "/api/v2/parseDagFile/tok", (201, None, {}))
    fake.reply("GET", "/api/v2/importErrors", (200, {"import_errors": [], "total_entries": 0}, {}))
    compiled = CompiledDag("demo", None, "", NEW)  # type: ignore[arg-type]
    lines: list[str] = []

    found = wait_for_version(
        api_for(fake),
        compiled,
        set(),
        echo=lines.append,
        sleep=lambda _: None,
        parsed_before=PARSED_BEFORE,
    )

    assert found.dag["dag_id"] == "demo" and found.version_number == 2
    assert len(fake.calls("GET", f"{DAG_PATH}/details")) == 4
    assert len(fake.calls("PUT", "/api/v2/parseDagFile/tok")) == 1
    assert [line for line in lines if "min_serialized_dag_update_interval" in line], lines
    assert not fake.calls("GET", DAG_PATH), "the version is read from the stored DAG only"


def test_a_version_in_the_tags_is_not_taken_for_the_stored_one(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.build import CompiledDag
    from kedro_airflow_k8s.deploy import wait_for_version

    stored_old = details(OLD, 1) | {"tags": [{"name": f"kak_version:{NEW}", "dag_id": "demo"}]}
    fake.reply("GET", f"{DAG_PATH}/details", (200, stored_old, {}))
    fake.reply("GET", "/api/v2/importErrors", (200, {"import_errors": [], "total_entries": 0}, {}))
    compiled = CompiledDag("demo", None, "", NEW)  # type: ignore[arg-type]

    with pytest.raises(UserError, match=f"its latest stored version is version {OLD}"):
        wait_for_version(
            api_for(fake), compiled, set(), timeout=0.05, echo=lambda _: None,
            sleep=lambda _: time.sleep(0.02), parsed_before=PARSED_BEFORE,
        )  # fmt: skip


def test_a_stored_dag_of_the_previous_version_keeps_the_wait_going(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.build import CompiledDag
    from kedro_airflow_k8s.deploy import wait_for_version

    parsed = details(OLD, 1, parsed="2026-01-01T00:00:03Z")
    fake.reply("GET", f"{DAG_PATH}/details", (200, parsed, {}))
    fake.reply("GET", "/api/v2/importErrors", (200, {"import_errors": [], "total_entries": 0}, {}))
    compiled = CompiledDag("demo", None, "", NEW)  # type: ignore[arg-type]

    expected = f"stored version {NEW} of DAG 'demo'.*parsed the file but its latest stored"
    with pytest.raises(UserError, match=expected):
        wait_for_version(
            api_for(fake), compiled, set(), timeout=0.05, echo=lambda _: None,
            sleep=lambda _: time.sleep(0.02), parsed_before=PARSED_BEFORE,
        )  # fmt: skip


def running(state: str = "running", versions_: tuple[int, ...] = (2,)) -> dict[str, Any]:
    return {
        "dag_id": "demo",
        "dag_run_id": "run-1",
        "state": state,
        "dag_versions": [{"version_number": n} for n in versions_],
    }


def task_instance(task_id: str, state: str | None, **extra: Any) -> dict[str, Any]:
    return {"task_id": task_id, "state": state, "dag_id": "demo", "dag_run_id": "run-1"} | extra


RUN_PATH = "/api/v2/dags/demo/dagRuns/run-1"
TASKS_PATH = f"{RUN_PATH}/taskInstances"


def instances(*tasks: dict[str, Any]) -> Reply:
    return (200, {"task_instances": list(tasks), "total_entries": len(tasks)}, {})


def test_a_run_that_outlasts_the_wait_fails_with_where_to_follow_it(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import follow_run

    fake.reply("GET", RUN_PATH, (200, running(), {}))
    fake.reply("GET", TASKS_PATH, instances(task_instance("kedro.slow", "running")))
    lines: list[str] = []

    with pytest.raises(UserError, match="still running after 0.001 min.*follow it at http"):
        follow_run(
            api_for(fake), running(), 0.001, echo=lines.append, sleep=lambda _: time.sleep(0.02)
        )
    assert lines == ["  kedro.slow: running"]


def test_task_instances_are_read_page_by_page_past_100(fake: FakeAirflow) -> None:
    """As Airflow 3 pages: at most 100 a request, total_entries the whole run's count."""
    tasks = [task_instance(f"task_{n:03d}", "success") for n in range(130)]
    fake.reply(
        "GET",
        TASKS_PATH,
        (200, {"task_instances": tasks[:100], "total_entries": 130}, {}),
        (200, {"task_instances": tasks[100:], "total_entries": 130}, {}),
    )

    found = api_for(fake).task_instances("demo", "run-1")

    assert [t["task_id"] for t in found] == [t["task_id"] for t in tasks]
    queries = [call["query"] for call in fake.calls("GET", TASKS_PATH)]
    assert queries == ["limit=100&offset=0", "limit=100&offset=100"]


def test_a_run_on_an_older_version_fails_loudly(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import follow_run

    fake.reply("GET", RUN_PATH, (200, running(versions_=(1, 2)), {}))
    fake.reply(
        "GET",
        TASKS_PATH,
        instances(task_instance("kedro.old", "removed"), task_instance("kedro.other", "success")),
    )

    with pytest.raises(UserError) as error:
        follow_run(
            api_for(fake), running(), 1, echo=lambda _: None, sleep=lambda _: None, version=2,
            expected_tasks={"kedro.new", "kedro.other"},
        )  # fmt: skip
    message = str(error.value)
    assert "does not run the DAG that was just published" in message
    assert "DAG version(s) v1, v2, not v2" in message
    assert "removed from it: kedro.old" in message
    assert "lacks published tasks: kedro.new" in message


def test_an_outage_while_following_says_the_run_goes_on_and_resumes(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import follow_run

    fake.reply(
        "GET",
        RUN_PATH,
        (200, running(), {}),
        (503, {"detail": "down"}, {}),
        (200, running("success"), {}),
    )
    fake.reply("GET", TASKS_PATH, instances(task_instance("kedro.work", "success")))
    lines: list[str] = []

    follow_run(
        api_for(fake, retry_seconds=0.0), running(), 1, echo=lines.append,
        sleep=lambda _: None,
    )  # fmt: skip

    outage = next(line for line in lines if "does not answer" in line)
    assert "The run goes on in Airflow: http" in outage and "/runs/run-1" in outage
    assert any("answers again" in line for line in lines)
    assert lines[-1] == "run 'run-1' of DAG 'demo' succeeded"


def test_a_queued_run_says_which_run_it_waits_for(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import follow_run

    fake.reply("GET", RUN_PATH, (200, running("queued"), {}), (200, running("success"), {}))
    fake.reply(
        "GET",
        TASKS_PATH,
        instances(task_instance("kedro.work", None)),
        instances(task_instance("kedro.work", "success")),
    )
    fake.reply("GET", DAG_PATH, (200, dag() | {"max_active_runs": 1, "is_paused": False}, {}))
    other = running() | {"dag_run_id": "scheduled__1"}
    fake.reply("GET", "/api/v2/dags/demo/dagRuns", (200, {"dag_runs": [other]}, {}))
    lines: list[str] = []

    follow_run(api_for(fake), running(), 1, echo=lines.append, sleep=lambda _: None)

    assert lines[0] == "  run is queued (max_active_runs=1, waiting for scheduled__1)"
    assert lines[1] == "  kedro.work: success"


def test_up_for_retry_says_when_the_next_try_starts(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import describe_task

    task = task_instance(
        "kedro.flaky", "up_for_retry", try_number=1, max_tries=2,
        end_date="2026-01-01T10:00:00Z",
    )  # fmt: skip

    text = describe_task(task, lambda task_id: (90.0, False))

    assert text == "up_for_retry (try 1 of 3 failed; next try at 10:01:30 UTC)"


def test_the_failure_tail_leaves_out_spark_info_lines(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.run_follow import log_tail

    chatter = [f"26/01/01 10:00:{i:02d} INFO SparkContext: Successfully stopped" for i in range(15)]
    content = ["Traceback (most recent call last):", "ValueError: bad input", *chatter]
    content.insert(0, "26/01/01 09:59:59 WARN NativeCodeLoader: Unable to load native-hadoop")
    fake.reply(
        "GET", f"{TASKS_PATH}/kedro.spark/logs/1", (200, {"content": "\n".join(content)}, {})
    )

    tail = log_tail(api_for(fake), task_instance("kedro.spark", "failed", try_number=1))

    assert tail == [content[0], "Traceback (most recent call last):", "ValueError: bad input"]


def test_a_permission_probe_reads_403_as_no_and_422_as_yes(fake: FakeAirflow) -> None:
    fake.reply("PATCH", DAG_PATH, (422, {"detail": [{"msg": "Input should be a valid dict"}]}, {}))
    fake.reply("POST", "/api/v2/dags/demo/dagRuns", (403, {"detail": "Forbidden"}, {}))

    missing = api_for(fake).missing_permissions("demo")

    assert missing == ["trigger runs of DAG 'demo' (POST on DAG Runs)"]
    assert fake.calls("PATCH", DAG_PATH)[0]["body"] == []  # a body no endpoint accepts
