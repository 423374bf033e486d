"""The Spark cluster's init script and the applications' entry script, from their templates."""

from __future__ import annotations

import shlex
from pathlib import Path

import jinja2

from kedro_airflow_k8s.errors import UserError

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("kedro_airflow_k8s", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)
_TEMPLATES.filters["shquote"] = shlex.quote


def render_entry_script(package_name: str) -> str:
    """``spark_run.py``: the main file of the Spark applications (see the template's docstring)."""
    text = _TEMPLATES.get_template("spark_run.py.j2").render(package_name=package_name)
    compile(text, "spark_run.py", "exec")  # a broken entry script must fail here, not on a cluster
    return text


def render_init_script(
    *,
    package_name: str,
    version: str,
    artifacts_url: str,
    wheel_name: str,
    conf_name: str,
    entry_name: str,
    conf_root: str = "conf",
    python: str = "python3",
    user_init: tuple[str, str] | None = None,
    user_post: tuple[str, str] | None = None,
) -> str:
    """The cluster init script; ``user_init``/``user_post`` are (path shown, shell text)."""
    return _TEMPLATES.get_template("init_script.sh.j2").render(
        package_name=package_name,
        version=version,
        artifacts_url=artifacts_url,
        wheel_name=wheel_name,
        conf_name=conf_name,
        entry_name=entry_name,
        conf_root=conf_root,
        python=python,
        project_home=f"/opt/{package_name}",
        user_init=user_init,
        user_post=user_post,
    )


def user_script(project_path: Path, relative: str | None, key: str) -> tuple[str, str] | None:
    """A user script under src/ as (path shown, shell text without its shebang); None unset."""
    if relative is None:
        return None
    path = project_path / "src" / relative
    if not path.is_file():
        raise UserError(
            f"run_config.spark.{key}: {path} does not exist (the path is relative to "
            f"{project_path / 'src'})"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]  # the init script has its own shebang; a second one is noise
    return f"src/{relative}", "\n".join(lines).strip("\n")
