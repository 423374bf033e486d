"""A real MLflow tracking server on 127.0.0.1 (SQLite store, local artifacts) for e2e tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_support import LOOPBACK, exited, free_port, stop_group

MLFLOW = Path(sys.executable).parent / "mlflow"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# MLflow, in the server and in the tasks, reaches no host but 127.0.0.1: no usage telemetry,
# no background jobs, no download of LiteLLM's model price list.
OFFLINE = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}


@dataclass
class MlflowServer:
    """``mlflow server`` with its store and artifacts under ``workdir``."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "mlflow-server.log"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(MLFLOW), "server",
            "--host", LOOPBACK, "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination", str(self.workdir / "artifacts"),
        ]  # fmt: skip
        env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
        env.update(OFFLINE)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self, timeout: float = 420) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or exited(self.process):
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-3000:]}")
            try:
                with NO_PROXY.open(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"mlflow server not ready in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)

    def api(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``endpoint`` of the REST API with ``payload`` as query, or POST it as JSON."""
        url = f"{self.url}/api/2.0/mlflow/{endpoint}"
        if endpoint.endswith(("get", "get-by-name")):
            request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(payload or {})}")
        else:
            request = urllib.request.Request(
                url,
                data=json.dumps(payload or {}).encode(),
                headers={"Content-Type": "application/json"},
            )
        with NO_PROXY.open(request, timeout=30) as response:
            return json.load(response)

    def runs(self, experiment_name: str) -> list[dict[str, Any]]:
        """Every run of the experiment, as the REST API describes it."""
        found = self.api("experiments/get-by-name", {"experiment_name": experiment_name})
        experiment_id = found["experiment"]["experiment_id"]
        return self.api("runs/search", {"experiment_ids": [experiment_id]}).get("runs", [])


SERVER = pytest.StashKey[MlflowServer]()


def session_mlflow(config: pytest.Config, factory: pytest.TempPathFactory) -> MlflowServer:
    """The session's one MLflow server: started (not yet ready, see ``wait_until_ready``) on
    first use, stopped when the session ends. Tests keep apart by experiment name."""
    if SERVER not in config.stash:
        server = MlflowServer(factory.mktemp("mlflow-server"))
        config.add_cleanup(server.stop)
        server.start()
        config.stash[SERVER] = server
    return config.stash[SERVER]
