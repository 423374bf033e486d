"""The docs stay true to the code: every config key in the reference, every command real."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import sys
import textwrap
import types
import typing
from pathlib import Path

import click
import pytest
import yaml
from pydantic import BaseModel

from kedro_airflow_k8s.cli import commands
from kedro_airflow_k8s.config import PluginConfig, parse_config
from kedro_airflow_k8s.run_check import declared_task_ids
from tests.spark_projects import restore_environ  # noqa: F401 - autouse fixture

REPO = Path(__file__).resolve().parent.parent
PAGES = REPO / "docs" / "pages"
FENCE = re.compile(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"kedro airflow-k8s\b[^;&|#\n]*")
OLDER_PLUGIN = "# older plugin"


def docs_build():
    spec = importlib.util.spec_from_file_location("docs_build", REPO / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def written_pages() -> dict[str, str]:
    """Hand-written pages by path; the generated reference pages are left out."""
    generated = set(docs_build().GENERATED)
    pages = {p.relative_to(PAGES).as_posix(): p for p in PAGES.rglob("*.md")}
    return {name: path.read_text() for name, path in sorted(pages.items()) if name not in generated}


def key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key path of ``model``: nested models, list items ``[]`` and named entries."""
    paths = []
    for name, field in model.model_fields.items():
        path = prefix + name
        paths.append(path)
        annotation, suffix = field.annotation, ""
        members = docs_build().variants(annotation)
        if members:
            for _, member in members:
                paths += [p for p in key_paths(member, f"{path}.") if p not in paths]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if typing.get_origin(annotation) is list:
            annotation, suffix = typing.get_args(annotation)[0], "[]"
        elif typing.get_origin(annotation) is dict:
            annotation, suffix = typing.get_args(annotation)[1], ".<name>"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += key_paths(annotation, f"{path}{suffix}.")
    return paths


def command_mentions(text: str) -> list[str]:
    """Every ``kedro airflow-k8s ...`` in code blocks and inline code, one command each."""
    found = []
    for _, body in FENCE.findall(text):
        found += COMMAND.findall(body.replace("\\\n", " "))
    for span in INLINE.findall(FENCE.sub("", text)):
        found += COMMAND.findall(span)
    return [mention.strip() for mention in found]


def parse_command(mention: str) -> click.Context | None:
    """Parse ``mention`` with the real click commands; None for the bare group name."""
    group = commands.commands["airflow-k8s"]
    args = shlex.split(mention)[2:]
    if not args:
        return None
    ctx = group.make_context("kedro airflow-k8s", args)
    rest = [*getattr(ctx, "_protected_args", ctx.protected_args), *ctx.args]
    if not rest:
        return ctx
    name, command, command_args = group.resolve_command(ctx, rest)
    return command.make_context(name, command_args, parent=ctx)


def test_reference_lists_every_config_key():
    reference = docs_build().config_reference()
    missing = [path for path in key_paths(PluginConfig) if f"`{path}`" not in reference]
    assert not missing, f"keys missing from the configuration reference: {missing}"
    assert len(key_paths(PluginConfig)) > 100


def test_command_reference_lists_every_command_and_option():
    reference = docs_build().commands_reference()
    group = commands.commands["airflow-k8s"]
    for name, command in group.commands.items():
        assert f"## `{name}`" in reference
        for param in command.params:
            if isinstance(param, click.Option):
                assert all(opt in reference for opt in param.opts), (name, param.opts)


def test_every_documented_command_is_real_with_real_options():
    checked = 0
    for page, text in written_pages().items():
        for mention in command_mentions(text):
            try:
                parse_command(mention)
            except click.ClickException as error:
                pytest.fail(f"{page}: `{mention}` does not parse: {error.format_message()}")
            checked += 1
    assert checked > 20


def test_every_command_is_documented():
    mentioned = set()
    for text in written_pages().values():
        for mention in command_mentions(text):
            ctx = parse_command(mention)
            if ctx is not None and ctx.command.name != "airflow-k8s":
                mentioned.add(ctx.info_name)
    missing = sorted(set(commands.commands["airflow-k8s"].commands) - mentioned)
    assert not missing, f"commands no hand-written page shows: {missing}"


def test_config_examples_validate():
    base = {"run_config": {"image": "registry.example.com/project:1", "namespace": "ns"}}
    checked = 0
    for page, text in written_pages().items():
        for language, body in FENCE.findall(text):
            if language != "yaml" or "run_config:" not in body or OLDER_PLUGIN in body:
                continue
            example = yaml.safe_load(textwrap.dedent(body))
            merged = {
                **base,
                **example,
                "run_config": {**base["run_config"], **example["run_config"]},
            }
            parse_config(merged, source=f"an example in docs/pages/{page}")
            checked += 1
    assert checked > 5


def test_python_examples_are_python():
    for page, text in written_pages().items():
        for language, body in FENCE.findall(text):
            if language == "python":
                ast.parse(textwrap.dedent(body), filename=page)


def factory_module(tmp_path, monkeypatch, name: str) -> None:
    """Write the custom-factory page's blocks headed ``# src/acme_pipelines/<name>.py`` into an
    importable package."""
    blocks = [
        textwrap.dedent(body)
        for language, body in FENCE.findall(written_pages()["spark/custom-factory.md"])
        if language == "python" and f"acme_pipelines/{name}.py" in body.splitlines()[0]
    ]
    assert blocks, name
    package = tmp_path / "site" / "acme_pipelines"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / f"{name}.py").write_text("\n".join(blocks))
    monkeypatch.syspath_prepend(str(package.parent))
    for module in [m for m in sys.modules if m.split(".")[0] == "acme_pipelines"]:
        monkeypatch.delitem(sys.modules, module)


def compile_factory_example(make_project, factory: str, options: dict | None = None):
    from tests.spark_projects import SIMPLE_CATALOG, SIMPLE_NODES, compile_to, config

    spark = {
        "type": "custom",
        "operator_factory": f"acme_pipelines.{factory}",
        "resources": {"big": {"executor_instances": 4}},
        "options": options or {},
    }
    project = make_project(
        nodes=SIMPLE_NODES,
        catalog=SIMPLE_CATALOG,
        config=config(spark, macro_params=["ds"], mlflow={"tracking_uri": "http://127.0.0.1:5000"}),
    )
    artifacts = {"entry": "s3://bucket/v1/spark_run.py", "init": "s3://bucket/v1/init.sh"}
    return compile_to(project, artifacts=artifacts)


def provider_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def operator_calls(source: str) -> dict[str, dict[str, ast.expr]]:
    """The keyword arguments of each ``var = Operator(...)`` in the DAG, by task id."""
    calls = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kwargs = {k.arg: k.value for k in node.keywords if k.arg}
            if isinstance(kwargs.get("task_id"), ast.Constant):
                calls[kwargs["task_id"].value] = {"operator": node.func.id, **kwargs}
    return calls


@pytest.mark.parametrize("factory", ["LivyFactory", "AcmeClusterFactory"])
def test_custom_factory_example_compiles(factory, make_project, tmp_path, monkeypatch):
    factory_module(tmp_path, monkeypatch, "spark_factory")
    _, compiled = compile_factory_example(make_project, f"spark_factory.{factory}")
    assert "LivyOperator(" in compiled.source
    assert ("create_spark_cluster" in compiled.source) == (factory == "AcmeClusterFactory")
    ast.parse(compiled.source)


def test_emr_factory_example_compiles(make_project, tmp_path, monkeypatch):
    factory_module(tmp_path, monkeypatch, "emr_factory")
    folder, compiled = compile_factory_example(make_project, "emr_factory.EmrFactory")
    calls = operator_calls(compiled.source)
    assert calls["create_spark_cluster"]["operator"] == "EmrCreateJobFlowOperator"
    assert calls["spark_score"]["operator"] == "EmrAddStepsOperator"
    assert calls["spark_score_done"]["operator"] == "EmrStepSensor"
    assert calls["delete_spark_cluster"]["operator"] == "EmrTerminateJobFlowOperator"
    for task_id in ("spark_score", "spark_score_done", "delete_spark_cluster"):
        assert ast.unparse(calls[task_id]["job_flow_id"]) == "create_cluster.output"
    assert "spark_score >> spark_score_done" in compiled.source
    assert "spark_score_done >> report" in compiled.source
    assert "delete_cluster.as_teardown(setups=create_cluster)" in compiled.source
    if provider_installed("airflow.providers.amazon"):
        from tests.spark_projects import load_dag

        dag = load_dag(folder, compiled.dag_id)
        assert dag.get_task("delete_spark_cluster").is_teardown


def test_databricks_factory_example_compiles(make_project, tmp_path, monkeypatch):
    factory_module(tmp_path, monkeypatch, "databricks_factory")
    options = {"new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 1}}
    folder, compiled = compile_factory_example(
        make_project, "databricks_factory.DatabricksFactory", options
    )
    calls = operator_calls(compiled.source)
    assert calls["spark_score"]["operator"] == "DatabricksSubmitRunOperator"
    cluster = ast.literal_eval(calls["spark_score"]["new_cluster"])
    assert cluster["num_workers"] == 4  # the group's resource profile
    assert cluster["init_scripts"] == [{"s3": {"destination": "s3://bucket/v1/init.sh"}}]
    task = ast.literal_eval(calls["spark_score"]["spark_python_task"])
    assert task["parameters"][-2:] == ["--params", "ds={{ ds }}"]
    assert "create_spark_cluster" not in compiled.source
    if provider_installed("airflow.providers.databricks"):
        from tests.spark_projects import load_dag

        load_dag(folder, compiled.dag_id)


def backend_examples() -> list:
    examples = []
    for language, body in FENCE.findall(written_pages()["spark/backends.md"]):
        if language == "yaml" and "run_config:" in body:
            example = yaml.safe_load(textwrap.dedent(body))
            examples.append(pytest.param(example, id=example["run_config"]["spark"]["type"]))
    return examples


@pytest.mark.parametrize("example", backend_examples())
def test_backend_examples_compile_and_load_in_airflow(example, make_project):
    from tests.spark_projects import SIMPLE_CATALOG, SIMPLE_NODES, compile_to, load_dag

    example["host"] = "http://127.0.0.1:8080"
    example["run_config"]["run_name"] = "backend example"
    # The test project's Spark nodes ask for the resource profile "big".
    example["run_config"]["spark"].setdefault("resources", {}).setdefault("big", {})
    project = make_project(nodes=SIMPLE_NODES, catalog=SIMPLE_CATALOG, config=example)
    base = "gs://acme-spark-artifacts/shop-sales/v1"
    artifacts = {kind: f"{base}/{kind}" for kind in ("wheel", "conf", "entry", "init")}
    folder, compiled = compile_to(project, artifacts=artifacts)
    dag = load_dag(folder, compiled.dag_id)
    assert any(task_id.startswith("spark_") for task_id in dag.task_ids)
    # run-once checks a run's tasks against the ids read from the source: they must agree.
    assert declared_task_ids(compiled.source) == set(dag.task_ids)


def test_code_blocks_are_not_nested_in_lists():
    # Python-Markdown renders fenced code only at the top level of a page.
    for page, text in written_pages().items():
        nested = [line for line in text.splitlines() if re.match(r"\s+```", line)]
        assert not nested, f"{page}: indented code fence {nested[0]!r}"


def test_architecture_picture_holds_the_chain_from_plan_to_renderer():
    import xml.etree.ElementTree as ET

    page = (PAGES / "architecture.md").read_text(encoding="utf-8")
    assert "](images/architecture.svg)" in page
    svg = ET.parse(PAGES / "images" / "architecture.svg").getroot()
    titles = [
        text.text
        for text in svg.iter("{http://www.w3.org/2000/svg}text")
        if text.get("font-weight") == "bold"
    ]
    chain = ["plan", "backend registry", "factory", "operator specs", "renderer", "DAG file"]
    assert titles == chain
