"""Static checks of the cluster deployment: docker-compose.yml, the Dockerfiles, .env.example.

No Docker engine runs in CI, so these tests parse the files and hold them to the rules in
docs/cluster.md: pinned images, loopback-only ports, healthchecks, Ray token auth on every
node, and secrets only from .env.
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"

REQUIRED_SERVICES = {"postgres", "minio", "mlflow", "ray-head", "ray-worker", "prometheus", "grafana"}
ONE_SHOT = {"minio-init"}  # runs to completion, so it has no healthcheck
RAY_NODES = ("ray-head", "ray-worker")
RAY_PRIVATE_PORTS = {6380, 10001}  # GCS and Ray Client: reachable on the compose network only
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")

# ${VAR}, ${VAR:-default}, ${VAR:?error}, ... but not $${VAR}, which compose leaves to the container.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+][^}]*)?\}")
WHOLE_VAR_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}")
URI_PASSWORD = re.compile(r"://[^/:@\s]+:([^@\s]+)@")


def _load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


SERVICES: dict = _load_compose()["services"]


def env_of(service: dict) -> dict[str, str]:
    """A service's environment as a dict, from either compose syntax (mapping or KEY=VALUE list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published_ports(service: dict) -> list[str]:
    """Published ports as "host_ip:published:target" (or the short-syntax string as written)."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append(f"{port.get('host_ip', '')}:{port.get('published', '')}:{port['target']}")
        else:
            ports.append(str(port))
    return ports


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(map(str, command)) if isinstance(command, list) else str(command)


def strings_in(node) -> list[str]:
    """Every string value in a parsed YAML tree (comments are not part of it)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings_in(value)]
    return [node] if isinstance(node, str) else []


def image_is_pinned(image: str) -> bool:
    """True for name:tag (tag not latest) or name@sha256:digest."""
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]  # a registry host may carry a port: host:5000/name:tag
    tag = name.partition(":")[2]
    return bool(tag) and tag != "latest"


def dockerfile_bases(dockerfile: Path) -> list[str]:
    """The image of every FROM line (flags and `AS name` dropped; earlier stages excluded)."""
    bases, stages = [], set()
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        words = [w for w in words[1:] if not w.startswith("--")]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if words[0] not in stages:
            bases.append(words[0])
    return bases


def test_compose_has_required_services():
    assert REQUIRED_SERVICES <= SERVICES.keys(), f"missing: {REQUIRED_SERVICES - SERVICES.keys()}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name):
    service = SERVICES[name]
    assert "image" in service or "build" in service, f"{name} has neither image nor build"
    if "build" in service:
        build = service["build"]
        build = {"context": build} if isinstance(build, str) else build
        dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        for base in dockerfile_bases(dockerfile):
            assert image_is_pinned(base), f"{dockerfile.name}: FROM {base} has no pinned tag"
    if "image" in service:
        assert image_is_pinned(service["image"]), f"{name}: image {service['image']} has no pinned tag"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_published_ports_are_loopback_only(name):
    for port in published_ports(SERVICES[name]):
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ray_gcs_and_client_ports_are_not_published(name):
    for port in published_ports(SERVICES[name]):
        numbers = {int(p) for p in re.findall(r"\d+", port.split("/")[0].removeprefix("127.0.0.1:"))}
        assert not numbers & RAY_PRIVATE_PORTS, f"{name} publishes a Ray-internal port: {port}"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_long_running_services_have_healthchecks(name):
    healthcheck = SERVICES[name].get("healthcheck") or {}
    assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_waits_for_health_or_completion(name):
    depends_on = SERVICES[name].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on must name a condition per service"
    for dependency, spec in depends_on.items():
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert (spec or {}).get("condition") == expected, f"{name} -> {dependency}: want {expected}"


def test_ray_worker_reserves_gpus():
    devices = SERVICES["ray-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)


def test_ray_worker_can_scale():
    worker = SERVICES["ray-worker"]
    assert "container_name" not in worker, "a fixed container_name breaks --scale ray-worker=N"
    assert not published_ports(worker), "a fixed host port breaks --scale ray-worker=N"


def test_ray_nodes_use_gcs_port_6380():
    assert "--head" in command_text(SERVICES["ray-head"])
    assert "--port=6380" in command_text(SERVICES["ray-head"])
    assert "--address=ray-head:6380" in command_text(SERVICES["ray-worker"])


def test_ray_head_offers_no_cpus_to_trials():
    # Trials run on workers only, so a trial whose worker dies moves to another worker (tests/compose/up.sh).
    assert "--num-cpus=0" in command_text(SERVICES["ray-head"])
    assert "--num-cpus" not in command_text(SERVICES["ray-worker"])


@pytest.mark.parametrize("name", RAY_NODES)
def test_ray_nodes_link_the_ui_the_host_opens(name):
    # The driver's MLflow links name the published port, not the compose network's http://mlflow:5000.
    assert env_of(SERVICES[name]).get("RESNET_SWEEP_UI_URL") == "http://127.0.0.1:5000"


@pytest.mark.parametrize("name", RAY_NODES)
def test_ray_nodes_use_token_auth(name):
    env = env_of(SERVICES[name])
    assert env.get("RAY_AUTH_MODE") == "token"
    assert env.get("RAY_AUTH_TOKEN") == "${RAY_AUTH_TOKEN}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_literals(name):
    for key, value in env_of(SERVICES[name]).items():
        if any(word in key.upper() for word in SECRET_WORDS):
            assert WHOLE_VAR_REF.fullmatch(value), f"{name}: {key} must be a ${{VAR}} from .env"
        for password in URI_PASSWORD.findall(value):
            assert WHOLE_VAR_REF.fullmatch(password), f"{name}: {key} has a literal password in a URI"


def test_mlflow_uses_basic_auth_and_allowed_hosts():
    command = command_text(SERVICES["mlflow"])
    assert "--app-name basic-auth" in command
    assert "--allowed-hosts" in command


def test_dockerfile_ray_version_matches_pyproject():
    (base,) = dockerfile_bases(ROOT / "Dockerfile")
    image_version = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)(-\S+)?", base)
    assert image_version, f"Dockerfile should build FROM rayproject/ray:X.Y.Z-...; got {base}"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [m[2] for d in dependencies if (m := re.fullmatch(r"ray(\[[^\]]*\])?\s*==\s*(\S+)", d.strip()))]
    assert pins == [image_version[1]], f"pyproject pins ray {pins}, Dockerfile uses {image_version[1]}"


def test_env_example_defines_every_required_variable():
    example = (ROOT / ".env.example").read_text()
    defined = {line.split("=", 1)[0].strip() for line in example.splitlines() if re.match(r"\s*\w+=", line)}
    required = {
        var
        for text in strings_in(_load_compose())
        for var, modifier in VAR_REF.findall(text)
        if not modifier.lstrip(":").startswith(("-", "+"))  # ${VAR:-x} has a default
    }
    assert required, "expected the compose file to take its secrets from .env"
    assert required <= defined, f".env.example lacks {sorted(required - defined)}"


def test_env_example_holds_only_placeholders():
    for line in (ROOT / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#") and any(w in key for w in SECRET_WORDS):
            assert value.strip() == "change-me", f".env.example: {key} should be change-me"


def test_images_never_contain_env_file():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored, ".dockerignore must exclude .env so no secret is baked into an image"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounted_files_exist(name):
    for volume in SERVICES[name].get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
