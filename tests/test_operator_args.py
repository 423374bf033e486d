"""operator_args, operator_args_profiles, dag_args and deferrable: passed through, names checked."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import DEFAULT_CONFIG, compiled

TAGGED_NODES = """
from kedro.pipeline import Pipeline, node


def double(x):
    return x * 2


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(double, "raw", "doubled", name="double_raw"),
            node(
                double,
                "doubled",
                "quadrupled",
                name="train",
                tags=["kedro-airflow-k8s.operator-args.gpu"],
            ),
        ]
    )
"""
POD_ARGS = {
    "pool": "k8s_pool",
    "queue": "kubernetes",
    "owner": "data-team",
    "execution_timeout": 3600,
    "priority_weight": 5,
    "weight_rule": "absolute",
    "retry_exponential_backoff": True,
    "max_retry_delay": 600,
    "email": ["oncall@example.com"],
    "container_logs": "base",
    "labels": {"team": "data"},
    "annotations": {"example.com/owner": "data"},
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["etl"]}]}
                ]
            }
        }
    },
    "volumes": [{"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch-pvc"}}],
    "volume_mounts": [{"name": "scratch", "mountPath": "/scratch"}],
    "security_context": {"runAsUser": 1000, "fsGroup": 2000},
}


def config_with(**run_config):
    return {**DEFAULT_CONFIG, "run_config": {**DEFAULT_CONFIG["run_config"], **run_config}}


def refused(cli, project) -> str:
    result = cli(project, "compile")
    assert result.exit_code == 2, result.output
    return result.output


@pytest.fixture(scope="module")
def no_cluster():
    from unittest import mock

    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    with mock.patch.object(
        KubernetesHook, "is_in_cluster", new_callable=mock.PropertyMock, return_value=False
    ):
        yield


def test_operator_args_reach_every_pod(make_project, cli, no_cluster):
    dag = compiled(cli, make_project(config=config_with(operator_args=POD_ARGS)))
    for task in dag.tasks:
        assert task.pool == "k8s_pool" and task.queue == "kubernetes" and task.owner == "data-team"
        assert task.execution_timeout == dt.timedelta(hours=1)
        assert task.max_retry_delay == dt.timedelta(minutes=10)
        assert task.priority_weight == 5 and task.retry_exponential_backoff
        assert task.email == ["oncall@example.com"] and task.container_logs == "base"
        pod = task.build_pod_request_obj()
        assert pod.metadata.labels["team"] == "data"
        assert pod.metadata.annotations["example.com/owner"] == "data"
        terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        assert terms.node_selector_terms[0].match_expressions[0].values == ["etl"]
        (volume,) = pod.spec.volumes
        assert volume.persistent_volume_claim.claim_name == "scratch-pvc"
        assert pod.spec.containers[0].volume_mounts[0].mount_path == "/scratch"
        assert pod.spec.security_context.run_as_user == 1000


def test_a_profile_applies_to_the_tagged_nodes_task_only(make_project, cli, no_cluster):
    config = config_with(
        operator_args={"pool": "default_pool"},
        operator_args_profiles={
            "gpu": {"pool": "gpu_pool", "namespace": "gpu-jobs", "on_finish_action": "keep_pod"}
        },
    )
    dag = compiled(cli, make_project(nodes=TAGGED_NODES, config=config))
    train, plain = dag.get_task("train"), dag.get_task("double_raw")
    assert train.pool == "gpu_pool" and plain.pool == "default_pool"
    assert train.namespace == "gpu-jobs" and plain.namespace == "kedro"
    assert train.on_finish_action.value == "keep_pod"


def test_dag_args_reach_the_dag(make_project, cli):
    config = config_with(
        dag_args={
            "dagrun_timeout": 7200,
            "max_active_tasks": 3,
            "owner_links": {"data-team": "https://example.com/team"},
            "fail_fast": False,
        }
    )
    dag = compiled(cli, make_project(config=config))
    assert dag.dagrun_timeout == dt.timedelta(hours=2)
    assert dag.max_active_tasks == 3
    assert dag.owner_links == {"data-team": "https://example.com/team"}


def test_deferrable_reaches_every_pod(make_project, cli):
    dag = compiled(cli, make_project(config=config_with(deferrable=True)))
    assert all(task.deferrable for task in dag.tasks)


@pytest.mark.parametrize(
    ("run_config", "message"),
    [
        ({"operator_args": {"poool": "x"}}, "run_config.operator_args.poool in"),
        ({"operator_args": {"poool": "x"}}, "KubernetesPodOperator takes no argument 'poool'"),
        ({"operator_args": {"namespace": "x"}}, "gets namespace from run_config.namespace"),
        ({"operator_args": {"pool": "p" * 257}}, "run_config.operator_args.pool in"),
        ({"operator_args": {"pool": " spaced"}}, "without leading or trailing blanks"),
        ({"operator_args": {"queue": 7}}, "run_config.operator_args.queue in"),
        (
            {"operator_args_profiles": {"gpu": {"queue": "q\tgpu"}}},
            "run_config.operator_args_profiles.gpu.queue in",
        ),
        ({"operator_args": {"retries": 3}}, "gets retries from run_config.retries"),
        (
            {"operator_args_profiles": {"big": {"container_log": "x"}}},
            "run_config.operator_args_profiles.big.container_log in",
        ),
        ({"dag_args": {"default_view": "grid"}}, "DAG takes no argument 'default_view'"),
        ({"dag_args": {"schedule": "@daily"}}, "sets schedule from run_config.cron_expression"),
        (
            {"operator_args": {"volumes": [{"name": "v", "pvc": {}}]}},
            "run_config.operator_args.volumes[0].pvc in",
        ),
        (
            {"deferrable": True, "node_runner": "local"},
            "BashOperator cannot defer",
        ),
    ],
)
def test_wrong_argument_names_are_refused_with_the_key(make_project, cli, run_config, message):
    assert message in refused(cli, make_project(config=config_with(**run_config)))
