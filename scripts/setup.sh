#!/usr/bin/env bash
# Installs and starts what kopi-docka needs on a Debian machine, idempotently:
#   - a Docker engine (Debian's docker.io; dockerd started in the background when none answers)
#   - Kopia (the pinned version, built with the Go toolchain when `kopia` is missing or another version)
#   - GNU tar, attr (getfattr/setfattr) and GNU find, which kopi-docka runs
#   - the npm packages and the build (dist/)
# With --test it also installs the tools the tests use (docker-compose, acl, libcap2-bin, busybox-static)
# and builds the local busybox test image `kopi-docka-test:latest` with `docker import`.
set -euo pipefail

KOPIA_VERSION="${KOPIA_VERSION:-v0.23.1}"
TEST_IMAGE="${KOPI_DOCKA_TEST_IMAGE:-kopi-docka-test:latest}"
want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "setup.sh: unknown option $arg (known: --test)" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[setup] %s\n' "$*" >&2; }
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- Docker engine ---------------------------------------------------------------------------
docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
if ! docker_answers; then
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/kopi-docka-dockerd.log)"
    nohup dockerd >/var/log/kopi-docka-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker_answers && break; sleep 1; done
  if ! docker_answers; then
    log "dockerd did not answer; retrying with --iptables=false"
    pkill -x dockerd || true
    sleep 2
    nohup dockerd --iptables=false >/var/log/kopi-docka-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker_answers && break; sleep 1; done
  fi
  docker_answers || { log "the Docker engine did not start; see /var/log/kopi-docka-dockerd.log"; exit 1; }
fi
log "docker engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

# --- Kopia -----------------------------------------------------------------------------------
kopia_ok() { command -v kopia >/dev/null 2>&1 && kopia --version 2>/dev/null | grep -q "^${KOPIA_VERSION#v} "; }
if ! kopia_ok; then
  command -v go >/dev/null 2>&1 || apt_install golang-go
  log "building kopia ${KOPIA_VERSION} with $(go version) (takes a few minutes the first time)"
  # `go install module@version` asks the proxy for the module's version list, which not every
  # proxy serves; downloading the exact version and building it from the module cache does not.
  moddir="$(cd /tmp && go mod download -json "github.com/kopia/kopia@${KOPIA_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -n "$moddir" ] || { log "could not download github.com/kopia/kopia@${KOPIA_VERSION}"; exit 1; }
  gobin="$(go env GOPATH)/bin"
  mkdir -p "$gobin"
  (cd "$moddir" && go build -trimpath -o "$gobin/kopia" \
    -ldflags "-s -w -X github.com/kopia/kopia/repo.BuildVersion=${KOPIA_VERSION#v} -X github.com/kopia/kopia/repo.BuildInfo=go-module-${KOPIA_VERSION}" .)
  ln -sf "$gobin/kopia" /usr/local/bin/kopia
fi
kopia_ok || { log "kopia ${KOPIA_VERSION} is not on PATH after the build"; exit 1; }
log "kopia: $(kopia --version | head -1)"

# --- tools kopi-docka runs: GNU tar (TAR format), getfattr/setfattr (xattrs and ACLs of direct backups),
# GNU find (the walk of the data; without it kopi-docka walks with Node's slower calls)
command -v tar >/dev/null 2>&1 || apt_install tar
command -v getfattr >/dev/null 2>&1 && command -v setfattr >/dev/null 2>&1 || apt_install attr
find --version 2>/dev/null | grep -q 'GNU findutils' || apt_install findutils

# --- test tools and image --------------------------------------------------------------------
if [ $want_test -eq 1 ]; then
  apt_install docker-compose busybox-static acl attr libcap2-bin util-linux
  if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
    log "building test image $TEST_IMAGE from busybox-static"
    root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
      [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nwww-data:x:33:\nuser:x:1000:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$TEST_IMAGE" >/dev/null
    rm -rf "$root"
  fi
  log "test image: $TEST_IMAGE"
fi

# --- npm packages and build ------------------------------------------------------------------
cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "npm run build"
npm run build --silent
