"""Pure checks for the KubeRay manifests in deploy/kuberay: CRD schemas, credentials, chart keys.

Each check returns a list of problems (empty when the manifest is right), so that a test can also
feed it a deliberately broken copy and see it complain. No Kubernetes cluster is involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERAY_DIR = ROOT / "deploy" / "kuberay"
# KubeRay's CRDs (v1 only) and ray-cluster chart defaults, copied from upstream: its README.md says whence.
UPSTREAM_DIR = Path(__file__).resolve().parent / "fixtures" / "kuberay"

TOKEN_ENV = {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"}
NODE_ENV = TOKEN_ENV | {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# An env var with one of these words in its name holds a credential: it must come from a Secret.
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "USERNAME", "TRACKING_URI")
URI_PASSWORD = re.compile(r"://[^/:@\s]+:[^@\s]+@")
# Keys of a chart values file whose contents are Kubernetes objects or free maps, not chart keys.
FREE_FORM = {"resources", "rayStartParams", "labels", "annotations", "nodeSelector", "affinity",
             "headService", "securityContext", "podSecurityContext", "dnsConfig"}
KEY_LINE = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9_-]*):(\s|$)")
# Chart keys are lowerCamelCase; this skips prose such as "# Note: ..." in comments.
COMMENTED_KEY_LINE = re.compile(r"^\s*#(\s*)([a-z][A-Za-z0-9]*):(\s|$)")


def load_documents(path: Path) -> list[dict]:
    """Every YAML document of a file (aliases resolved), empty ones dropped."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def strict_schema(schema: dict) -> dict:
    """A CRD schema as Draft 7: x-kubernetes-* keys dropped, unknown fields refused (kubectl's strict validation)."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in out:
        out["properties"] = {name: strict_schema(sub) for name, sub in out["properties"].items()}
        if "additionalProperties" not in out and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = strict_schema(out[key])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in out:
            out[key] = [strict_schema(sub) for sub in out[key]]
    return out


def crd_schema(crd_file: Path, version: str = "v1") -> dict:
    """The strict openAPIV3Schema of one version of a CustomResourceDefinition file."""
    # libyaml's loader where PyYAML has it: the pure-Python one is several times slower on these 23k lines.
    crd = yaml.load(crd_file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return strict_schema(entry["schema"]["openAPIV3Schema"])


def schema_errors(obj: dict, schema: dict) -> list[str]:
    """Every place where obj breaks the schema, as 'path: message'."""
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]


def cluster_containers(spec: dict, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """(role, container) for the head, every worker group and the autoscaler of a RayCluster spec."""
    for c in spec["headGroupSpec"]["template"]["spec"]["containers"]:
        yield f"{prefix}head/{c['name']}", c
    for group in spec.get("workerGroupSpecs", []):
        for c in group["template"]["spec"]["containers"]:
            yield f"{prefix}worker {group['groupName']}/{c['name']}", c
    if spec.get("enableInTreeAutoscaling"):
        yield f"{prefix}autoscaler", spec.get("autoscalerOptions") or {}


def job_containers(job: dict) -> Iterator[tuple[str, dict]]:
    """(role, container) for the cluster a RayJob makes and for its submitter pod."""
    yield from cluster_containers(job["spec"]["rayClusterSpec"], "rayClusterSpec ")
    for c in job["spec"]["submitterPodTemplate"]["spec"]["containers"]:
        yield f"submitter/{c['name']}", c


def env_problems(role: str, env: list[dict], required: set[str]) -> list[str]:
    """Missing required env vars, token auth off, or a credential given inline instead of from a Secret."""
    by_name = {e["name"]: e for e in env}
    problems = [f"{role}: no {name}" for name in sorted(required - by_name.keys())]
    if "RAY_AUTH_MODE" in by_name and by_name["RAY_AUTH_MODE"].get("value") != "token":
        problems.append(f"{role}: RAY_AUTH_MODE must be token")
    for name, e in by_name.items():
        if any(word in name for word in SECRET_WORDS) and ("value" in e or "secretKeyRef" not in e.get("valueFrom", {})):
            problems.append(f"{role}: {name} must come from valueFrom.secretKeyRef, not inline")
        if URI_PASSWORD.search(str(e.get("value", ""))):
            problems.append(f"{role}: {name} has a password in a URI")
    return problems


def secret_refs(node) -> set[tuple[str, str]]:
    """Every (Secret name, key) that a manifest tree reads through secretKeyRef."""
    if isinstance(node, list):
        return {ref for item in node for ref in secret_refs(item)}
    if not isinstance(node, dict):
        return set()
    refs = {(node["secretKeyRef"]["name"], node["secretKeyRef"]["key"])} if "secretKeyRef" in node else set()
    return refs | {ref for value in node.values() for ref in secret_refs(value)}


def documented_keys(values_text: str) -> set[tuple[str, ...]]:
    """Every key path a chart's values.yaml sets or shows commented out (`# enableInTreeAutoscaling: true`)."""
    paths, stack = set(), []
    for line in values_text.splitlines():
        if m := KEY_LINE.match(line):
            indent = len(m[1])
        elif m := COMMENTED_KEY_LINE.match(line):
            indent = line.index("#") + len(m[1]) - 1  # "  # key:" sits at the indent of "  key:"
        else:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m[2]))
        paths.add(tuple(key for _, key in stack))
    return paths


def unknown_keys(values: dict, known: set[tuple[str, ...]], prefix: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths of keys in values that the chart's defaults do not know."""
    unknown = []
    for key, value in values.items():
        path = (*prefix, key)
        if path not in known:
            unknown.append(".".join(path))
        elif isinstance(value, dict) and key not in FREE_FORM:
            unknown += unknown_keys(value, known, path)
    return unknown
