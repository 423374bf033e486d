"""Operator specs: what factories return, and how the DAG renderer writes it."""

from __future__ import annotations

import ast
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.spark_projects import (
    load_dag,
    restore_environ,  # noqa: F401 - autouse fixture
)
from tests.test_codegen_safety import nasty_text
from tests.test_spark_custom import compile_cli

HOSTILE = "{{ var.value.secret }} {% raise %} 'quote\" \\ back"


@pytest.fixture
def spec_dag(cli, make_project):
    options = {"options": {"text": HOSTILE}}
    project, result = compile_cli(
        cli, make_project, "tests.factories.SpecCommandFactory", **options
    )
    assert result.exit_code == 0, result.output
    source = next((project / "dags").glob("*.py")).read_text()
    return load_dag(project / "dags", "spark_demo"), source


def render(dag, task, field: str, **context):
    value = getattr(task, field)
    return task.render_template(value, {"dag": dag, **context}, dag.get_template_env())


def test_only_marked_templates_render_plain_text_stays_as_written(spec_dag):
    dag, _ = spec_dag
    submit = dag.get_task("spark_score")
    command = render(dag, submit, "bash_command", ds="2026-01-02")
    assert command == f"echo 2026-01-02 {HOSTILE}"
    plain = submit.render_template(submit.env["PLAIN"], {"ds": "x"}, dag.get_template_env())
    assert plain == HOSTILE


def test_output_reference_is_the_airflow_idiom_and_wires_the_task(spec_dag):
    dag, source = spec_dag
    assert "'CLUSTER': create_cluster.output" in source
    submit = dag.get_task("spark_score")
    assert "create_spark_cluster" in submit.upstream_task_ids


def test_several_operators_per_spark_group_run_in_order(spec_dag):
    dag, _ = spec_dag
    submit, check = dag.get_task("spark_score"), dag.get_task("spark_score_check")
    assert submit.downstream_task_ids == {"spark_score_check"}
    # The plan's next task waits for the last operator of the group, and so does the teardown.
    assert dag.get_task("report").upstream_task_ids == {"spark_score_check"}
    assert dag.get_task("delete_spark_cluster").upstream_task_ids == {
        "spark_score_check",
        "create_spark_cluster",
    }
    assert dag.get_task("create_spark_cluster").is_setup
    assert dag.get_task("delete_spark_cluster").is_teardown
    assert check.doc_md is None and "`score`" in submit.doc_md


def test_two_operator_classes_of_one_name_are_both_imported(spec_dag):
    from airflow.providers.standard.operators.empty import EmptyOperator

    from tests.spec_operators import EmptyOperator as OurEmptyOperator

    dag, source = spec_dag
    assert type(dag.get_task("spark_score_check")) is OurEmptyOperator
    assert type(dag.get_task("delete_spark_cluster")) is EmptyOperator
    imported = [
        (node.module, alias.name, alias.asname)
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "EmptyOperator"
    ]
    assert sorted(imported) == [
        ("airflow.providers.standard.operators.empty", "EmptyOperator", "EmptyOperator_2"),
        ("tests.spec_operators", "EmptyOperator", None),
    ]


@pytest.mark.parametrize(
    ("factory", "problem"),
    [
        ("tests.factories.NotASpecFactory", "not an OperatorSpec"),
        ("tests.factories.UnwritableValueFactory", "argument bash_command is a object"),
        ("tests.factories.DanglingOutputFactory", "output of 'nowhere'"),
        ("tests.factories.KedroOperatorFactory", "uses 'kedro.framework.Operator'"),
        ("tests.factories.UndefinedNameFactory", "uses os, which the DAG does not define"),
        ("tests.factories.StringMethodsOnSpecFactory", "defines submit_operator of the string"),
    ],
)
def test_wrong_spec_is_a_clear_error_and_writes_no_dag(cli, make_project, factory, problem):
    project, result = compile_cli(cli, make_project, factory)
    assert result.exit_code == 2, result.output
    assert factory in result.output
    assert problem in " ".join(result.output.split())
    assert not (project / "dags").exists()


def test_seed_style_string_factory_compiles_unchanged(cli, make_project):
    project, result = compile_cli(cli, make_project, "tests.seed_factory.SeedStyleFactory")
    assert result.exit_code == 0, result.output
    dag = load_dag(project / "dags", "spark_demo")
    kinds = {task.task_id: type(task).__name__ for task in dag.tasks}
    assert kinds == {
        "create-spark_demo-cluster": "BashOperator",
        "prep": "KubernetesPodOperator",
        "spark_score": "BashOperator",
        "report": "KubernetesPodOperator",
        "delete-spark_demo-cluster": "BashOperator",
    }
    assert dag.get_task("create-spark_demo-cluster").is_setup
    assert dag.get_task("delete-spark_demo-cluster").is_teardown
    submit = dag.get_task("spark_score")
    # The seed's factories wrote macros into their source themselves; they still render.
    command = render(dag, submit, "bash_command", ds="2026-01-02")
    assert command.startswith("echo run ") and command.endswith("score,rank on 2026-01-02")


def test_timedelta_values_are_written_as_datetime_calls():
    from kedro_airflow_k8s.render_spark import SpecWriter
    from kedro_airflow_k8s.spark.spec import SparkOperators

    writer = SpecWriter(SparkOperators(), {})
    assert writer.value(dt.timedelta(minutes=5)) == "datetime.timedelta(seconds=300.0)"


def rendered_strings(value, render):
    if isinstance(value, str):
        return render(value)
    if isinstance(value, dict):
        return {key: rendered_strings(item, render) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rendered_strings(item, render) for item in value)
    return value


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), nasty_text),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.tuples(children),
            st.dictionaries(nasty_text, children, max_size=4),
        ),
        max_leaves=12,
    )
)
def test_any_plain_spec_value_reaches_the_operator_as_written(value):
    import jinja2

    from kedro_airflow_k8s.render_spark import SpecWriter
    from kedro_airflow_k8s.spark.spec import SparkOperators

    writer = SpecWriter(SparkOperators(), {})
    render = jinja2.Environment().from_string
    for indent in (0, 8):
        written = eval(writer.value(value, indent))
        assert rendered_strings(written, lambda text: render(text).render()) == value


def test_string_factories_keep_application_args_for_templated_fields():
    import jinja2

    from kedro_airflow_k8s.spark.base import SparkGroup
    from kedro_airflow_k8s.spark.builtin import application_args

    group = SparkGroup("spark_x", ("a",), "prod", "__default__", params="ds={{ ds }}")
    args = application_args(group, ["--project-path", "/srv/{{ x }}"])
    rendered = [jinja2.Environment().from_string(arg).render(ds="2026-01-02") for arg in args]
    assert rendered[-4:] == ["--params", "ds=2026-01-02", "--project-path", "/srv/{{ x }}"]
