#!/usr/bin/env bash
# Carnet's private Docker engine, for machines with no Docker daemon and no Docker Hub.
#
#   scripts/docker-engine.sh start        start (or reuse) a private dockerd; prints DOCKER_HOST=...
#   scripts/docker-engine.sh stop         stop the private dockerd we started (by its PID file)
#   scripts/docker-engine.sh status       prints DOCKER_HOST=... and exits 0 if an engine answers, 1 otherwise
#   scripts/docker-engine.sh build-image  start if needed, then build debian:bookworm-slim (debootstrap) and
#                                         carnet-jupyter:latest (skipped when already up to date)
#
# Environment:
#   CARNET_DOCKER_DIR   where the private engine lives (default /var/lib/carnet-docker)
#   CARNET_IMAGE        image tag to build (default carnet-jupyter:latest)
#   DOCKER_HOST         if set and reachable, that engine is used and nothing is started
#
# The daemon does not touch the host's network (--bridge=none --iptables=false --ip-forward=false
# --ip-masq=false): containers have no network (Jupyter on a Unix socket in a bind mount), or, for activities
# with Internet access, the "carnet-internet" bridge the spawner creates, whose NAT and firewall rules the
# spawner adds itself (spawner/egress.ts). See docs/spawner.md.
# Idempotent: starting twice reuses the running daemon; building twice reuses the images.
set -euo pipefail

DIR="${CARNET_DOCKER_DIR:-/var/lib/carnet-docker}"
IMAGE="${CARNET_IMAGE:-carnet-jupyter:latest}"
BASE_IMAGE="debian:bookworm-slim"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRIVATE_HOST="unix://$DIR/docker.sock"

log() { echo "docker-engine: $*" >&2; }
die() { log "$*"; exit 1; }

engine_ok() { DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Which engine to use: an explicit DOCKER_HOST, the system socket, or our private one.
current_host() {
  if [[ -n "${DOCKER_HOST:-}" ]] && engine_ok "$DOCKER_HOST"; then echo "$DOCKER_HOST"; return 0; fi
  if [[ -S /var/run/docker.sock ]] && engine_ok unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock; return 0; fi
  if [[ -S "$DIR/docker.sock" ]] && engine_ok "$PRIVATE_HOST"; then echo "$PRIVATE_HOST"; return 0; fi
  return 1
}

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || die "need root to install ${missing[*]}"
    command -v apt-get >/dev/null || die "not Debian: install ${missing[*]} yourself"
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
}

start_engine() {
  local host
  if host="$(current_host)"; then echo "DOCKER_HOST=$host"; return 0; fi
  [[ $EUID -eq 0 ]] || die "no Docker engine reachable and not root: cannot start a private one"
  ensure_packages
  mkdir -p "$DIR/data" "$DIR/exec"
  # A stale PID file from a daemon that died: remove it, or dockerd refuses to start.
  if [[ -f "$DIR/docker.pid" ]] && ! kill -0 "$(cat "$DIR/docker.pid")" 2>/dev/null; then rm -f "$DIR/docker.pid"; fi
  rm -f "$DIR/docker.sock"
  log "starting a private dockerd in $DIR"
  # setsid: the daemon outlives this script and the test run that called it.
  setsid dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/docker.pid" \
    -H "$PRIVATE_HOST" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    >"$DIR/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 300); do
    if engine_ok "$PRIVATE_HOST"; then echo "DOCKER_HOST=$PRIVATE_HOST"; return 0; fi
    sleep 0.1
  done
  tail -20 "$DIR/dockerd.log" >&2 || true
  die "dockerd did not answer within 30 s (log: $DIR/dockerd.log)"
}

stop_engine() {
  if [[ ! -f "$DIR/docker.pid" ]]; then log "no private engine running"; return 0; fi
  local pid; pid="$(cat "$DIR/docker.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local i
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid ignored SIGTERM, killing"; kill -KILL "$pid" || true; fi
  fi
  rm -f "$DIR/docker.pid" "$DIR/docker.sock"
  log "stopped"
}

debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")"
    [[ -n $uri ]] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) { print $i; exit } }' "$f")"
    [[ -n $uri ]] && { echo "$uri"; return 0; }
  done
  echo "http://deb.debian.org/debian"
}

build_image() {
  local host; host="$(start_engine | sed 's/^DOCKER_HOST=//')"
  export DOCKER_HOST="$host"
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    ensure_packages
    local mirror root; mirror="$(debian_mirror)"; root="$DIR/rootfs-bookworm"
    log "building $BASE_IMAGE with debootstrap from $mirror (about 30 s)"
    rm -rf "$root"; mkdir -p "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$DIR/debootstrap.log" 2>&1 \
      || { tail -20 "$DIR/debootstrap.log" >&2; die "debootstrap failed"; }
    # Point apt inside the image at the same mirror, with the security suite, like the official image.
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$root/etc/apt/sources.list"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    tar -C "$root" -c . | docker import - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
  fi
  local hash current
  # Every file of the build context, names included (config/ too).
  hash="$(cd "$ROOT/jupyter-image" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  current="$(docker image inspect -f '{{ index .Config.Labels "carnet.image-hash" }}' "$IMAGE" 2>/dev/null || true)"
  if [[ "$current" == "$hash" ]]; then log "$IMAGE is up to date ($hash)"; else
    log "building $IMAGE (about 45 s)"
    docker build --network=host --label "carnet.image-hash=$hash" -t "$IMAGE" "$ROOT/jupyter-image" >&2
  fi
  echo "DOCKER_HOST=$host"
}

case "${1:-}" in
  start) start_engine ;;
  stop) stop_engine ;;
  status) if host="$(current_host)"; then echo "DOCKER_HOST=$host"; else log "no engine reachable"; exit 1; fi ;;
  build-image) build_image ;;
  *) echo "usage: $0 start|stop|status|build-image" >&2; exit 2 ;;
esac
