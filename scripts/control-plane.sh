#!/usr/bin/env bash
# Builds (from the Go module proxy) and runs a real Kubernetes control plane for openirsa's e2e tests:
# kube-apiserver, kubectl, etcd and helm at pinned versions, cached OUTSIDE the repository.
#
#   bash scripts/control-plane.sh build          build what is missing (idempotent; seconds when cached)
#   bash scripts/control-plane.sh path           print the folder holding the binaries
#   bash scripts/control-plane.sh crds           print the folder holding cert-manager's and the ServiceMonitor CRDs
#   bash scripts/control-plane.sh check          verify every binary is there and reports the pinned version
#   bash scripts/control-plane.sh start [DIR]    start etcd + kube-apiserver in DIR (default: a temp dir),
#                                                print the kubeconfig path; stop them with `stop DIR`
#   bash scripts/control-plane.sh stop DIR       stop what `start DIR` started
#
# Environment: OPENIRSA_CACHE (default ~/.cache/openirsa), OPENIRSA_K8S_BIN (use binaries from this folder
# instead; `build` then only checks them). The tests use test/helpers/control-plane.ts, which reads the same
# folder (it asks this script for the path, so the versions pinned here are the only ones).
set -euo pipefail

K8S_VERSION=1.37.2  # k8s.io/kubernetes; staging modules k8s.io/* are v0.37.2
ETCD_VERSION=3.7.3  # go.etcd.io/etcd/server/v3; kubernetes v1.37 requires the etcd v3.7 client
HELM_VERSION=3.22.0 # helm.sh/helm/v3
# cert-manager's CRDs (plain YAML in its Go module) let the e2e suite validate deploy/'s Certificate and Issuer objects.
CERT_MANAGER_VERSION=1.21.2
CERT_MANAGER_CRDS="certificates issuers clusterissuers certificaterequests"
# prometheus-operator's ServiceMonitor CRD (in its Go module too) validates the Helm chart's optional ServiceMonitor.
PROMETHEUS_OPERATOR_VERSION=0.85.0

CACHE_ROOT="${OPENIRSA_CACHE:-$HOME/.cache/openirsa}"
STAMP="k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-helm-${HELM_VERSION}"
BIN="${OPENIRSA_K8S_BIN:-$CACHE_ROOT/$STAMP/bin}"
BUILD="$CACHE_ROOT/$STAMP/build"
CRDS="$(dirname "$BIN")/crds"

log() { printf 'control-plane: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Prints the version line a binary reports, or nothing when it is absent or broken.
reported_version() {
  case "$1" in
    kube-apiserver) "$BIN/kube-apiserver" --version 2>/dev/null | awk '{print $2}' ;;
    kubectl) "$BIN/kubectl" version --client -o yaml 2>/dev/null | awk '/gitVersion:/{print $2; exit}' ;;
    etcd) "$BIN/etcd" --version 2>/dev/null | awk '/^etcd Version:/{print "v"$3}' ;;
    helm) "$BIN/helm" version --template '{{.Version}}' 2>/dev/null ;;
  esac
}

expected_version() {
  case "$1" in
    kube-apiserver | kubectl) echo "v$K8S_VERSION" ;;
    etcd) echo "v$ETCD_VERSION" ;;
    helm) echo "v$HELM_VERSION" ;;
  esac
}

# helm's default Kubernetes version (Capabilities.KubeVersion, used by `helm template` against kubeVersion) is an
# ldflag; a stamp records it so a helm built without it is rebuilt.
HELM_RECIPE="kube=${K8S_VERSION%.*}"

is_current() {
  [ -x "$BIN/$1" ] && [ "$(reported_version "$1")" = "$(expected_version "$1")" ] || return 1
  [ "$1" != helm ] || [ "$(cat "$BIN/.helm.recipe" 2>/dev/null)" = "$HELM_RECIPE" ]
}

go_env() {
  command -v go >/dev/null || die "go is not on PATH (Go >= 1.26 is needed to build the control plane)"
  export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
}

# Runs a build step under /usr/bin/time -v (when present) and appends wall time and peak RSS to build.log.
timed() {
  local name=$1
  shift
  local t0 t1 rss=""
  t0=$(date +%s)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$BUILD/$name.time" nice -n 10 "$@"
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$BUILD/$name.time")
  else
    nice -n 10 "$@"
  fi
  t1=$(date +%s)
  local size
  size=$(stat -c %s "$BIN/.$name.new" 2>/dev/null || echo "?")
  printf '%s\t%s\twall_s=%s\tpeak_rss_kb=%s\tsize_bytes=%s\tgo=%s\n' "$(date -u +%FT%TZ)" "$name" \
    "$((t1 - t0))" "${rss:-?}" "$size" "$(go env GOVERSION)" | tee -a "$BUILD/build.log" >&2
}

# The kubernetes module requires every staging module at v0.0.0 and replaces them with ./staging paths, which
# a dependent module cannot use; a wrapper module replaces each k8s.io/<staging> with its published v0.N.P tag.
build_kubernetes() {
  local dir="$BUILD/kubernetes" minor gomod mods
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  mkdir -p "$dir"
  (
    cd "$dir"
    [ -f go.mod ] || go mod init openirsa-k8s-build.invalid >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -n "$gomod" ] || die "could not download k8s.io/kubernetes@v$K8S_VERSION"
    mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod")
    [ -n "$mods" ] || die "no staging replaces found in $gomod"
    for m in $mods; do go mod edit -replace="$m=$m@v0.${K8S_VERSION#1.}"; done
    go get "k8s.io/kubernetes@v$K8S_VERSION"
    local ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    for cmd in kube-apiserver kubectl; do
      is_current "$cmd" && continue
      log "building $cmd v$K8S_VERSION (cold: many minutes)"
      timed "$cmd" go build -trimpath -ldflags "$ld" -o "$BIN/.$cmd.new" "k8s.io/kubernetes/cmd/$cmd"
      mv -f "$BIN/.$cmd.new" "$BIN/$cmd"
    done
  )
}

# etcd's server module has ../ replaces too; a wrapper module that requires it at the tag resolves them.
build_etcd() {
  local dir="$BUILD/etcd"
  mkdir -p "$dir"
  (
    cd "$dir"
    [ -f go.mod ] || go mod init openirsa-etcd-build.invalid >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    log "building etcd v$ETCD_VERSION"
    timed etcd go build -trimpath -ldflags "-s -w" -o "$BIN/.etcd.new" go.etcd.io/etcd/server/v3
    mv -f "$BIN/.etcd.new" "$BIN/etcd"
  )
}

build_helm() {
  local dir="$BUILD/helm"
  mkdir -p "$dir"
  (
    cd "$dir"
    [ -f go.mod ] || go mod init openirsa-helm-build.invalid >/dev/null 2>&1
    go get "helm.sh/helm/v3@v$HELM_VERSION"
    # Align helm's k8s.io libraries with the kube-apiserver build (same patch line) so the Go build cache is shared.
    local m mods=""
    for m in $(go list -m all | awk '$1 ~ /^k8s\.io\/(api|apimachinery|apiextensions-apiserver|apiserver|cli-runtime|client-go|component-base|component-helpers|kubectl|metrics)$/ {print $1}'); do
      mods="$mods $m@v0.${K8S_VERSION#1.}"
    done
    [ -z "$mods" ] || go get $mods
    log "building helm v$HELM_VERSION"
    local minor ld
    minor=$(echo "$K8S_VERSION" | cut -d. -f2)
    ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
    for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
    done
    timed helm go build -trimpath -ldflags "$ld" -o "$BIN/.helm.new" helm.sh/helm/v3/cmd/helm
    mv -f "$BIN/.helm.new" "$BIN/helm"
    echo "$HELM_RECIPE" >"$BIN/.helm.recipe"
  )
}

# Prints the folder of a Go module downloaded through the module proxy.
module_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$dir" ] || die "could not download $1"
  echo "$dir"
}

# Not a build: copies the CRDs out of their modules (downloaded through the Go module proxy).
fetch_crds() {
  local dir crd
  dir=$(module_dir "github.com/cert-manager/cert-manager@v$CERT_MANAGER_VERSION")
  mkdir -p "$CRDS"
  for crd in $CERT_MANAGER_CRDS; do
    cp "$dir/deploy/crds/cert-manager.io_$crd.yaml" "$CRDS/cert-manager.io_$crd.yaml"
    chmod 644 "$CRDS/cert-manager.io_$crd.yaml"
  done
  dir=$(module_dir "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION")
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$CRDS/"
  chmod 644 "$CRDS/monitoring.coreos.com_servicemonitors.yaml"
  echo "v$PROMETHEUS_OPERATOR_VERSION" >"$CRDS/PROMETHEUS_OPERATOR_VERSION"
  echo "v$CERT_MANAGER_VERSION" >"$CRDS/VERSION"
}

# One stamp per source, so a checkout that knows only cert-manager's still finds its own stamp current.
crds_current() {
  [ "$(cat "$CRDS/VERSION" 2>/dev/null)" = "v$CERT_MANAGER_VERSION" ] &&
    [ "$(cat "$CRDS/PROMETHEUS_OPERATOR_VERSION" 2>/dev/null)" = "v$PROMETHEUS_OPERATOR_VERSION" ]
}

check() {
  local bad=0 b
  for b in etcd kube-apiserver kubectl helm; do
    if is_current "$b"; then
      log "ok $b $(expected_version "$b") ($BIN/$b)"
    else
      log "MISSING or wrong version: $BIN/$b (want $(expected_version "$b"), got '$(reported_version "$b")')"
      bad=1
    fi
  done
  if crds_current; then
    log "ok CRDs: cert-manager v$CERT_MANAGER_VERSION, ServiceMonitor v$PROMETHEUS_OPERATOR_VERSION ($CRDS)"
  else
    log "MISSING CRDs (cert-manager v$CERT_MANAGER_VERSION, ServiceMonitor v$PROMETHEUS_OPERATOR_VERSION) in $CRDS"
    bad=1
  fi
  return $bad
}

build() {
  if [ -n "${OPENIRSA_K8S_BIN:-}" ]; then
    check || die "OPENIRSA_K8S_BIN=$OPENIRSA_K8S_BIN does not hold the pinned binaries"
    return 0
  fi
  mkdir -p "$BIN" "$BUILD"
  # One build at a time per cache folder (CI and a developer shell may race).
  exec 9>"$BUILD/.lock"
  flock 9
  if check 2>/dev/null; then
    log "all binaries present in $BIN"
    return 0
  fi
  go_env
  is_current etcd || build_etcd
  { is_current kube-apiserver && is_current kubectl; } || build_kubernetes
  is_current helm || build_helm
  crds_current || fetch_crds
  check
}

start() {
  local dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/openirsa-cp.XXXXXX")}
  check >/dev/null 2>&1 || die "binaries missing; run: bash scripts/control-plane.sh build"
  mkdir -p "$dir"
  # The TypeScript helper does the work (certs, keys, flags, readiness); this is a thin shell for humans.
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  OPENIRSA_K8S_BIN="$BIN" node --import tsx "$root/scripts/control-plane/cli.ts" start "$dir"
}

stop() {
  local dir=${1:?usage: control-plane.sh stop DIR}
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  node --import tsx "$root/scripts/control-plane/cli.ts" stop "$dir"
}

case "${1:-}" in
  build) build ;;
  check) check ;;
  path) echo "$BIN" ;;
  crds) echo "$CRDS" ;;
  versions) printf 'kubernetes=%s etcd=%s helm=%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$HELM_VERSION" ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
