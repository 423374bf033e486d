"""Screenshot of Airflow's trigger form for the example DAG with Kedro trigger params.

Starts a real Airflow 3 on 127.0.0.1 (tests/airflow_server.py), compiles the example
project into its DAG folder with `trigger_params`, opens the DAG in headless Chromium,
clicks Trigger and writes docs/pages/images/trigger-form.png.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "examples")]

import demo  # noqa: E402
from airflow_server import AirflowServer, free_port  # noqa: E402

TARGET = DOCS / "pages" / "images" / "trigger-form.png"
CHROMIUM = "/usr/bin/chromium"
PARAMS = ["target_uplift", "top_shops_per_region", "min_quantity"]


class OpenAirflow(AirflowServer):
    """Airflow whose UI needs no login, for a screenshot on 127.0.0.1 only."""

    def environment(self) -> dict[str, str]:
        return super().environment() | {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}


def compile_example(work: Path, server: AirflowServer) -> str:
    project = demo.copy_example(work / "project")
    settings = demo.local_settings(project)
    settings["run_config"]["node_runner"] = "local"
    settings["run_config"]["trigger_params"] = PARAMS
    (project / "conf" / "local" / "airflow-k8s.yml").write_text(yaml.safe_dump(settings))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(REPO)}
    command = [str(demo.BIN / "kedro"), "airflow-k8s", "compile"]
    subprocess.run(
        [*command, "--output-dir", str(server.dags_folder)],
        cwd=project,
        env=env,
        check=True,
    )
    (dag_file,) = server.dags_folder.glob("*.py")
    return dag_file.stem


def wait_for_dag(server: AirflowServer, dag_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(server.home / "airflow.db") as db:
            if db.execute("SELECT 1 FROM dag WHERE dag_id = ?", (dag_id,)).fetchone():
                return
        time.sleep(2)
    raise TimeoutError(f"Airflow did not parse {dag_id}:\n{server.log_tail()}")


class Browser:
    """Headless Chromium driven over the DevTools protocol on 127.0.0.1."""

    def __init__(self, profile: Path) -> None:
        import websocket

        port = free_port()
        self.process = subprocess.Popen(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={port}",
                "--window-size=1280,1100", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        pages = self._pages(port)
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    @staticmethod
    def _pages(port: int) -> list[dict]:
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as r:
                    pages = [p for p in json.load(r) if p.get("type") == "page"]
                if pages:
                    return pages
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError("Chromium's DevTools endpoint did not answer")

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(1)
        raise TimeoutError(f"page never satisfied: {expression}")

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


FIND_TRIGGER = (
    "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Trigger')"
)


def screenshot(url: str, profile: Path) -> bytes:
    browser = Browser(profile)
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=url)
        browser.wait_for(f"!!{FIND_TRIGGER}")
        browser.evaluate(f"{FIND_TRIGGER}.click()")
        browser.wait_for("document.body.innerText.includes('target_uplift')")
        time.sleep(2)  # let the dialog finish its opening animation
        # The params form is folded under "Run Parameters"; open it where it is folded.
        browser.evaluate(
            "[...document.querySelectorAll('[role=dialog] button')]"
            ".filter(b => b.textContent.includes('Parameters'))"
            ".forEach(b => b.getAttribute('aria-expanded') === 'false' && b.click())"
        )
        time.sleep(2)
        shot = browser.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])
    finally:
        browser.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kak-screenshot-") as scratch:
        work = Path(scratch)
        server = OpenAirflow(work / "airflow")
        try:
            server.start()
            dag_id = compile_example(work, server)
            wait_for_dag(server, dag_id)
            TARGET.write_bytes(screenshot(f"{server.url}/dags/{dag_id}", work / "chromium"))
        finally:
            server.stop()
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
