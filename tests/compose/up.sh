#!/usr/bin/env bash
# Opt-in bring-up of docker-compose.yml on a machine that runs a Docker engine but cannot reach Docker
# Hub (issue 22; not part of tests/run.sh, CI does not run it). Run as root from anywhere:
#   tests/compose/up.sh            engine, stand-in images, project images, up --wait, checks, down -v
#   tests/compose/up.sh --keep     the same, but leave the stack running (then: tests/compose/up.sh down)
#   tests/compose/up.sh build      only the engine and the images
#   tests/compose/up.sh down       docker compose down -v, and show that nothing is left
# Figures (build times, time to healthy, smoke and fault results) go to $STATE/figures.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/compose"
STATE="${COMPOSE_STATE_DIR:-/var/tmp/resnet-sweeps-compose}"
FIGURES="$STATE/figures.txt"
BASE=resnet-sweeps-standin/debian:bookworm
WORKERS="${COMPOSE_WORKERS:-2}"
PY="${COMPOSE_PYTHON:-$ROOT/.venv/bin/python}"  # host side: the project's venv (ray CLI, mlflow, boto3)
compose() {
    docker compose -p resnet-sweeps --project-directory "$ROOT" --env-file "$STATE/.env" \
        -f "$ROOT/docker-compose.yml" -f "$HERE/standins.override.yml" "$@"
}
say() { printf '\n== %s\n' "$*"; }
figure() { printf '%s\n' "$*" | tee -a "$FIGURES"; }
timed() {  # timed LABEL CMD...: run CMD, record its wall time under LABEL
    local label="$1" t0; shift
    t0=$(date +%s.%N)
    "$@"
    figure "$(printf '%s: %.1f s' "$label" "$(echo "$(date +%s.%N) - $t0" | bc)")"
}

engine() {
    say "Docker engine"
    command -v dockerd >/dev/null || apt-get install -y docker.io
    command -v debootstrap >/dev/null || apt-get install -y debootstrap
    if ! docker info >/dev/null 2>&1; then
        mkdir -p "$STATE"
        nohup dockerd >"$STATE/dockerd.log" 2>&1 &
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    fi
    docker info --format 'engine {{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}'
    docker compose version >/dev/null 2>&1 || compose_plugin
    docker compose version
}

compose_plugin() {
    # Compose v2 is not in bookworm; trixie's docker-compose package is the v2 binary (static, needs
    # only libc), placed as the CLI plugin. Fetched with a private apt state, so the host's sources stay.
    local d; d="$(mktemp -d)"
    mkdir -p "$d/lists/partial" "$d/cache"
    echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' >"$d/sources.list"
    local o=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
    apt-get "${o[@]}" update -q
    (cd "$d" && apt-get "${o[@]}" download docker-compose && dpkg-deb -x docker-compose_*.deb x)
    install -D -m 0755 "$d/x/usr/libexec/docker/cli-plugins/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
    rm -rf "$d"
}

base_image() {
    docker image inspect "$BASE-rootfs" >/dev/null 2>&1 && return
    local d; d="$(mktemp -d /var/tmp/standin-rootfs.XXXX)"
    debootstrap --variant=minbase bookworm "$d" http://deb.debian.org/debian
    tar -C "$d" -c . | docker import - "$BASE-rootfs"
    rm -rf "$d"
}

standins() {
    say "Stand-ins for the upstream images (tests/compose/standins/)"
    local s="$HERE/standins"
    timed "stand-in base (debootstrap minbase + import)" base_image
    local ctx; ctx="$(mktemp -d)"
    mkdir "$ctx/host-ca"
    cp /usr/local/share/ca-certificates/*.crt "$ctx/host-ca/" 2>/dev/null || true
    timed "stand-in base layer" docker build -q -t "$BASE" -f "$s/base.Dockerfile" "$ctx"
    rm -rf "$ctx"
    timed "stand-in rayproject/ray" docker build -q -t rayproject/ray:2.60.0-py311-gpu -f "$s/ray.Dockerfile" "$s"
    timed "stand-in python" docker build -q -t python:3.11.13-slim-bookworm -f "$s/python.Dockerfile" "$s"
    timed "stand-in postgres" docker build -q -t postgres:16.10-alpine "$s/postgres"
    timed "stand-in minio" docker build -q --target minio -t minio/minio:RELEASE.2025-09-07T16-13-09Z "$s/minio"
    timed "stand-in mc" docker build -q --target mc -t minio/mc:RELEASE.2025-08-13T08-35-41Z "$s/minio"
    timed "stand-in prometheus" docker build -q -t prom/prometheus:v3.5.0 -f "$s/prometheus.Dockerfile" "$s"
}

compose_build() { DOCKER_BUILDKIT=0 compose build; }

project_images() {
    say "The project's Dockerfile and docker/mlflow.Dockerfile, unchanged, on the stand-ins"
    # The classic builder reads FROM images from the local store; it never asks a registry for a tag it has.
    timed "project images (compose build)" compose_build
}

make_env() {
    # Every secret random and hex (safe in URLs), as docs/cluster.md tells users; kept outside the
    # repository, readable by root only.
    mkdir -p "$STATE"
    [ -s "$STATE/.env" ] && return
    local v; v() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
    umask 077
    cat >"$STATE/.env" <<ENV
POSTGRES_PASSWORD=$(v)
MINIO_ROOT_USER=$(v)
MINIO_ROOT_PASSWORD=$(v)
MLFLOW_TRACKING_USERNAME=admin
MLFLOW_TRACKING_PASSWORD=$(v)
MLFLOW_FLASK_SERVER_SECRET_KEY=$(v)
GRAFANA_ADMIN_PASSWORD=$(v)
RAY_AUTH_TOKEN=$(v)
RAY_SHM_SIZE=2gb
ENV
}

free_ports() {
    local busy
    busy="$(ss -ltnH | awk '{print $4}' | grep -E '^127\.0\.0\.1:(5000|8265|9000|9090)$|^(0\.0\.0\.0|\*|\[::\]):(5000|8265|9000|9090)$' || true)"
    [ -z "$busy" ] || { echo "host ports in use, needed by docker-compose.yml: $busy" >&2; exit 1; }
}

up() {
    say "docker compose up -d --wait (ray-worker x$WORKERS)"
    compose --profile no-standin down -v --remove-orphans >/dev/null 2>&1  # a stack left by --keep
    free_ports
    timed "time to healthy (up -d --wait)" compose up -d --wait --scale "ray-worker=$WORKERS"
    compose ps -a --format 'table {{.Service}}\t{{.State}}\t{{.Status}}'
}

checks() {
    say "What docs/cluster.md tells a user, from the host; then the faults"
    COMPOSE_ENV_FILE="$STATE/.env" COMPOSE_FIGURES="$FIGURES" COMPOSE_STATE_DIR="$STATE" \
        "$PY" "$HERE/checks.py"
}

down() {
    say "docker compose down -v"
    compose --profile no-standin down -v --remove-orphans
    local left
    left="$(docker ps -aq --filter label=com.docker.compose.project=resnet-sweeps)$(docker volume ls -q --filter label=com.docker.compose.project=resnet-sweeps)$(docker network ls -q --filter label=com.docker.compose.project=resnet-sweeps)"
    [ -z "$left" ] || { echo "left behind: $left" >&2; exit 1; }
    figure "down -v: no container, volume or network of the project left"
}

case "${1:-all}" in
    down) down ;;
    build) mkdir -p "$STATE"; : >"$FIGURES"; engine; standins; make_env; project_images ;;
    all|--keep)
        mkdir -p "$STATE"; : >"$FIGURES"
        engine; standins; make_env; project_images; up; checks
        [ "${1:-}" = --keep ] || down ;;
    *) echo "usage: $0 [--keep|build|down]" >&2; exit 2 ;;
esac
