#!/usr/bin/env bash
# Lints and packages the Helm chart with the pinned helm (from `bash scripts/control-plane.sh build`):
#   helm lint --strict with the default values and with each deploy/helm/openirsa-webhook/ci/*.yaml, then
#   helm package into OUT_DIR (default .cache/chart). Prints the package's path on stdout.
#
#   bash scripts/chart.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chart="$root/deploy/helm/openirsa-webhook"
out=${1:-$root/.cache/chart}
helm="$(bash "$root/scripts/control-plane.sh" path)/helm"
if [ ! -x "$helm" ]; then
  echo "chart: $helm is missing: run bash scripts/control-plane.sh build" >&2
  exit 1
fi
# helm keeps repositories and caches under these; none is needed here, so keep them out of the user's home.
work=$(mktemp -d "${TMPDIR:-/tmp}/openirsa-chart.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HELM_CACHE_HOME="$work/cache" HELM_CONFIG_HOME="$work/config" HELM_DATA_HOME="$work/data"

# helm lint reports a template's `fail` only as [INFO], so each values file is also rendered, where it is an error.
"$helm" lint --strict "$chart" >&2
"$helm" template openirsa-webhook "$chart" >/dev/null
for values in "$chart"/ci/*.yaml; do
  "$helm" lint --strict "$chart" -f "$values" >&2
  "$helm" template openirsa-webhook "$chart" -f "$values" >/dev/null
done
mkdir -p "$out"
"$helm" package "$chart" --destination "$out" | sed -n 's/^Successfully packaged chart and saved it to: //p'
