"""Static checks of deploy/kuberay: KubeRay CRD schemas, Secrets, images, the RayJob's spec, Helm keys.

No Kubernetes cluster runs in CI. These tests hold the manifests to the KubeRay CRDs and chart
defaults copied into tests/fixtures/kuberay (its README.md says from where) and to the rules in
docs/cluster.md; the last ones feed the checks broken copies to show that they can fail.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from kuberay_checks import (KUBERAY_DIR, NODE_ENV, ROOT, TOKEN_ENV, UPSTREAM_DIR, URI_PASSWORD, cluster_containers,
                            crd_schema, documented_keys, env_problems, job_containers, load_documents, schema_errors,
                            secret_refs, unknown_keys)
from test_compose import SERVICES, dockerfile_bases, strings_in

from sweeps.spec import SPEC_DIR, load_spec

(CLUSTER,) = load_documents(KUBERAY_DIR / "raycluster.yaml")
(JOB,) = load_documents(KUBERAY_DIR / "rayjob.yaml")
VALUES: dict = yaml.safe_load((KUBERAY_DIR / "values.yaml").read_text())
SECRETS = load_documents(KUBERAY_DIR / "secrets.example.yaml")
MANIFESTS = {"raycluster.yaml": CLUSTER, "rayjob.yaml": JOB}
# Every Kubernetes manifest of the folder (a filled-in, git-ignored secrets.yaml is not one to check).
MANIFEST_FILES = sorted(p.name for p in KUBERAY_DIR.glob("*.yaml")
                        if p.name != "values.yaml" and not p.name.startswith("secrets"))
CONTAINERS = [*cluster_containers(CLUSTER["spec"], "RayCluster "), *job_containers(JOB)]
NOT_SECRET_KEYS = {"tracking-uri", "region", "endpoint-url"}  # addresses, not credentials


CHART_DEFAULTS = UPSTREAM_DIR / "ray-cluster-chart-values.yaml"


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict]:
    """The strict v1 schema of each KubeRay kind."""
    return {"RayCluster": crd_schema(UPSTREAM_DIR / "ray.io_rayclusters.yaml"),
            "RayJob": crd_schema(UPSTREAM_DIR / "ray.io_rayjobs.yaml")}


def cluster_problems(manifest: dict, schema: dict) -> list[str]:
    """Schema errors plus missing or inline credentials, for one RayCluster manifest."""
    problems = schema_errors(manifest, schema)
    for role, container in cluster_containers(manifest["spec"]):
        required = TOKEN_ENV if role == "autoscaler" else NODE_ENV
        problems += env_problems(role, container.get("env", []), required)
    return problems


def entrypoint_problems(entrypoint: str) -> list[str]:
    """Unless the entrypoint is `resnet-sweep run SHIPPED_SPEC --storage-path s3://...`, what is wrong."""
    words = shlex.split(entrypoint)
    if words[:2] != ["resnet-sweep", "run"] or len(words) < 3:
        return [f"entrypoint should be `resnet-sweep run SPEC ...`; got {entrypoint!r}"]
    problems = []
    shipped = sorted(p.stem for p in Path(SPEC_DIR).glob("*.yaml"))
    if words[2] not in shipped:
        problems.append(f"{words[2]!r} is not a shipped spec ({', '.join(shipped)})")
    storage = option_values(words, "--storage-path")
    if not storage or not all(s.startswith("s3://") for s in storage):
        problems.append(f"--storage-path must be s3://... so every node shares the sweep's state; got {storage}")
    return problems


def option_values(words: list[str], flag: str) -> list[str]:
    """Every value given to a command-line flag, as `--flag VALUE` or `--flag=VALUE`."""
    return [words[i + 1] if w == flag and i + 1 < len(words) else w.partition("=")[2]
            for i, w in enumerate(words) if w == flag or w.startswith(flag + "=")]


def quantity(value: str | int) -> float:
    """A Kubernetes CPU or GPU quantity as a number ("500m" -> 0.5)."""
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_folder_has_the_shipped_files():
    assert set(MANIFEST_FILES) >= set(MANIFESTS)
    assert (KUBERAY_DIR / "secrets.example.yaml").is_file()


@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_manifest_matches_kuberay_crd_schema(name, schemas):
    for manifest in load_documents(KUBERAY_DIR / name):
        assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] in schemas, f"{name}: not a KubeRay object"
        assert schema_errors(manifest, schemas[manifest["kind"]]) == []


def test_rayjob_runs_the_raycluster_spec():
    assert JOB["spec"]["rayClusterSpec"] == CLUSTER["spec"], "rayjob.yaml's rayClusterSpec drifted from raycluster.yaml"


def test_rayjob_deletes_its_cluster_after_a_ttl():
    spec = JOB["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0
    assert "clusterSelector" not in spec, "shutdownAfterJobFinishes needs a cluster the RayJob makes itself"
    assert "runtimeEnvYAML" not in spec, "Ray logs a job's runtime_env on every node: no env vars there"


def test_head_takes_no_trials():
    head = CLUSTER["spec"]["headGroupSpec"]
    assert head["rayStartParams"].get("num-cpus") == "0"
    assert head["rayStartParams"].get("num-gpus") == "0"
    for container in head["template"]["spec"]["containers"]:
        for kind in ("limits", "requests"):
            assert "nvidia.com/gpu" not in container.get("resources", {}).get(kind, {})


def test_gpu_worker_group_autoscales():
    assert CLUSTER["spec"]["enableInTreeAutoscaling"] is True
    groups = CLUSTER["spec"]["workerGroupSpecs"]
    assert groups
    for group in groups:
        (container,) = group["template"]["spec"]["containers"]
        assert quantity(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"], "nothing for the autoscaler to do"


@pytest.mark.parametrize("role,container", CONTAINERS, ids=[role for role, _ in CONTAINERS])
def test_every_container_uses_token_auth_and_secrets(role, container):
    required = TOKEN_ENV if role.endswith("autoscaler") or role.startswith("submitter") else NODE_ENV
    assert env_problems(role, container.get("env", []), required) == []


def test_helm_values_use_token_auth_and_secrets():
    assert env_problems("common.containerEnv", VALUES["common"]["containerEnv"], NODE_ENV) == []
    assert env_problems("head.autoscalerOptions", VALUES["head"]["autoscalerOptions"]["env"], TOKEN_ENV) == []


def test_operator_uses_the_same_token_secret():
    auth = CLUSTER["spec"]["authOptions"]
    assert auth["mode"] == "token"
    # The operator refuses authOptions below Ray 2.52, where token auth began.
    assert tuple(map(int, CLUSTER["spec"]["rayVersion"].split("."))) >= (2, 52, 0)
    assert (auth["secretName"], "auth_token") in secret_refs(CLUSTER), "authOptions and RAY_AUTH_TOKEN differ"


def test_every_secret_reference_is_in_the_example():
    defined = {(s["metadata"]["name"], key) for s in SECRETS for key in s["stringData"]}
    used = secret_refs(CLUSTER) | secret_refs(JOB) | secret_refs(VALUES)
    assert used and used <= defined, f"secrets.example.yaml lacks {sorted(used - defined)}"


def test_secret_example_holds_only_placeholders():
    for secret in SECRETS:
        assert secret["kind"] == "Secret" and "data" not in secret
        for key, value in secret["stringData"].items():
            if key not in NOT_SECRET_KEYS:
                assert value == "change-me", f"{secret['metadata']['name']}.{key} should be change-me"


@pytest.mark.parametrize("name", sorted(MANIFESTS) + ["values.yaml"])
def test_no_password_in_any_uri(name):
    tree = VALUES if name == "values.yaml" else MANIFESTS[name]
    assert not [s for s in strings_in(tree) if URI_PASSWORD.search(s)]


def test_images_match_the_compose_ray_version():
    build = SERVICES["ray-head"]["build"]
    (base,) = dockerfile_bases(ROOT / build["context"] / build["dockerfile"])
    tag = base.rsplit(":", 1)[1]
    version = re.match(r"\d+\.\d+\.\d+", tag)[0]
    images = {c["image"] for _, c in CONTAINERS if "image" in c}
    assert images == {f"{VALUES['image']['repository']}:{VALUES['image']['tag']}"}
    assert all(image.rsplit(":", 1)[1] == tag for image in images), f"images {images} are not built on {base}"
    assert CLUSTER["spec"]["rayVersion"] == VALUES["head"]["rayVersion"] == version


def test_entrypoint_runs_a_shipped_spec_on_s3():
    assert entrypoint_problems(JOB["spec"]["entrypoint"]) == []


def test_a_trial_of_the_spec_fits_a_worker():
    spec = load_spec(shlex.split(JOB["spec"]["entrypoint"])[2])
    want = spec.resources_per_trial
    limits = [c["resources"]["limits"] for role, c in CONTAINERS if "worker " in role]
    assert limits and all(quantity(lim["cpu"]) >= want["cpu"] for lim in limits)
    assert all(quantity(lim.get("nvidia.com/gpu", 0)) >= want["gpu"] for lim in limits)


def test_helm_values_use_only_chart_keys():
    assert unknown_keys(VALUES, documented_keys(CHART_DEFAULTS.read_text())) == []


def _worker(m: dict) -> dict:
    return m["spec"]["workerGroupSpecs"][0]


def _worker_container(m: dict) -> dict:
    return _worker(m)["template"]["spec"]["containers"][0]


BROKEN_CLUSTERS: dict[str, Callable[[dict], None]] = {
    "minReplicas is not an integer": lambda m: _worker(m).update(minReplicas="zero"),
    "misspelled field": lambda m: m["spec"].update(enableInTreeAutoscalling=True),
    "token inline": lambda m: _worker_container(m).update(
        env=[{"name": "RAY_AUTH_TOKEN", "value": "0123abcd"} if e["name"] == "RAY_AUTH_TOKEN" else e
             for e in _worker_container(m)["env"]]),
    "worker without token": lambda m: _worker_container(m).update(
        env=[e for e in _worker_container(m)["env"] if e["name"] != "RAY_AUTH_TOKEN"]),
    "autoscaler without token": lambda m: m["spec"]["autoscalerOptions"].update(env=[]),
    "password in a URI": lambda m: _worker_container(m).update(
        env=[*_worker_container(m)["env"], {"name": "OPTUNA_DB", "value": "postgresql://u:hunter2@db/optuna"}]),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN_CLUSTERS))
def test_checks_catch_a_broken_raycluster(breakage, schemas):
    assert cluster_problems(CLUSTER, schemas["RayCluster"]) == []
    broken = copy.deepcopy(CLUSTER)
    BROKEN_CLUSTERS[breakage](broken)
    assert cluster_problems(broken, schemas["RayCluster"]), f"{breakage} went unnoticed"


@pytest.mark.parametrize("entrypoint", ["resnet-sweep run no_such_spec --storage-path s3://ray/tune",
                                        "resnet-sweep run he2015_cifar10 --storage-path ./ray_results",
                                        "resnet-sweep run he2015_cifar10",
                                        "python train.py --storage-path=s3://ray/tune"])
def test_checks_catch_a_bad_entrypoint(entrypoint):
    assert entrypoint_problems(entrypoint)


def test_checks_catch_an_unknown_helm_key():
    broken = copy.deepcopy(VALUES)
    broken["head"]["autoscaling"] = True
    broken["worker"]["gpus"] = 1
    known = documented_keys(CHART_DEFAULTS.read_text())
    assert unknown_keys(broken, known) == ["head.autoscaling", "worker.gpus"]
