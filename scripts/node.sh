#!/usr/bin/env bash
# Builds (from the Go module proxy) the parts of a real Kubernetes node for `npm run test:node`: kubelet,
# kube-controller-manager and kube-scheduler (the same k8s.io/kubernetes version and module versions as
# scripts/control-plane.sh, so the Go build cache is shared), containerd + its runc shim + ctr, runc, the CNI
# reference plugins the node uses, and a pause image built from Kubernetes' own pause.c. Cached OUTSIDE the
# repository, beside the control plane's binaries.
#
#   bash scripts/node.sh build     build what is missing (idempotent; seconds when cached)
#   bash scripts/node.sh check     verify every binary is there and reports its pinned version
#   bash scripts/node.sh path      print the folder holding the binaries (CNI plugins in PATH/cni)
#   bash scripts/node.sh versions  print the pinned versions
#   bash scripts/node.sh sandbox CMD...
#                                  run CMD (as root) in new network, mount and PID namespaces, loopback up: what the
#                                  node does to networking and mounts stays inside, and every process it leaves is
#                                  killed when CMD ends (npm run test:node runs its suite this way)
#
# Needs: go (>= 1.26), gcc with a static libc (pause), libseccomp-dev (runc's seccomp support; the build fails
# with one line saying so when it is missing), flock. Build times and sizes are appended to BUILD/build.log.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONTAINERD_VERSION=2.4.2 # github.com/containerd/containerd/v2
RUNC_VERSION=1.5.3       # github.com/opencontainers/runc (cgroup v1 still supported)
CNI_PLUGINS_VERSION=1.10.0 # github.com/containernetworking/plugins
CNI_PLUGINS="main/bridge ipam/host-local main/loopback meta/portmap"
# Kubernetes' pause version for this release (cmd/kubeadm/app/constants PauseVersion, build/pause/Makefile TAG).
PAUSE_VERSION=3.10.2
PAUSE_IMAGE="registry.k8s.io/pause:$PAUSE_VERSION"

# One source of truth for the Kubernetes version and the cache root: scripts/control-plane.sh.
K8S_VERSION=$(bash "$ROOT/scripts/control-plane.sh" versions | sed -n 's/^kubernetes=\([^ ]*\).*/\1/p')
[ -n "$K8S_VERSION" ] || {
  echo "node: error: could not read the Kubernetes version from scripts/control-plane.sh" >&2
  exit 1
}
CP_BIN=$(bash "$ROOT/scripts/control-plane.sh" path)
CP_BUILD="$(dirname "$CP_BIN")/build"
CACHE_ROOT="${OPENIRSA_CACHE:-$HOME/.cache/openirsa}"
STAMP="node-k8s-${K8S_VERSION}-containerd-${CONTAINERD_VERSION}-runc-${RUNC_VERSION}-cni-${CNI_PLUGINS_VERSION}"
BIN="${OPENIRSA_NODE_BIN:-$CACHE_ROOT/$STAMP/bin}"
BUILD="$CACHE_ROOT/$STAMP/build"

log() { printf 'node: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# kube-controller-manager and kube-scheduler run the chart's Deployment and DaemonSet on the node.
K8S_COMMANDS="kubelet kube-controller-manager kube-scheduler"
BINARIES="$K8S_COMMANDS containerd containerd-shim-runc-v2 ctr runc"

reported_version() {
  case "$1" in
    kubelet | kube-controller-manager | kube-scheduler) "$BIN/$1" --version 2>/dev/null | awk '{print $2}' ;;
    containerd | ctr) "$BIN/$1" --version 2>/dev/null | awk '{print $3}' ;;
    containerd-shim-runc-v2) "$BIN/$1" -v 2>/dev/null | awk '/Version:/{print $2; exit}' ;;
    runc) "$BIN/runc" --version 2>/dev/null | awk '/^runc version/{print "v"$3}' ;;
  esac
}

expected_version() {
  case "$1" in
    kubelet | kube-controller-manager | kube-scheduler) echo "v$K8S_VERSION" ;;
    containerd | ctr | containerd-shim-runc-v2) echo "v$CONTAINERD_VERSION" ;;
    runc) echo "v$RUNC_VERSION" ;;
  esac
}

is_current() { [ -x "$BIN/$1" ] && [ "$(reported_version "$1")" = "$(expected_version "$1")" ]; }
cni_current() { [ "$(cat "$BIN/cni/VERSION" 2>/dev/null)" = "v$CNI_PLUGINS_VERSION" ]; }
pause_current() { [ "$(cat "$BIN/pause/VERSION" 2>/dev/null)" = "$PAUSE_IMAGE" ] && [ -s "$BIN/pause/pause-oci.tar" ]; }

# Runs a build step niced (2 shared cores) under /usr/bin/time -v when present; appends wall time, peak RSS and
# the output's size to build.log.
timed() {
  local name=$1 out=$2
  shift 2
  local t0=$SECONDS rss=""
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$BUILD/$name.time" nice -n 19 "$@"
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$BUILD/$name.time")
  else
    nice -n 19 "$@"
  fi
  printf '%s\t%s\twall_s=%s\tpeak_rss_kb=%s\tsize_bytes=%s\tgo=%s\n' "$(date -u +%FT%TZ)" "$name" \
    "$((SECONDS - t0))" "${rss:-?}" "$(du -sb "$out" 2>/dev/null | cut -f1 || echo "?")" "$(go env GOVERSION)" |
    tee -a "$BUILD/build.log" >&2
}

go_env() {
  command -v go >/dev/null || die "go is not on PATH (Go >= 1.26 is needed to build the node)"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
}

# A wrapper module requiring MODULE@VERSION, so its own replace directives do not apply.
wrapper() {
  local dir="$BUILD/$1" module=$2
  mkdir -p "$dir"
  cd "$dir"
  [ -f go.mod ] || go mod init "openirsa-$1-build.invalid" >/dev/null 2>&1
  go get "$module"
}

# A copy of the control plane's wrapper module for k8s.io/kubernetes (the same versions of every module, so the same
# Go build cache entries as kube-apiserver's build; a copy, so this never writes into the control plane's folder).
k8s_module() {
  [ -f "$CP_BUILD/kubernetes/go.mod" ] ||
    die "run \`bash scripts/control-plane.sh build\` first (the kubelet and pause.c come from its k8s.io/kubernetes module)"
  mkdir -p "$BUILD/kubernetes"
  cp "$CP_BUILD/kubernetes/go.mod" "$CP_BUILD/kubernetes/go.sum" "$BUILD/kubernetes/"
  echo "$BUILD/kubernetes"
}

# A command of k8s.io/kubernetes (kubelet, kube-controller-manager, kube-scheduler) with the control plane's flags
# (version ldflags, CGO_ENABLED=0, -trimpath), from a copy of its wrapper module: mostly its cached packages.
build_k8s() {
  local cmd=$1 dir minor ld p
  dir=$(k8s_module)
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (
    cd "$dir"
    log "building $cmd v$K8S_VERSION (cold: many minutes; after kube-apiserver: mostly its cached packages)"
    CGO_ENABLED=0 timed "$cmd" "$BIN/.$cmd.new" go build -trimpath -ldflags "$ld" -o "$BIN/.$cmd.new" \
      "k8s.io/kubernetes/cmd/$cmd"
    mv -f "$BIN/.$cmd.new" "$BIN/$cmd"
  )
}

build_containerd() {
  (
    wrapper containerd "github.com/containerd/containerd/v2@v$CONTAINERD_VERSION"
    local cmd ld="-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION"
    ld="$ld -X github.com/containerd/containerd/v2/version.Revision=v$CONTAINERD_VERSION"
    for cmd in containerd containerd-shim-runc-v2 ctr; do
      is_current "$cmd" && continue
      log "building $cmd v$CONTAINERD_VERSION"
      # No btrfs/zfs/devmapper snapshotters (cgo, unused): the node uses overlayfs.
      CGO_ENABLED=0 timed "$cmd" "$BIN/.$cmd.new" go build -trimpath -tags "no_btrfs no_zfs no_devmapper" \
        -ldflags "$ld" -o "$BIN/.$cmd.new" "github.com/containerd/containerd/v2/cmd/$cmd"
      mv -f "$BIN/.$cmd.new" "$BIN/$cmd"
    done
  )
}

# runc needs cgo (its nsexec is C); seccomp through libseccomp, as distributions build it.
build_runc() {
  [ -f /usr/include/seccomp.h ] || die "libseccomp-dev is missing (runc is built with seccomp): apt-get install -y libseccomp-dev"
  command -v gcc >/dev/null || die "gcc is missing (runc needs cgo): apt-get install -y gcc"
  (
    wrapper runc "github.com/opencontainers/runc@v$RUNC_VERSION"
    log "building runc v$RUNC_VERSION (seccomp)"
    CGO_ENABLED=1 timed runc "$BIN/.runc.new" go build -trimpath -tags seccomp \
      -ldflags "-s -w -X main.version=$RUNC_VERSION -X main.gitCommit=v$RUNC_VERSION" -o "$BIN/.runc.new" \
      github.com/opencontainers/runc
    mv -f "$BIN/.runc.new" "$BIN/runc"
  )
}

build_cni() {
  (
    wrapper cni "github.com/containernetworking/plugins@v$CNI_PLUGINS_VERSION"
    rm -rf "$BIN/.cni.new" && mkdir -p "$BIN/.cni.new"
    local p ld="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION"
    for p in $CNI_PLUGINS; do
      log "building CNI plugin ${p#*/} v$CNI_PLUGINS_VERSION"
      CGO_ENABLED=0 timed "cni-${p#*/}" "$BIN/.cni.new/${p#*/}" go build -trimpath -ldflags "$ld" \
        -o "$BIN/.cni.new/${p#*/}" "github.com/containernetworking/plugins/plugins/$p"
    done
    echo "v$CNI_PLUGINS_VERSION" >"$BIN/.cni.new/VERSION"
    rm -rf "$BIN/cni" && mv "$BIN/.cni.new" "$BIN/cni"
  )
}

# The pod sandbox image: Kubernetes' pause.c (from the k8s.io/kubernetes module) compiled static, as one layer of
# an OCI image layout written here (fixed times and owners, so the same input gives the same digest), archived
# for `ctr images import`.
build_pause() {
  command -v gcc >/dev/null || die "gcc is missing (the pause image is built from pause.c): apt-get install -y gcc"
  local src dir="$BUILD/pause" layout mod
  mod=$(k8s_module)
  src=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -f "$src/build/pause/linux/pause.c" ] || die "pause.c not found in k8s.io/kubernetes@v$K8S_VERSION"
  rm -rf "$dir" && mkdir -p "$dir/rootfs" "$dir/oci/blobs/sha256"
  log "building pause $PAUSE_VERSION (static)"
  timed pause "$dir/rootfs/pause" gcc -Os -Wall -Werror -static "-DVERSION=v$PAUSE_VERSION-openirsa" \
    -o "$dir/rootfs/pause" "$src/build/pause/linux/pause.c"
  strip "$dir/rootfs/pause"
  layout="$dir/oci"
  blob() { # FILE -> prints "sha256 size" and moves FILE into the layout
    local sha size
    sha=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv "$1" "$layout/blobs/sha256/$sha"
    echo "$sha $size"
  }
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir/rootfs" -cf "$dir/layer.tar" pause
  local diff_id layer config manifest
  diff_id=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  gzip -n -9 "$dir/layer.tar"
  read -r -a layer <<<"$(blob "$dir/layer.tar.gz")"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"65535:65535","Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff_id" >"$dir/config.json"
  read -r -a config <<<"$(blob "$dir/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "${config[0]}" "${config[1]}" "${layer[0]}" "${layer[1]}" >"$dir/manifest.json"
  read -r -a manifest <<<"$(blob "$dir/manifest.json")"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${manifest[0]}" "${manifest[1]}" "$PAUSE_IMAGE" "$PAUSE_VERSION" >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  mkdir -p "$BIN/.pause.new"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$BIN/.pause.new/pause-oci.tar" .
  echo "$PAUSE_IMAGE" >"$BIN/.pause.new/VERSION"
  rm -rf "$BIN/pause" && mv "$BIN/.pause.new" "$BIN/pause"
}

check() {
  local bad=0 b
  for b in $BINARIES; do
    if is_current "$b"; then
      log "ok $b $(expected_version "$b") ($BIN/$b)"
    else
      log "MISSING or wrong version: $BIN/$b (want $(expected_version "$b"), got '$(reported_version "$b")')"
      bad=1
    fi
  done
  if cni_current && for p in $CNI_PLUGINS; do [ -x "$BIN/cni/${p#*/}" ] || exit 1; done; then
    log "ok CNI plugins v$CNI_PLUGINS_VERSION: $(for p in $CNI_PLUGINS; do printf '%s ' "${p#*/}"; done)($BIN/cni)"
  else
    log "MISSING CNI plugins v$CNI_PLUGINS_VERSION in $BIN/cni"
    bad=1
  fi
  if pause_current; then
    log "ok pause image $PAUSE_IMAGE ($BIN/pause/pause-oci.tar)"
  else
    log "MISSING pause image $PAUSE_IMAGE in $BIN/pause"
    bad=1
  fi
  if [ $bad = 0 ] && [ -x "$BIN/runc" ] && ! "$BIN/runc" --version | grep -q '^libseccomp: '; then
    log "runc was built without seccomp"
    bad=1
  fi
  return $bad
}

build() {
  if [ -n "${OPENIRSA_NODE_BIN:-}" ]; then
    check || die "OPENIRSA_NODE_BIN=$OPENIRSA_NODE_BIN does not hold the pinned binaries"
    return 0
  fi
  mkdir -p "$BIN" "$BUILD"
  exec 8>"$BUILD/.lock"
  flock 8
  if check 2>/dev/null; then
    log "all node binaries present in $BIN"
    return 0
  fi
  go_env
  is_current runc || build_runc
  { is_current containerd && is_current containerd-shim-runc-v2 && is_current ctr; } || build_containerd
  cni_current || build_cni
  pause_current || build_pause
  for c in $K8S_COMMANDS; do is_current "$c" || build_k8s "$c"; done
  check
}

# PID 1 of the sandbox. /run is a tmpfs of its own (containerd's shim sockets, runc's state and ctr's fifos go to
# /run/containerd whatever the config says). The kubelet sets machine-wide sysctls (vm.*, kernel.*: not per network
# namespace) to its preferred values, e.g. kernel.panic_on_oops=1: each file is shadowed by a private copy so the
# kubelet changes the copy, never the machine.
SANDBOX_INIT='set -e
ip link set lo up
mount -t tmpfs -o mode=0755,size=64m openirsa-run /run
mkdir /run/openirsa-sysctl
for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  cp "/proc/sys/$f" "/run/openirsa-sysctl/${f//\//.}"
  mount --bind "/run/openirsa-sysctl/${f//\//.}" "/proc/sys/$f"
done
set +e
"$@"
exit $?'

case "${1:-}" in
  build) build ;;
  check) check || die "missing or stale node binaries (above): run \`bash scripts/node.sh build\` (after \`bash scripts/control-plane.sh build\`)" ;;
  path) echo "$BIN" ;;
  versions)
    printf 'kubernetes=%s containerd=%s runc=%s cni-plugins=%s pause=%s\n' "$K8S_VERSION" "$CONTAINERD_VERSION" \
      "$RUNC_VERSION" "$CNI_PLUGINS_VERSION" "$PAUSE_VERSION"
    ;;
  pause-image) echo "$PAUSE_IMAGE" ;;
  sandbox)
    shift
    [ $# -gt 0 ] || die "usage: node.sh sandbox CMD..."
    [ "$(id -u)" = 0 ] || die "the node suite runs containers and a kubelet: run it as root"
    for c in unshare ip; do command -v $c >/dev/null || die "'$c' is missing (util-linux, iproute2)"; done
    # bash stays PID 1 of the namespace (it reaps orphans; not exec'd away), and its end kills everything left.
    exec unshare --pid --fork --kill-child --mount-proc --net --mount --propagation private -- \
      env OPENIRSA_NODE_SANDBOX=1 bash -c "$SANDBOX_INIT" node-sandbox "$@"
    ;;
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
