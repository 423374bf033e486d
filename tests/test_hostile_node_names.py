"""Any node name Kedro accepts compiles and reaches `kedro run` exactly, or is refused with the
name and the reason; Spark groups carry every name, and no name is taken for an option."""

from __future__ import annotations

import keyword

import pytest
from kedro.framework.cli.utils import split_node_names

from kedro_airflow_k8s.artifacts import render_entry_script
from kedro_airflow_k8s.node_names import why_not_carried
from kedro_airflow_k8s.spark.base import SparkGroup
from tests.conftest import DEFAULT_CONFIG, load_dagbag

KEYWORDS = keyword.kwlist + keyword.softkwlist
# Names Kedro's own check (letters, digits, '-', '_', '.') lets through.
PLAIN_NAMES = list(
    dict.fromkeys(
        KEYWORDS
        + [word.capitalize() for word in keyword.kwlist]
        + [word.upper() for word in keyword.kwlist if word.upper() != word]
        + [
            "a-b",
            "a_b",
            "a.b",
            "1abc",
            "名前",
            "é",
            "straße",
            "-h",
            "--help",
            "-",
            "--",
            "__",
            "__init__",
            "dag",
            "kedro",
            "k8s",
            "datetime",
            "POD",
            "LOCAL_ENV",
            "TaskGroup",
            "KubernetesPodOperator",
            "print",
            "os",
            "n" * 240,
            "..",
            "-e",
            "--env",
            "--nodes",
        ]
    )
)
# Names only a namespace (or Kedro's default naming) makes: (namespace, name) pairs.
NAMESPACED_CARRIED = [("a b", "n"), ("f([a,b]) -> [c]", "n"), ("x[1]", "y"), ("{{ ds }}", "n")]
NAMESPACED_REFUSED = [
    ("a,b", "n"),
    ("[a", "n"),
    ("a]", "n"),
    (" lead", "n"),
    ("x,y[", "n"),
    ("[a],b", "n"),
]
TRAILING_NEWLINE = "n\n"  # Kedro's name check lets a trailing newline through


def test_there_are_at_least_a_hundred_hostile_names():
    total = len(PLAIN_NAMES) + len(NAMESPACED_CARRIED) + len(NAMESPACED_REFUSED) + 1
    assert total >= 100
    assert set(keyword.kwlist) <= set(PLAIN_NAMES)


def pipeline_module(plain: list[str], namespaced: list[tuple[str, str]]) -> str:
    lines = [
        "from kedro.pipeline import Pipeline, node",
        "",
        "",
        "def same(x):",
        "    return x",
        "",
        "",
        "def create_pipeline(**kwargs):",
        "    parts = [Pipeline([",
    ]
    for number, name in enumerate(plain):
        lines.append(f"        node(same, 'in_{number}', 'out_{number}', name={name!r}),")
    lines.append("    ])]")
    for number, (namespace, name) in enumerate(namespaced):
        lines.append(
            f"    parts.append(Pipeline([node(same, 'i{number}', 'o{number}', name={name!r})], "
            f"namespace={namespace!r}))"
        )
    lines.append("    return sum(parts, Pipeline([]))")
    return "\n".join(lines) + "\n"


def nodes_argument(task) -> list[str]:
    """The node names `kedro run` reads from the task's arguments once Airflow rendered them."""
    task.render_template_fields({"ds": "2025-01-01"})
    args = list(task.arguments)
    return split_node_names(None, None, args[args.index("--nodes") + 1])


def test_every_name_kedro_run_can_carry_compiles_and_round_trips(make_project, cli):
    config = {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], "run_name": "h"}}
    project = make_project(
        nodes=pipeline_module(PLAIN_NAMES, NAMESPACED_CARRIED), catalog={}, config=config
    )

    result = cli(project, "compile")

    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    dag = bag.dags["h"]
    expected = set(PLAIN_NAMES) | {f"{ns}.{name}" for ns, name in NAMESPACED_CARRIED}
    carried = [
        name for task in dag.tasks if "--nodes" in task.arguments for name in nodes_argument(task)
    ]
    assert sorted(carried) == sorted(expected)


@pytest.mark.parametrize(("namespace", "name"), NAMESPACED_REFUSED)
def test_names_kedro_run_cannot_carry_are_refused_with_name_and_reason(
    make_project, cli, namespace, name
):
    project = make_project(nodes=pipeline_module(["fine"], [(namespace, name)]), catalog={})

    result = cli(project, "compile")

    assert result.exit_code == 2, result.output
    full = f"{namespace}.{name}"
    assert f"'{full}' ({why_not_carried(full)})" in result.output
    assert "rename the node" in result.output
    assert not (project / "dags").exists()


def test_a_trailing_newline_in_a_name_is_refused(make_project, cli):
    project = make_project(nodes=pipeline_module(["fine", TRAILING_NEWLINE], []), catalog={})

    result = cli(project, "compile")

    assert result.exit_code == 2
    assert "starts or ends with a blank" in result.output


def entry_script_selection(args: list[str]) -> tuple[list[str], object]:
    """The node names and options the generated spark_run.py reads from ``args``."""
    namespace: dict = {"__name__": "spark_run"}
    exec(compile(render_entry_script("pkg"), "spark_run.py", "exec"), namespace)
    parsed = namespace["parse_args"](args)
    names = [n for text in parsed.nodes for n in namespace["split_node_names"](text)]
    return names + parsed.node, parsed


HOSTILE_FOR_SPARK = [f"{ns}.{name}" for ns, name in NAMESPACED_REFUSED] + [
    TRAILING_NEWLINE,
    "-h",
    "--help",
    "--env",
    "class",
    "f([a,b]) -> [c]",
]


@pytest.mark.parametrize("name", HOSTILE_FOR_SPARK)
def test_spark_groups_carry_every_name_whole(name):
    group = SparkGroup(
        task_id="spark_x", nodes=("plain", name), pipeline="-h", env="--help", params="a=-1"
    )

    names, parsed = entry_script_selection(group.kedro_arguments())

    assert sorted(names) == sorted(["plain", name])
    assert parsed.pipeline == "-h"
    assert parsed.env == "--help"
    assert parsed.params == "a=-1"
