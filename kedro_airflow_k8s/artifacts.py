"""What a Spark cluster needs to run the project's nodes: wheel, conf, entry and init scripts."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kedro_airflow_k8s.atomic import write_if_changed
from kedro_airflow_k8s.conf_allowlist import select_conf_files
from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.credential_scan import Finding, scan_bytes, secret_path
from kedro_airflow_k8s.credential_scan import describe as describe_findings
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.spark_scripts import render_entry_script, render_init_script, user_script
from kedro_airflow_k8s.wheel import FIXED_EPOCH, build_wheel, scan_wheel, wheel_digest

__all__ = [  # the wheel and the scripts are built by their own modules
    "Artifact",
    "ArtifactSet",
    "build_artifacts",
    "build_wheel",
    "conf_archive",
    "git_version",
    "render_entry_script",
    "render_init_script",
    "scan_wheel",
    "select_conf_files",
    "warn_local_paths",
]


@dataclass(frozen=True)
class Artifact:
    """One file of the set: ``name`` is its file name, ``path`` where it lies locally."""

    name: str
    path: Path
    kind: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass(frozen=True)
class ArtifactSet:
    """The four artifacts of one version; they live under ``<base_url>/<version>/``.

    ``artifacts_url`` is the base URL written into the init script (None: the
    cluster must set KEDRO_ARTIFACTS_URL); ``warnings`` are for the user;
    ``excluded`` lists the config files left out of the archive, with why.
    """

    version: str
    wheel: Artifact
    conf: Artifact
    entry: Artifact
    init: Artifact
    artifacts_url: str | None = None
    warnings: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()

    def __iter__(self) -> Iterator[Artifact]:
        # Upload order: the init script last, since it is what refers to the others.
        return iter((self.wheel, self.conf, self.entry, self.init))

    def key(self, artifact: Artifact) -> str:
        """Where ``artifact`` goes relative to the base URL."""
        return f"{self.version}/{artifact.name}"

    def urls(self, base_url: str) -> dict[str, str]:
        """Kind ("wheel", "conf", "entry", "init") -> URL of that artifact under ``base_url``."""
        base = base_url.rstrip("/")
        return {artifact.kind: f"{base}/{self.key(artifact)}" for artifact in self}


def build_artifacts(
    project_path: Path,
    package_name: str,
    env: str,
    run_config: RunConfig,
    out_dir: Path,
    artifacts_url: str | None = None,
    conf_source: str = "conf",
    config_patterns: Mapping[str, Sequence[str]] | None = None,
) -> ArtifactSet:
    """Build the project wheel, conf archive, entry and init scripts into ``out_dir/<version>/``.

    ``artifacts_url`` is the base URL the artifacts will be published to (usually
    ``run_config.spark.artifacts_path``); the init script fetches them from there.
    ``config_patterns`` are the project's config-loader patterns: the conf archive
    holds what they match plus ``run_config.spark.conf_include``. A credential in
    any shipped file refuses the build before anything is written. Every file
    appears whole or not at all.
    """
    if not package_name.isidentifier():
        raise UserError(f"'{package_name}' is not a Python package name")
    project_path = Path(project_path).resolve()
    out_dir = Path(out_dir).resolve()
    conf_dir = project_path / conf_source
    warnings: list[str] = []
    included, excluded = select_conf_files(
        conf_dir, env, config_patterns, run_config.spark.conf_include
    )
    excluded += [(rel, "its name looks like a secret") for rel in included if secret_path(rel)]
    included = [rel for rel in included if not secret_path(rel)]
    if env == "local":
        warnings.append(
            f"env 'local' is never packaged (it holds credentials): the Spark cluster gets "
            f"{conf_source}/base only; compile with --env <name> to ship another env"
        )
    elif env != "base" and not (conf_dir / env).is_dir():
        raise UserError(
            f"{conf_dir / env} does not exist: create it or compile with an env that exists"
        )
    user_init = user_script(project_path, run_config.spark.user_init_path, "user_init_path")
    user_post = user_script(
        project_path, run_config.spark.user_post_init_path, "user_post_init_path"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as scratch:
        findings = scan_conf_files(conf_dir, included)
        wheel_path = build_wheel(project_path, Path(scratch), exclude=out_dir)
        findings += scan_wheel(wheel_path)
        if findings:
            raise UserError(
                describe_findings(findings, "The Spark artifacts (conf archive, wheel)")
            )
        conf_bytes = conf_archive(conf_dir, included, env)
        entry_text = render_entry_script(package_name)

        def init_text(version: str) -> str:
            names = artifact_names(package_name, env, version)
            return render_init_script(
                package_name=package_name,
                version=version,
                artifacts_url=artifacts_url or "",
                wheel_name=wheel_path.name,
                conf_name=names["conf"],
                entry_name=names["entry"],
                conf_root=conf_dir.name,
                python=run_config.spark.python or "python3",
                user_init=user_init,
                user_post=user_post,
            )

        version = git_version(project_path, [conf_dir.parent / rel for rel in included], out_dir)
        if version is None:
            # The init script names the version, so it is hashed with a placeholder in its place.
            parts = (wheel_digest(wheel_path), conf_bytes, entry_text.encode())
            parts += (init_text("{version}").encode(),)
            digest = hashlib.sha256(b"".join(hashlib.sha256(part).digest() for part in parts))
            version = "h" + digest.hexdigest()[:12]
        names = {"wheel": wheel_path.name, **artifact_names(package_name, env, version)}
        contents = {
            "wheel": (wheel_path.read_bytes(), 0o644),
            "conf": (conf_bytes, 0o644),
            "entry": (entry_text.encode(), 0o755),
            "init": (init_text(version).encode(), 0o755),
        }
        target = out_dir / version
        target.mkdir(exist_ok=True)
        made = {}
        for kind, (data, mode) in contents.items():
            made[kind] = Artifact(names[kind], target / names[kind], kind)
            write_if_changed(made[kind].path, data, mode)
    return ArtifactSet(
        version=version,
        **made,
        artifacts_url=artifacts_url,
        warnings=tuple(warnings),
        excluded=tuple(excluded),
    )


def artifact_names(package_name: str, env: str, version: str) -> dict[str, str]:
    """File names of the conf archive and the entry and init scripts of one version.

    The conf archive and init script differ per env, so their names carry it:
    one commit compiled for two envs must not overwrite one with the other.
    """
    env_part = "" if env in ("base", "local") else f"-{env}"
    return {
        "conf": f"conf-{package_name}{env_part}-{version}.tar.gz",
        "entry": f"spark_run-{package_name}-{version}.py",
        "init": f"init-{package_name}{env_part}-{version}.sh",
    }


def scan_conf_files(conf_dir: Path, files: list[str]) -> list[Finding]:
    """Credentials inside the conf files that would ship (paths as ``select_conf_files``)."""
    findings: list[Finding] = []
    for rel in files:
        findings += scan_bytes((conf_dir.parent / rel).read_bytes(), rel)
    return findings


def conf_archive(conf_dir: Path, files: list[str], env: str) -> bytes:
    """A gzipped tar of ``files`` (as ``select_conf_files`` names them); equal content gives
    equal bytes.

    It also holds an empty ``local/`` directory: Kedro refuses an env directory
    that does not exist, and ``local`` is its default env.
    """
    root = PurePosixPath(conf_dir.name)
    dirs = {root, root / "base", root / "local"}
    if env not in ("base", "local"):
        dirs.add(root / env)
    for rel in files:
        dirs.update(PurePosixPath(rel).parents)
    dirs.discard(PurePosixPath("."))
    members = [(str(d), None) for d in dirs] + [(rel, conf_dir.parent / rel) for rel in files]

    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=FIXED_EPOCH) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, source in sorted(members):
                info = tarfile.TarInfo(name)
                info.mtime = FIXED_EPOCH
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if source is None:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                else:
                    data = source.read_bytes()
                    info.size = len(data)
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def git_version(project_path: Path, files: list[Path], out_dir: Path | None = None) -> str | None:
    """The short commit sha if the project's git tree is clean and tracks ``files``, else None.

    ``out_dir`` is left out of the check, so artifacts written into the project
    do not make the next build look dirty.
    """
    if shutil.which("git") is None:
        return None

    def git(*args: str) -> str | None:
        result = subprocess.run(
            ["git", "-C", str(project_path), *args], capture_output=True, text=True
        )
        return result.stdout if result.returncode == 0 else None

    sha = git("rev-parse", "--short=12", "HEAD")
    if not sha:
        return None
    pathspec = ["."]
    if out_dir is not None and out_dir.is_relative_to(project_path):
        pathspec.append(f":(exclude){out_dir.relative_to(project_path).as_posix()}")
    status = git("status", "--porcelain", "--untracked-files=all", "--", *pathspec)
    if status is None or status.strip():
        return None
    # An ignored file in conf/base would ship without being part of the commit.
    tracked = git("ls-files", "--full-name", "-z", "--", *(str(f) for f in files))
    top = git("rev-parse", "--show-toplevel")
    if tracked is None or top is None:
        return None
    top_path = Path(top.strip()).resolve()
    wanted = {f.resolve().relative_to(top_path).as_posix() for f in files}
    if not wanted <= set(tracked.split("\0")):
        return None
    return sha.strip()


def warn_local_paths(filepaths: Mapping[str, str | None], visible: bool) -> list[str]:
    """One warning naming the Spark datasets whose relative local path a remote cluster
    cannot see; none when Spark runs where the project is (``visible``).

    ``filepaths`` maps dataset name to its ``filepath`` (None when it has none).
    """
    if visible:
        return []
    local = []
    for name, filepath in sorted(filepaths.items()):
        if not filepath:
            continue
        path = filepath[len("file://") :] if filepath.startswith("file://") else filepath
        if "://" in path or path.startswith(("/", "~")) or (len(path) > 1 and path[1] == ":"):
            continue
        local.append(f"{name} ({filepath})")
    if not local:
        return []
    shown = ", ".join(local[:5]) + (f" and {len(local) - 5} more" if len(local) > 5 else "")
    count = f"{len(local)} Spark dataset{'s' if len(local) > 1 else ''}"
    return [
        f"{count} on a relative local path the Spark cluster cannot see: {shown}; use a "
        "shared filesystem URL (gs://, s3://, hdfs://)"
    ]
