"""Resource profiles whose names differ only in punctuation or script stay distinct, and mapping
keys reach the pod exactly as written (Airflow renders values, never keys)."""

from __future__ import annotations

import copy

from tests.conftest import DEFAULT_CONFIG, load_dagbag

PROFILES = ["a-b", "a_b", "__default__", "default", "é", "名", "A_B", "a.b"]
TAG = "kedro-airflow-k8s.resources."


def nodes_for(profiles: list[str]) -> str:
    lines = []
    for number, profile in enumerate(profiles):
        tags = "" if profile == "__default__" else f", tags=[{TAG + profile!r}]"
        lines.append(f"node(same, 'in_{number}', 'out_{number}', name='n{number}'{tags})")
    return (
        "from kedro.pipeline import Pipeline, node\n\n\n"
        "def same(x):\n    return x\n\n\n"
        "def create_pipeline(**kwargs):\n"
        f"    return Pipeline([{', '.join(lines)}])\n"
    )


def catalog_for(count: int) -> dict:
    return {
        f"{kind}_{n}": {"type": "pandas.CSVDataset", "filepath": f"data/{kind}_{n}.csv"}
        for n in range(count)
        for kind in ("in", "out")
    }


def compiled_dag(make_project, cli, run_config: dict, profiles: list[str]):
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["run_config"].update(run_config)
    config["run_config"]["run_name"] = "exact"
    project = make_project(
        nodes=nodes_for(profiles), catalog=catalog_for(len(profiles)), config=config
    )
    result = cli(project, "compile")
    assert result.exit_code == 0, result.output
    bag = load_dagbag(project / "dags")
    assert bag.import_errors == {}
    return bag.dags["exact"]


def test_profiles_differing_in_punctuation_or_script_stay_distinct(make_project, cli):
    resources = {
        name: {"requests": {"cpu": f"{number + 1}00m"}} for number, name in enumerate(PROFILES)
    }
    dag = compiled_dag(make_project, cli, {"resources": resources}, PROFILES)

    for number, name in enumerate(PROFILES):
        task = dag.get_task(f"n{number}")
        assert task.container_resources.requests == {"cpu": f"{number + 1}00m"}, name


def test_mapping_keys_reach_the_pod_exactly_and_values_stay_unrendered(make_project, cli):
    key = "example.com/{{ team }}-{% raw %}"
    value = "{{ ds }} stays text"
    run_config = {
        "env_vars": {"VAR_{{ x }}": value},
        "resources": {
            "__default__": {
                "labels": {key: value},
                "annotations": {key: value},
                "node_selectors": {key: value},
            }
        },
    }
    dag = compiled_dag(make_project, cli, run_config, ["__default__"])
    task = dag.get_task("n0")
    context = {"ds": "2025-01-01", "team": "data", "x": "1"}

    task.render_template_fields(context)

    assert task.labels == {key: value}
    assert task.annotations == {key: value}
    assert task.node_selector == {key: value}
    assert {(env.name, env.value) for env in task.env_vars} == {("VAR_{{ x }}", value)}
