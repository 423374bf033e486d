"""Spark artifacts: what goes into the wheel and conf archive, how they are named, and that the
entry and init scripts really work."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from kedro_airflow_k8s.artifacts import (
    ArtifactSet,
    build_artifacts,
    conf_archive,
    git_version,
    render_entry_script,
    render_init_script,
    select_conf_files,
    warn_local_paths,
)
from kedro_airflow_k8s.build import prune_artifacts
from kedro_airflow_k8s.config import RunConfig
from kedro_airflow_k8s.errors import UserError
from kedro_airflow_k8s.publish import publish
from tests.spark_projects import SIMPLE_CATALOG, SIMPLE_NODES, config

PACKAGE = "spark_tiny"
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
slow = pytest.mark.slow  # builds the project wheel or starts Kedro in a subprocess: seconds

NODES = """
from pathlib import Path


def _mark(marker_dir, name, text):
    folder = Path(marker_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def first(marker_dir, greeting):
    _mark(marker_dir, "first", greeting)
    return greeting


def second(marker_dir, value):
    _mark(marker_dir, "second", value)
    return value + "!"


def third(marker_dir, value):
    _mark(marker_dir, "third", value)


def broken(marker_dir):
    raise RuntimeError("boom in broken node")
"""

REGISTRY = """
from kedro.pipeline import Pipeline, node

from .nodes import broken, first, second, third


def register_pipelines():
    main = Pipeline(
        [
            node(first, ["params:marker_dir", "params:greeting"], "value_1", name="first"),
            node(second, ["params:marker_dir", "value_1"], "value_2", name="second"),
            node(third, ["params:marker_dir", "value_2"], None, name="third"),
        ]
    )
    failing = Pipeline([node(broken, "params:marker_dir", None, name="broken")])
    return {"__default__": main, "failing": failing}
"""

# Files and directories that must never reach the cluster; each is checked on its own.
PLANTED = [
    "conf/local/credentials.yml",
    "conf/local/parameters.yml",
    "conf/base/credentials.yml",
    "conf/base/my_secret.yml",
    "conf/base/api_token.yml",
    "conf/base/tls.key",
    "conf/prod/server.pem",
    "conf/prod/.env.prod",
    "conf/base/.ipynb_checkpoints/catalog-checkpoint.yml",
    "conf/base/__pycache__/cached.yml",
    "conf/base/data/sample.json",
    "conf/base/env/pyvenv.cfg",
    "conf/base/env/settings.yml",
    ".env",
    "server.pem",
    "data/01_raw/customers.csv",
    ".venv/pyvenv.cfg",
    ".venv/lib/site.yml",
    f"src/{PACKAGE}/__pycache__/nodes.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
]
EXPECTED_ARCHIVE = {
    "conf",
    "conf/base",
    "conf/base/catalog.yml",
    "conf/base/parameters.yml",
    "conf/base/nested",
    "conf/base/nested/extra.json",
    "conf/local",
    "conf/prod",
    "conf/prod/parameters.yml",
}


def write_project(root: Path) -> Path:
    """A tiny real Kedro 1.x project whose nodes leave marker files behind."""
    src = root / "src" / PACKAGE
    src.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{PACKAGE}"
            version = "0.1.0"
            dependencies = []

            [tool.setuptools.packages.find]
            where = ["src"]

            [tool.kedro]
            package_name = "{PACKAGE}"
            project_name = "Spark Tiny"
            kedro_init_version = "1.0.0"
            """
        )
    )
    (src / "__init__.py").write_text("")
    (src / "settings.py").write_text("")
    (src / "nodes.py").write_text(NODES)
    (src / "pipeline_registry.py").write_text(REGISTRY)
    (root / "src" / "cluster").mkdir()
    (root / "src" / "cluster" / "pre.sh").write_text(
        '#!/bin/bash\necho "user-init PROJECT_HOME=$PROJECT_HOME" >> "$INIT_LOG"\n'
    )
    (root / "src" / "cluster" / "post.sh").write_text('echo "user-post" >> "$INIT_LOG"\n')
    for rel, text in {
        "conf/base/catalog.yml": "{}\n",
        "conf/base/parameters.yml": "marker_dir: markers\ngreeting: base\n",
        "conf/base/nested/extra.json": "{}\n",
        "conf/base/notes.bin": "binary-ish\n",
        "conf/prod/parameters.yml": "greeting: prod\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def plant(root: Path) -> None:
    for rel in PLANTED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"password: {rel}\n")


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout.strip()


def commit_all(root: Path) -> str:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    return git(root, "rev-parse", "--short=12", "HEAD")


def run_config(**spark) -> RunConfig:
    return RunConfig(image="img:1", namespace="ns", spark={"type": "dataproc", **spark})


SPARK_SETTINGS = {
    "type": "dataproc",
    "conf_include": ["nested/*.json"],
    "user_init_path": "cluster/pre.sh",
    "user_post_init_path": "cluster/post.sh",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project with every planted secret, in a git repo whose tree is dirty."""
    root = write_project(tmp_path_factory.mktemp("project"))
    if GIT:
        commit_all(root)
    plant(root)
    return root


@pytest.fixture(scope="module")
def bucket(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bucket")


@pytest.fixture(scope="module")
def built(project: Path, bucket: Path, tmp_path_factory) -> ArtifactSet:
    out = tmp_path_factory.mktemp("out")
    return build_artifacts(project, PACKAGE, "prod", run_config(**SPARK_SETTINGS), out, str(bucket))


def archive_names(artifacts: ArtifactSet) -> set[str]:
    with tarfile.open(artifacts.conf.path) as tar:
        return {member.name for member in tar.getmembers()}


def wheel_names(artifacts: ArtifactSet) -> set[str]:
    with zipfile.ZipFile(artifacts.wheel.path) as wheel:
        return set(wheel.namelist())


def shipped_text(artifacts: ArtifactSet) -> str:
    """Every byte that leaves the machine, decompressed, as one string."""
    parts = [artifacts.entry.path.read_text(), artifacts.init.path.read_text()]
    with tarfile.open(artifacts.conf.path) as tar:
        parts += [tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()]
    with zipfile.ZipFile(artifacts.wheel.path) as wheel:
        parts += [wheel.read(name).decode(errors="replace") for name in wheel.namelist()]
    return "\n".join(parts)


# --- conf archive --------------------------------------------------------------------------


@slow
def test_conf_archive_holds_exactly_base_and_env_config(built):
    assert archive_names(built) == EXPECTED_ARCHIVE


@slow
@pytest.mark.parametrize("planted", PLANTED)
def test_planted_secret_never_leaves_the_machine(built, planted):
    assert f"password: {planted}" not in shipped_text(built)
    name = Path(planted).name
    shipped = archive_names(built) | wheel_names(built)
    assert not any(path == name or path.endswith("/" + name) for path in shipped - EXPECTED_ARCHIVE)
    assert planted not in shipped


@slow
def test_left_out_config_files_are_reported_with_a_reason(built):
    reasons = dict(built.excluded)
    assert "credentials never leave the machine" in reasons["conf/base/credentials.yml"]
    assert "conf_include" in reasons["conf/base/notes.bin"]
    assert "virtual environments" in reasons["conf/base/env/"]
    assert not any(path.startswith("conf/local") for path in reasons)


def test_conf_archive_is_byte_for_byte_deterministic(project):
    included, _ = select_conf_files(project / "conf", "prod")
    first = conf_archive(project / "conf", included, "prod")
    os.utime(project / "conf/base/parameters.yml", (1, 1))
    assert conf_archive(project / "conf", included, "prod") == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {
            (315532800, 0, 0, "")
        }


@slow
def test_env_local_ships_base_only_with_a_warning(project, tmp_path):
    included, _ = select_conf_files(project / "conf", "local")
    assert included == ["conf/base/catalog.yml", "conf/base/parameters.yml"]
    artifacts = build_artifacts(project, PACKAGE, "local", run_config(), tmp_path, None)
    assert any("env 'local' is never packaged" in warning for warning in artifacts.warnings)
    assert "conf/local/credentials.yml" not in archive_names(artifacts)
    assert "conf/local" in archive_names(artifacts)  # empty, so Kedro's default env resolves


def test_unknown_env_is_refused_before_building(project, tmp_path):
    with pytest.raises(UserError, match="conf/staging does not exist"):
        build_artifacts(project, PACKAGE, "staging", run_config(), tmp_path, None)
    assert list(tmp_path.iterdir()) == []


# --- wheel -----------------------------------------------------------------------------------


@slow
def test_wheel_is_an_installable_zip_of_the_package(built):
    assert built.wheel.path.is_file()
    assert built.wheel.name == f"{PACKAGE}-0.1.0-py3-none-any.whl"
    names = wheel_names(built)
    assert f"{PACKAGE}/nodes.py" in names
    assert f"{PACKAGE}-0.1.0.dist-info/METADATA" in names
    assert f"{PACKAGE}-0.1.0.dist-info/WHEEL" in names


@slow
def test_wheel_build_does_not_touch_the_project(project, built):
    assert not (project / "build").exists()
    assert not list((project / "src").glob("*.egg-info"))


def test_wheel_with_a_secret_looking_data_file_is_refused(tmp_path):
    from kedro_airflow_k8s.artifacts import scan_wheel

    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/tokenizer.py", "")
        archive.writestr("pkg/tokenizer.json", "{}")  # package data, not a secret
        archive.writestr("pkg/conf/credentials.yml", "")
    found = [str(finding) for finding in scan_wheel(wheel)]
    assert found == [
        f"{wheel.name}:pkg/conf/credentials.yml line 1: a file whose name looks like a secret"
    ]


def test_missing_build_backend_is_named(tmp_path):
    root = write_project(tmp_path / "p")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace("setuptools.build_meta", "nope_backend.api"))
    with pytest.raises(UserError, match="'nope_backend.api' is not installed"):
        build_artifacts(root, PACKAGE, "base", run_config(), tmp_path / "out", None)


# --- content addressing ----------------------------------------------------------------------


@slow
@needs_git
def test_clean_git_tree_gives_the_commit_sha(tmp_path):
    root = write_project(tmp_path / "clean")
    sha = commit_all(root)
    out = root / "build" / "artifacts"  # inside the project, yet it must not make it dirty
    artifacts = build_artifacts(root, PACKAGE, "prod", run_config(), out, "gs://b/a")
    assert artifacts.version == sha
    assert artifacts.urls("gs://b/a/") == {
        "wheel": f"gs://b/a/{sha}/{PACKAGE}-0.1.0-py3-none-any.whl",
        "conf": f"gs://b/a/{sha}/conf-{PACKAGE}-prod-{sha}.tar.gz",
        "entry": f"gs://b/a/{sha}/spark_run-{PACKAGE}-{sha}.py",
        "init": f"gs://b/a/{sha}/init-{PACKAGE}-prod-{sha}.sh",
    }
    assert git_version(root, [], out) == sha  # a second compile still sees a clean tree


@slow
def test_dirty_tree_gives_a_content_hash(built):
    assert built.version.startswith("h") and len(built.version) == 13
    assert all(built.version in a.path.parts for a in built)


@needs_git
def test_git_version_needs_every_shipped_file_tracked(tmp_path):
    root = write_project(tmp_path / "p")
    (root / ".gitignore").write_text("conf/base/ignored.yml\n")
    sha = commit_all(root)
    (root / "conf/base/ignored.yml").write_text("a: 1\n")
    assert git_version(root, [root / "conf/base/parameters.yml"]) == sha
    assert git_version(root, [root / "conf/base/ignored.yml"]) is None
    (root / "conf/base/parameters.yml").write_text("changed: 1\n")
    assert git_version(root, [root / "conf/base/parameters.yml"]) is None


def test_git_version_outside_a_repository_is_none(tmp_path):
    assert git_version(write_project(tmp_path), []) is None


@slow
def test_same_content_gives_same_names_and_bytes(project, built, tmp_path):
    again = build_artifacts(
        project, PACKAGE, "prod", run_config(**SPARK_SETTINGS), tmp_path, built.artifacts_url
    )
    assert again.version == built.version
    for first, second in zip(built, again, strict=True):
        assert first.name == second.name
        assert first.path.read_bytes() == second.path.read_bytes()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temp files


# --- init script -----------------------------------------------------------------------------


@slow
def test_init_script_runs_user_init_then_install_then_user_post(built):
    text = built.init.path.read_text()
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert text.index("set -euo pipefail") < text.index("user-init PROJECT_HOME")
    assert text.index("user-init PROJECT_HOME") < text.index("# ---- kedro-airflow-k8s: install")
    assert text.index("# ---- end of kedro-airflow-k8s") < text.index('echo "user-post"')
    assert text.count("#!") == 1  # the user script's own shebang is dropped
    assert subprocess.run(["bash", "-n", str(built.init.path)]).returncode == 0


@pytest.mark.parametrize("key", ["user_init_path", "user_post_init_path"])
def test_missing_user_script_names_key_and_path(project, tmp_path, key):
    settings = {**SPARK_SETTINGS, key: "cluster/absent.sh"}
    with pytest.raises(UserError) as error:
        build_artifacts(project, PACKAGE, "prod", run_config(**settings), tmp_path, None)
    assert f"run_config.spark.{key}" in str(error.value)
    assert str(project / "src" / "cluster" / "absent.sh") in str(error.value)


@slow
@pytest.mark.parametrize("scheme", ["path", "file://"])
def test_init_script_installs_wheel_and_conf_from_the_artifacts_url(
    built, bucket, tmp_path, scheme
):
    dag = tmp_path / "demo.py"
    dag.write_text("# the DAG\n")
    publish(dag, str(tmp_path / "dags") + "/", built, str(bucket), echo=lambda _: None)
    log = tmp_path / "init.log"
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/bin/bash\necho "python $*" >> {log}\n')
    fake_python.chmod(0o755)
    (tmp_path / "spark").mkdir()
    (tmp_path / "spark" / "spark-env.sh").write_text("")
    (tmp_path / "profile").mkdir()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "INIT_LOG": str(log),
        "KEDRO_PYTHON": str(fake_python),
        "PROJECT_HOME": str(home),
        "KEDRO_PROFILE_DIR": str(tmp_path / "profile"),
        "SPARK_CONF_DIR": str(tmp_path / "spark"),
    }
    if scheme == "file://":
        env["KEDRO_ARTIFACTS_URL"] = f"file://{bucket}"
    result = subprocess.run(["bash", str(built.init.path)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    steps = log.read_text().splitlines()
    assert steps[0] == f"user-init PROJECT_HOME={home}"
    assert steps[1].startswith("python -m pip install") and steps[1].endswith(built.wheel.name)
    assert "--force-reinstall" in steps[2]
    assert steps[3] == "user-post"
    assert (home / "conf/prod/parameters.yml").read_text() == "greeting: prod\n"
    assert not (home / "conf/base/credentials.yml").exists()
    assert (home / "conf/local").is_dir() and not list((home / "conf/local").iterdir())
    assert (home / "spark_run.py").read_bytes() == built.entry.path.read_bytes()
    export = f"export PROJECT_HOME={home}"
    assert (tmp_path / "profile" / f"kedro-{PACKAGE}.sh").read_text().strip() == export
    assert (tmp_path / "spark" / "spark-env.sh").read_text().strip() == export


def test_init_script_without_artifacts_url_stops_with_a_hint(tmp_path):
    script = tmp_path / "init.sh"
    script.write_text(
        render_init_script(
            package_name=PACKAGE,
            version="v1",
            artifacts_url="",
            wheel_name="w.whl",
            conf_name="c.tar.gz",
            entry_name="e.py",
        )
    )
    env = {**os.environ, "PROJECT_HOME": str(tmp_path / "home")}
    env.pop("KEDRO_ARTIFACTS_URL", None)
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "run_config.spark.artifacts_path" in result.stderr


# --- entry script ----------------------------------------------------------------------------


def run_entry(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, str(script), "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", **(env or {})},
        timeout=120,
    )


@slow
def test_entry_script_runs_exactly_the_named_nodes(built, project, tmp_path):
    shutil.rmtree(project / "markers", ignore_errors=True)
    result = run_entry(
        built.entry.path,
        *("--project-path", str(project), "--env", "prod", "--nodes", "first,second"),
        *("--runner", "ThreadRunner"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    markers = project / "markers"  # relative catalog paths resolve in the project, as in kedro run
    assert sorted(p.name for p in markers.iterdir()) == ["first", "second"]
    assert (markers / "first").read_text() == "prod"


@slow
def test_entry_script_runs_the_installed_package_from_the_conf_archive(built, project, tmp_path):
    home = tmp_path / "home"  # like the cluster: no pyproject.toml, the package on the path
    home.mkdir()
    out = tmp_path / "out"
    result = run_entry(
        built.entry.path,
        *("--conf-source", str(built.conf.path), "--env", "prod", "--node", "first"),
        *("--runner", "kedro.runner.SequentialRunner"),
        *("--params", f"marker_dir={out},greeting=hello"),
        cwd=tmp_path,
        env={"PROJECT_HOME": str(home), "PYTHONPATH": str(project / "src")},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["first"]
    assert (out / "first").read_text() == "hello"


@pytest.mark.e2e
def test_entry_script_runs_under_spark_submit(built, project, tmp_path):
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("spark-submit needs Java")
    out = tmp_path / "markers"
    result = subprocess.run(
        [
            str(Path(pyspark.__file__).parent / "bin" / "spark-submit"),
            *("--master", "local[1]", str(built.entry.path), "run"),
            *("--project-path", str(project), "--env", "prod", "--nodes", "first,second"),
            *("--runner", "ThreadRunner", "--params", f"marker_dir={out}"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "true",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["first", "second"]


@slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pipelines", "failing", "--nodes", "broken"), "RuntimeError: boom in broken node"),
        # DAGs compiled before the --pipelines spelling keep working.
        (("--pipeline", "failing", "--nodes", "broken"), "RuntimeError: boom in broken node"),
        (("--nodes", "nonexistent"), "nonexistent"),
    ],
)
def test_entry_script_failure_exits_non_zero_with_the_message(built, project, args, message):
    result = run_entry(built.entry.path, "--project-path", str(project), *args, cwd=project)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("spark_run: ") and message in last


def test_entry_script_splits_default_node_names_on_outer_commas(tmp_path):
    namespace: dict = {}
    exec(render_entry_script(PACKAGE), namespace)  # noqa: S102 - our own generated script
    split = namespace["split_node_names"]
    assert split("f([a,b]) -> [c],g") == ["f([a,b]) -> [c]", "g"]
    assert namespace["parse_params"]("a.b=1,c=x") == {"a": {"b": 1}, "c": "x"}


# --- local paths -----------------------------------------------------------------------------

PATHS = {
    "raw": "data/01_raw/raw.parquet",
    "cloud": "gs://bucket/raw.parquet",
    "hdfs": "hdfs://nn/raw",
    "absolute": "/mnt/shared/raw",
    "memory": None,
}


def test_remote_cluster_warns_about_relative_local_paths():
    assert warn_local_paths(PATHS, visible=False) == [
        "1 Spark dataset on a relative local path the Spark cluster cannot see: "
        "raw (data/01_raw/raw.parquet); use a shared filesystem URL (gs://, s3://, hdfs://)"
    ]


def test_many_local_paths_give_one_summary_line():
    paths = {f"table_{n}": f"data/table_{n}.csv" for n in range(8)}
    (warning,) = warn_local_paths(paths, visible=False)
    assert warning.startswith("8 Spark datasets on a relative local path")
    assert "table_4 (data/table_4.csv) and 3 more;" in warning


def test_local_backends_do_not_warn():
    assert warn_local_paths(PATHS, visible=True) == []


@pytest.mark.parametrize(
    ("spark", "visible"),
    [
        ({"type": "none"}, True),
        ({"type": "standalone"}, True),
        ({"type": "dataproc"}, False),
        ({"type": "k8s"}, False),
        ({"type": "k8s", "deploy_mode": "client"}, False),
        ({"type": "spark-operator"}, False),
        ({"type": "custom", "operator_factory": "a.B"}, False),
    ],
)
def test_the_backend_registry_says_who_sees_local_paths(spark, visible):
    from kedro_airflow_k8s.spark.registry import backend_of

    section = RunConfig(image="i", namespace="n", spark=spark).spark
    assert backend_of(section).sees_local_paths(section) is visible


def fake_version(folder: Path, package: str, version: str, age: int) -> Path:
    """A version folder as build_artifacts leaves it, written ``age`` hours ago."""
    target = folder / version
    target.mkdir(parents=True)
    (target / f"spark_run-{package}-{version}.py").write_text("")
    stamp = time.time() - age * 3600
    os.utime(target, (stamp, stamp))
    return target


def test_prune_keeps_current_and_previous_version_of_the_package_only(tmp_path):
    for version, age in [("v1", 5), ("v2", 4), ("v3", 3), ("v4", 2)]:
        fake_version(tmp_path, "demo", version, age)
    fake_version(tmp_path, "other_project", "x1", 9)
    (tmp_path / ".build-leftover").mkdir()

    removed = prune_artifacts(tmp_path, "demo", current={"v2"})

    assert sorted(p.name for p in removed) == ["v1", "v3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".build-leftover", "v2", "v4", "x1"]


def test_compile_prunes_artifact_versions_older_than_the_previous(make_project, cli):
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config({"type": "standalone", "resources": {"big": {"driver_memory": "1g"}}}),
    )
    artifacts_dir = project / "dags" / ".kedro-airflow-k8s"
    package = project.name
    oldest = fake_version(artifacts_dir, package, "h000000000001", age=3)
    previous = fake_version(artifacts_dir, package, "h000000000002", age=2)

    result = cli(project, "compile")

    assert result.exit_code == 0, result.output
    versions = sorted(p.name for p in artifacts_dir.iterdir() if not p.name.startswith("."))
    assert previous.name in versions and oldest.name not in versions
    assert len(versions) == 2
    (current,) = set(versions) - {previous.name}
    assert (artifacts_dir / current / f"spark_run-{package}-{current}.py").is_file()
    assert f"Removed Spark artifacts {oldest.name}" in result.output
