"""Any text in the config or the pipeline reaches the DAG exactly, never as code or a macro."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedro_airflow_k8s.config import parse_config
from kedro_airflow_k8s.plan import Plan, Task
from kedro_airflow_k8s.render import DagContext, DagRenderer, check_source
from kedro_airflow_k8s.source import literal, neutralise_template

NASTY = [
    "'",
    '"',
    "\\",
    "\n",
    "\r",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    '"""',
    "ü",
    "日本",
    "\u2028",
    "\x00",
    "\t",
    "${x}",
    "$(rm -rf /)",
    "`",
    ";",
]
nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=5)), max_size=8
).map("".join)
# Kedro allows letters (any script), digits, '-', '_' and '.' in node names.
node_name = st.text(
    alphabet=st.sampled_from(list(string.ascii_letters + string.digits + "-_.") + ["ü", "ß", "名"]),
    min_size=1,
    max_size=20,
)


def render(run_config: dict, nodes: list[str], node_runner: str, pipeline: str, env: str):
    run_config = {"image": "img:1", "namespace": "ns", **run_config, "node_runner": node_runner}
    config = parse_config({"run_config": run_config})
    tasks = []
    for i, name in enumerate(nodes):
        upstream = (f"t{i - 1}",) if i else ()
        # As planning chose it: the untagged nodes take the __default__ pod profile.
        profiles = {"resources": "__default__"} if run_config.get("resources") else {}
        tasks.append(
            Task(f"t{i}", "node", (name,), upstream, {name: "plain node"}, profiles=profiles)
        )
    plan = Plan("safety", tuple(tasks))
    ctx = DagContext("proj", "proj", env, pipeline, "/srv/project 'x'", None)
    source = DagRenderer(plan, config, ctx).render()
    check_source(source, "safety.py")
    namespace: dict = {}
    exec(compile(source, "safety.py", "exec"), namespace)
    return namespace["dag"]


def rendered(dag, text):
    """What Airflow's Jinja makes of a templated field's value at run time."""
    return dag.get_template_env().from_string(text).render(ds="2025-01-01")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    description=nasty_text,
    env_value=nasty_text,
    label=nasty_text,
    annotation=nasty_text,
    namespace=nasty_text,
    nodes=st.lists(node_name, min_size=1, max_size=3, unique=True),
    pipeline=nasty_text.filter(bool),
    env=nasty_text.filter(bool),
    tag=nasty_text.filter(lambda t: 0 < len(t) <= 100),
)
def test_values_round_trip_through_kubernetes_dag(
    description, env_value, label, annotation, namespace, nodes, pipeline, env, tag
):
    dag = render(
        {
            "description": description,
            "tags": [tag],
            "namespace": namespace or "ns",
            "env_vars": {"NASTY": env_value},
            "resources": {
                "__default__": {"labels": {"l": label}, "annotations": {"a": annotation}}
            },
        },
        nodes,
        "kubernetes",
        pipeline,
        env,
    )
    assert dag.description == description
    assert tag in dag.tags
    for i, name in enumerate(nodes):
        task = dag.get_task(f"t{i}")
        args = [rendered(dag, a) for a in task.arguments]
        assert args == ["run", "--pipelines", pipeline, "--env", env, "--nodes", name]
        assert name in task.doc_md
        assert rendered(dag, task.namespace) == (namespace or "ns")
        env_vars = task.env_vars
        if isinstance(env_vars, list):  # older providers convert to V1EnvVar at init
            env_vars = {e.name: e.value for e in env_vars}
        assert {k: rendered(dag, v) for k, v in env_vars.items()} == {"NASTY": env_value}
        assert rendered(dag, task.labels["l"]) == label
        assert rendered(dag, task.annotations["a"]) == annotation


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    env_value=nasty_text,
    nodes=st.lists(node_name, min_size=1, max_size=2, unique=True),
    pipeline=nasty_text.filter(bool),
)
def test_values_round_trip_through_local_dag(env_value, nodes, pipeline):
    import shlex

    dag = render({"env_vars": {"NASTY": env_value}}, nodes, "local", pipeline, "prod")
    for i, name in enumerate(nodes):
        task = dag.get_task(f"t{i}")
        command = shlex.split(rendered(dag, task.bash_command))
        expected = ["kedro", "run", "--pipelines", pipeline, "--env", "prod", "--nodes", name]
        assert command == expected
        assert rendered(dag, task.env["NASTY"]) == env_value
        assert rendered(dag, task.cwd) == "/srv/project 'x'"


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), nasty_text),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_literal_round_trips(value):
    for indent in (0, 8):
        assert eval(literal(value, indent)) == value


@given(nasty_text)
def test_neutralised_text_renders_to_itself(text):
    import jinja2

    assert jinja2.Environment().from_string(neutralise_template(text)).render() == text


def test_a_brace_before_a_carriage_return_renders_to_itself():
    import jinja2

    for text in ["{\r", "{{\r", "a{\r{", "{\r\n", "{%\r#}"]:
        rendered_text = jinja2.Environment().from_string(neutralise_template(text)).render()
        assert rendered_text == text
