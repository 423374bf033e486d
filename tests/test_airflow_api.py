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

from kedro_airflow_k8s import airflow_api
from kedro_airflow_k8s.airflow_api import AirflowApi, ApiError, ApiSettings, settings_from_env
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
    assert 0 < sleeps[1] <= airflow_api.MAX_DELAY


def test_backoff_doubles_and_gives_up_within_the_budget() -> None:
    from airflow_client.client.exceptions import ServiceException

    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def always_503() -> None:
        raise ServiceException(status=503, reason="Service Unavailable")

    with pytest.raises(ServiceException):
        airflow_api.with_retries(always_503, budget=20.0, sleep=sleep, clock=lambda: now[0])

    assert sum(sleeps) <= 20.0
    assert len(sleeps) >= 4
    for earlier, later in zip(sleeps, sleeps[1:4], strict=False):
        assert later > earlier  # jitter stays within [0.5, 1] of a doubling base
    assert max(sleeps) <= airflow_api.MAX_DELAY


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
    fake.reply("GET", DAG_PATH, (200, dag(tags=("kak_version:old",)), {}))
    fake.reply("PUT", "/api/v2/parseDagFile/tok", (201, None, {}))
    fake.reply(
        "GET", "/api/v2/importErrors", (200, {"import_errors": [new], "total_entries": 1}, {})
    )
    compiled = CompiledDag("demo", None, "", "kak_version:new")  # type: ignore[arg-type]

    with pytest.raises(UserError, match="cannot import demo.py:\nModuleNotFoundError"):
        wait_for_version(api_for(fake), compiled, {(1, old["timestamp"])}, echo=lambda _: None)
    assert fake.calls("PUT", "/api/v2/parseDagFile/tok"), "an update asks for a reparse"


def test_waiting_ends_when_the_dag_carries_the_new_version(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.build import CompiledDag
    from kedro_airflow_k8s.deploy import wait_for_version

    fake.reply(
        "GET",
        DAG_PATH,
        (404, {"detail": "not found"}, {}),
        (200, dag(tags=("kak_version:old",)), {}),
        (200, dag(tags=("kak_version:new", "kedro-airflow-k8s:0.1.0")), {}),
    )
    fake.reply("GET", "/api/v2/importErrors", (200, {"import_errors": [], "total_entries": 0}, {}))
    compiled = CompiledDag("demo", None, "", "kak_version:new")  # type: ignore[arg-type]

    found = wait_for_version(
        api_for(fake), compiled, set(), echo=lambda _: None, sleep=lambda _: None
    )
    assert found["dag_id"] == "demo"
    assert len(fake.calls("GET", DAG_PATH)) == 3


def test_a_run_that_outlasts_the_wait_fails_with_where_to_follow_it(fake: FakeAirflow) -> None:
    from kedro_airflow_k8s.deploy import follow_run

    run = {"dag_id": "demo", "dag_run_id": "run-1", "state": "running"}
    task = {"task_id": "kedro.slow", "state": "running", "dag_id": "demo", "dag_run_id": "run-1"}
    fake.reply("GET", "/api/v2/dags/demo/dagRuns/run-1", (200, run, {}))
    fake.reply(
        "GET",
        "/api/v2/dags/demo/dagRuns/run-1/taskInstances",
        (200, {"task_instances": [task], "total_entries": 1}, {}),
    )
    lines: list[str] = []

    with pytest.raises(UserError, match="still running after 0.001 min.*follow it at http"):
        follow_run(api_for(fake), run, 0.001, echo=lines.append, sleep=lambda _: time.sleep(0.02))
    assert lines == ["  kedro.slow: running"]
