"""The conf archive takes what the project's config loader reads (settings.py patterns included)
and run_config.spark.conf_include, from conf/base and the env, never conf/local."""

from __future__ import annotations

from pathlib import Path

from kedro_airflow_k8s.conf_allowlist import matches, select_conf_files
from kedro_airflow_k8s.project import load_project

SETTINGS = 'CONFIG_LOADER_ARGS = {"config_patterns": {"features": ["features*", "features/**"]}}\n'


def touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a: 1\n")


def test_patterns_match_as_the_config_loader_globs_them():
    assert matches("catalog.yml", ["catalog*"])
    assert matches("sub/deeper/catalog_more.yml", ["**/catalog*"])
    assert matches("catalog/x/y.yml", ["catalog*/**"])
    assert not matches("sub/catalog.yml", ["catalog*"])
    assert matches("globals.yml", ["globals.yml"])
    assert not matches("sub/globals.yml", ["globals.yml"])
    assert matches("sql/a/b.sql", ["sql/**/*.sql"]) and matches("sql/b.sql", ["sql/**/*.sql"])


def test_the_project_settings_patterns_decide_what_ships(make_project):
    project = make_project()
    (project / "src" / project.name / "settings.py").write_text(SETTINGS)
    touch(
        project / "conf",
        "base/features.yml",
        "base/features/extra.json",
        "base/unread.yml",
        "prod/features.yml",
        "prod/parameters_model.yml",
        "local/features.yml",
    )
    (project / "conf" / "prod" / "airflow-k8s.yml").write_text("run_config: {}\n")
    patterns = load_project(project, "prod").config_patterns

    included, excluded = select_conf_files(project / "conf", "prod", patterns)

    assert included == [
        "conf/base/catalog.yml",
        "conf/base/features.yml",
        "conf/base/features/extra.json",
        "conf/base/parameters.yml",
        "conf/prod/features.yml",
        "conf/prod/parameters_model.yml",
    ]
    reasons = dict(excluded)
    assert "conf_include" in reasons["conf/base/unread.yml"]
    assert "conf_include" in reasons["conf/base/airflow-k8s.yml"]
    assert not any(path.startswith("conf/local") for path in reasons)


def test_conf_include_adds_files_but_never_credentials(tmp_path):
    touch(
        tmp_path / "conf",
        "base/sql/daily.sql",
        "base/sql/nested/weekly.sql",
        "base/templates/report.j2",
        "base/credentials.yml",
        "base/sql/credentials_db.sql",
        "base/.hidden.sql",
    )

    included, excluded = select_conf_files(
        tmp_path / "conf", "base", None, ["sql/**/*.sql", "templates/*", "credentials*", "*"]
    )

    assert "conf/base/sql/daily.sql" in included
    assert "conf/base/sql/nested/weekly.sql" in included
    assert "conf/base/templates/report.j2" in included
    reasons = dict(excluded)
    assert reasons["conf/base/credentials.yml"] == "credentials never leave the machine"
    assert reasons["conf/base/sql/credentials_db.sql"] == "credentials never leave the machine"
    assert reasons["conf/base/.hidden.sql"] == "hidden files are never packaged"
