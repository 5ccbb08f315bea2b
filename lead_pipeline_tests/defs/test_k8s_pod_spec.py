"""The Kubernetes step job built from our configuration by dagster-k8s itself, no cluster.

No cluster runs where this project is tested, so this is as far as the test goes:
the Job that ``k8s_job_executor`` would submit for a shard step, assembled by
dagster-k8s from ``deploy/dagster-k8s.yaml``'s run launcher and our executor
config (``executor.k8s_config``), the way its step handler does.
"""

from __future__ import annotations

import dagster as dg
import yaml
from dagster._grpc.types import ExecuteStepArgs
from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
from dagster_k8s.container_context import K8sContainerContext

from lead_pipeline_tests.conftest import REPO_ROOT

STEP = "b2b_only__run_shard[2]"


def step_job(monkeypatch) -> dict:
    monkeypatch.setenv("LEAD_PIPELINE_EXECUTOR", "k8s")
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", "postgresql+psycopg://lead:pw@db.internal/leads")
    monkeypatch.setenv("LEAD_PIPELINE_K8S_IMAGE", "registry.example/lead-pipeline:2.0")
    monkeypatch.setenv("LEAD_PIPELINE_K8S_NAMESPACE", "enrichment")
    monkeypatch.setenv("LEAD_PIPELINE_WORKERS", "6")
    from lead_pipeline.defs.definitions import CHAIN_JOB, build_definitions, chain_job
    from lead_pipeline.defs.executor import k8s_config

    instance_yaml = yaml.safe_load((REPO_ROOT / "deploy" / "dagster-k8s.yaml").read_text())
    launcher = instance_yaml["run_launcher"]["config"]
    executor = k8s_config()
    assert build_definitions().resolve_job_def(CHAIN_JOB).executor_def.name == "lead_pipeline_k8s"
    assert executor["max_concurrent"] == 6
    # As K8sStepHandler does: the run launcher's context, merged with the executor's.
    context = K8sContainerContext(
        namespace=launcher["job_namespace"],
        env_secrets=launcher["env_secrets"],
        env_vars=launcher["env_vars"],
        service_account_name=launcher["service_account_name"],
    ).merge(K8sContainerContext(namespace=executor.get("job_namespace")))
    assert context.namespace == "enrichment"
    job_config = DagsterK8sJobConfig(
        job_image=executor.get("job_image") or launcher["job_image"],
        dagster_home=launcher["dagster_home"],
        instance_config_map=launcher["instance_config_map"],
    )
    args = ExecuteStepArgs(
        job_origin=dg.reconstructable(chain_job).get_python_origin(),
        run_id="6c1f0e0e-0000-4000-8000-000000000001",
        step_keys_to_execute=[STEP],
        instance_ref=None,
    )
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=args.get_command_args(skip_serialized_namedtuple=True),
        job_name="dagster-step-6c1f0e0e",
        pod_name="dagster-step-6c1f0e0e",
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/op": STEP},
        env_vars=[*args.get_command_env(), {"name": "DAGSTER_RUN_STEP_KEY", "value": STEP}],
    )
    return job.to_dict()


def test_the_step_job_runs_our_image_with_our_environment(monkeypatch) -> None:
    job = step_job(monkeypatch)
    assert job["kind"] == "Job" and job["spec"]["backoff_limit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restart_policy"] == "Never"
    assert pod["service_account_name"] == "lead-pipeline"
    (container,) = pod["containers"]
    # The executor's image (LEAD_PIPELINE_K8S_IMAGE), not the launcher's.
    assert container["image"] == "registry.example/lead-pipeline:2.0"
    assert container["args"][:3] == ["dagster", "api", "execute_step"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["LEAD_PIPELINE_EXECUTOR"] == "k8s"
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert env["DAGSTER_RUN_STEP_KEY"] == STEP
    assert env["DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]  # which step of which code, for the pod
    # Keys come from the Secret by reference: no value of one is in the spec.
    (source,) = container["env_from"]
    assert source["secret_ref"]["name"] == "lead-pipeline-keys"
    assert not any("API_KEY" in e["name"] for e in container["env"])
