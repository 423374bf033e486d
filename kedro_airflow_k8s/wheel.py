"""The project wheel, built as `kedro package` builds it from a clean copy, and its secrets."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kedro_airflow_k8s.conf_allowlist import DENIED_DIRS
from kedro_airflow_k8s.credential_scan import (
    WHEEL_SECRET_PATTERNS,
    Finding,
    looks_secret,
    scan_bytes,
)
from kedro_airflow_k8s.errors import UserError

# Top-level project entries a wheel build never reads; skipping them keeps the copy small.
NOT_FOR_WHEEL = frozenset(
    {"conf", "data", "build", "dist", "logs", "notebooks", "sessions", "mlruns"}
)
# Zip and tar need a date after 1980; a fixed one makes equal content give equal bytes.
FIXED_EPOCH = 315532800


def build_wheel(project_path: Path, dest_dir: Path, exclude: Path | None = None) -> Path:
    """Build the project wheel the way ``kedro package`` does (PEP 517, ``python -m build``).

    The build runs on a copy of the project without data, conf, history or
    environments, so it never writes into the project nor picks up a stale
    ``build/``. It is not isolated (works offline): the build backend must be
    installed here. ``scan_wheel`` says whether it may leave the machine.
    """
    backend = _build_backend(project_path)
    module = backend.split(":")[0].split(".")[0]
    if not _importable(module):
        raise UserError(
            f"the project's build backend '{backend}' is not installed in this Python "
            f"({sys.executable}): install the package that provides '{module}'"
        )
    if not _importable("build"):
        raise UserError(
            f"building the project wheel needs 'build': pip install build ({sys.executable})"
        )
    with tempfile.TemporaryDirectory(prefix="kak-wheel-") as workdir:
        source = Path(workdir) / "project"
        shutil.copytree(
            project_path, source, symlinks=True, ignore=_copy_filter(project_path, exclude)
        )
        out = Path(workdir) / "dist"
        result = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
            cwd=source,
            capture_output=True,
            text=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_EPOCH)},
        )
        wheels = sorted(out.glob("*.whl")) if out.is_dir() else []
        if result.returncode != 0 or len(wheels) != 1:
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise UserError(
                f"building the wheel of {project_path} failed (python -m build --wheel):\n"
                + "\n".join(output)
            )
        return Path(shutil.move(str(wheels[0]), dest_dir / wheels[0].name))


def scan_wheel(wheel: Path) -> list[Finding]:
    """Credentials inside the wheel's files (its own metadata aside), and package data
    named like a secret."""
    findings: list[Finding] = secret_names_in_wheel(wheel)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if ".dist-info/" not in name and not name.endswith("/"):
                findings += scan_bytes(archive.read(name), f"{wheel.name}:{name}")
    return findings


def _copy_filter(project_path: Path, exclude: Path | None):
    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        skipped = set()
        for name in names:
            path = here / name
            if path.is_dir() and (
                name.startswith(".")
                # A package may have a data folder of its own: only the top-level one is left out.
                or name in DENIED_DIRS - {"data"}
                or (path / "pyvenv.cfg").exists()
                or path == exclude
                or (here == project_path and name in NOT_FOR_WHEEL)
            ):
                skipped.add(name)
            elif name.lower().startswith(".env"):
                skipped.add(name)
        return skipped

    return ignore


def secret_names_in_wheel(wheel: Path) -> list[Finding]:
    """Package data whose file or folder name is one that usually holds credentials."""
    with zipfile.ZipFile(wheel) as archive:
        return [
            Finding(f"{wheel.name}:{name}", 1, "a file whose name looks like a secret")
            for name in archive.namelist()
            if not name.endswith((".py", ".pyi", ".pyc", ".so", ".pyd"))
            and ".dist-info/" not in name
            and any(looks_secret(part, WHEEL_SECRET_PATTERNS) for part in name.split("/"))
        ]


def wheel_digest(wheel: Path) -> bytes:
    # Hash the entries, not the zip: the same files give the same version whatever the timestamps.
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.digest()


def _build_backend(project_path: Path) -> str:
    pyproject = project_path / "pyproject.toml"
    if not pyproject.is_file():
        raise UserError(f"{project_path} has no pyproject.toml: it is not a Kedro 1.x project")
    match = re.search(
        r"^\s*build-backend\s*=\s*[\"']([^\"']+)[\"']", pyproject.read_text(), re.MULTILINE
    )
    # PEP 517: without a build-backend key, frontends fall back to setuptools.
    return match.group(1) if match else "setuptools.build_meta:__legacy__"


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
