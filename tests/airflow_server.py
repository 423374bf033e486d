"""A real Airflow 3 (API server, scheduler, DAG processor) on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
USERS = {"admin": "admin", "viewer": "viewer"}  # user name -> role; password is the same
COMPONENTS = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}"],
    # Without --skip-serve-logs the scheduler serves task logs on 0.0.0.0; the API server
    # reads them from the local log folder anyway.
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
NEEDED = ("metadatabase", "scheduler", "dag_processor")  # no triggerer: no deferrable tasks
LOOPBACK = {"127.0.0.1", "::1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrated_database(target: Path, timeout: float = 300.0) -> None:
    """Put an Airflow SQLite database at ``target`` as `airflow db migrate` leaves it.

    The migration runs once per test process into a template that later calls copy: a
    migrated database holds no path or setting of its home, and each migration costs seconds.
    The template's folder is named after the process, so that this module imported under two
    names (``airflow_server`` and ``tests.airflow_server``) still migrates once.
    """
    template = Path(tempfile.gettempdir()) / f"kak-airflow-db-{os.getpid()}"
    template.mkdir(exist_ok=True)
    database = template / "airflow.db"
    with (template / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not database.exists():
            atexit.register(shutil.rmtree, template, ignore_errors=True)
            migrate(template, database, timeout)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, target)


def migrate(home: Path, database: Path, timeout: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'building.db'}",
    }
    done = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}")
    (home / "building.db").rename(database)  # complete, or absent


SMTP_CONN_ID = "kak_test_smtp"


@dataclass
class AirflowServer:
    """Airflow with SQLite and LocalExecutor in ``home``; DAGs are read from ``home/dags``."""

    home: Path
    port: int = field(default_factory=free_port)
    log_server_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    """Where the deployment's SMTP connection, ``SMTP_CONN_ID``, points: a test's mail server."""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def logs_folder(self) -> Path:
        return self.home / "component-logs"

    def environment(self) -> dict[str, str]:
        # Nothing of the calling process's Airflow settings (unit test mode, its own home) leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        passwords = self.home / "passwords.json"
        settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": self.secret("secret_key"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secret("jwt_secret"),
            # New files are found within 2 s and a changed file is parsed again at once (files
            # go by modification time); re-parsing unchanged files every 2 s would keep a
            # third of a core busy for the whole session.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__FILE_PARSING_SORT_MODE": "modified_time",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "0",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_port),
            "KEDRO_DISABLE_TELEMETRY": "true",
            # The mail tests' SMTP connection comes from the deployment's environment: made
            # through the REST API just before a run, it was at times not found by the DAG
            # processor, which runs DAG-level callbacks, on this SQLite database.
            f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}": json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": self.smtp_port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10},
                }
            ),
        }
        return env | settings

    def secret(self, name: str) -> str:
        path = self.home / f".{name}"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
        return path.read_text()

    def start(self, timeout: float = 180.0) -> None:
        """Migrate the database, start the three components and wait until all are healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(exist_ok=True)
        self.logs_folder.mkdir(exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({u: u for u in USERS}))
        env = self.environment()
        migrated_database(self.home / "airflow.db", timeout)
        for name, args in COMPONENTS.items():
            log = (self.logs_folder / f"{name}.log").open("w")
            command = [str(VENV_BIN / "airflow")] + [a.format(port=self.port) for a in args]
            self.processes[name] = subprocess.Popen(
                command,
                env=env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches the workers
            )
            log.close()
        self.wait_healthy(timeout)
        self.check_loopback_only()

    def listening(self) -> list[tuple[str, str, int]]:
        """(process, address, port) of every socket a component or its workers listens on."""
        import psutil

        found = []
        for process in self.processes.values():
            try:
                parent = psutil.Process(process.pid)
                family = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in family:
                try:
                    connections = member.net_connections(kind="inet")
                    name = " ".join(member.cmdline()[:3])
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                for conn in connections:
                    if conn.status == psutil.CONN_LISTEN:
                        found.append((name, conn.laddr.ip, conn.laddr.port))
        return found

    def check_loopback_only(self) -> None:
        """Tests reach nothing but 127.0.0.1, and nothing they start is reachable from outside."""
        listening = self.listening()
        exposed = [entry for entry in listening if entry[1] not in LOOPBACK]
        if exposed:
            raise RuntimeError(f"Airflow listens beyond loopback: {exposed}")
        if not any(port == self.port for _, _, port in listening):
            raise RuntimeError(f"the API server does not listen on 127.0.0.1:{self.port}")

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as r:
                    health = json.load(r)
                states = {part: health.get(part, {}).get("status") for part in NEEDED}
                if all(state == "healthy" for state in states.values()):
                    return
                last = str(states)
            except (OSError, urllib.error.URLError, ValueError) as error:
                last = str(error)
            time.sleep(1)
        raise RuntimeError(f"Airflow at {self.url} is not healthy after {timeout:.0f}s: {last}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for process in self.processes.values():
            try:  # workers the component left behind in its group
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in sorted(self.logs_folder.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"===== {path} (last {len(text)} lines) =====\n" + "\n".join(text))
        return "\n".join(parts)

    def api(self, method: str, path: str, body: object = None, user: str = "admin") -> dict:
        """Call /api/v2``path`` as ``user``; the JSON answer."""
        request = urllib.request.Request(
            f"{self.url}/api/v2{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token(user)}",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def wait_for(self, what: str, check, timeout: float = 120.0, every: float = 1.0):
        """Poll ``check()`` until it returns something truthy; that value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}\n{self.log_tail()}"
        )

    def token(self, user: str = "admin") -> str:
        request = urllib.request.Request(
            f"{self.url}/auth/token",
            data=json.dumps({"username": user, "password": user}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["access_token"]


class LoopbackProxy:
    """A TCP relay on 127.0.0.1 to ``target``; ``cut()`` makes the target unreachable through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._open = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.restore()
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._open.wait(0.1):
                continue
            with socket.create_server(("127.0.0.1", self.port)) as server:
                server.settimeout(0.1)
                while self._open.is_set() and not self._stop.is_set():
                    try:
                        client, _ = server.accept()
                    except TimeoutError:
                        continue
                    upstream = socket.create_connection(("127.0.0.1", self.target_port))
                    with self._lock:
                        self._sockets += [client, upstream]
                    threading.Thread(
                        target=self._pipe, args=(client, upstream), daemon=True
                    ).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while self._open.is_set():
                ready, _, _ = select.select(list(pair), [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def cut(self) -> None:
        """Refuse new connections and drop open ones, as a network outage would."""
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.cut()
        self._stop.set()
        self._thread.join(5)


SERVER = pytest.StashKey["AirflowServer | RuntimeError"]()


def session_airflow(config: pytest.Config, factory: pytest.TempPathFactory) -> AirflowServer:
    """The session's one Airflow, started on first use and stopped when the session ends.

    Pytest makes a fixture per module that imports it, session-scoped or not; keeping the
    server in the session's stash gives every such module the same server.
    """
    if SERVER not in config.stash:
        server = AirflowServer(factory.mktemp("airflow-home"))
        started = time.monotonic()
        config.add_cleanup(server.stop)
        try:
            server.start()
        except Exception as error:  # every later user fails at once with the same reason
            failed = RuntimeError(f"Airflow did not start: {error}\n{server.log_tail()}")
            config.stash[SERVER] = failed
            raise failed from error
        print(f"\nAirflow healthy at {server.url} after {time.monotonic() - started:.0f}s")
        config.stash[SERVER] = server
    found = config.stash[SERVER]
    if isinstance(found, RuntimeError):
        raise found
    return found


@pytest.fixture(scope="session")
def airflow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AirflowServer:
    """One Airflow for the whole session; its logs stay in its home under the pytest tmp dir."""
    return session_airflow(request.config, tmp_path_factory)


if __name__ == "__main__":  # python tests/airflow_server.py <home>: start one by hand
    import tempfile

    server = AirflowServer(Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops the components
    started = time.monotonic()
    try:
        server.start()
        print(f"healthy at {server.url} after {time.monotonic() - started:.1f}s; Ctrl-C stops")
        signal.pause()
    except BaseException:
        print(server.log_tail())
        raise
    finally:
        server.stop()
