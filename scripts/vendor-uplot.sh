#!/usr/bin/env bash
# Brings the chart library the HTML report inlines — uPlot, MIT — from the npm registry at the
# pinned version, checks its files against the pinned SHA-256 sums, and copies them (and its
# licence) into crates/influxdb-datalogger/src/report/assets/. To move to another version,
# change UPLOT_VERSION, run this with UPDATE=1, and review the new sums it prints.
set -euo pipefail
UPLOT_VERSION=1.6.32
declare -A SHA256=(
  [uPlot.iife.min.js]=19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f
  [uPlot.min.css]=df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04
)
assets="$(cd "$(dirname "$0")/.." && pwd)/crates/influxdb-datalogger/src/report/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null && tar xzf "uplot-$UPLOT_VERSION.tgz")
for file in "${!SHA256[@]}"; do
  sum="$(sha256sum "$work/package/dist/$file" | cut -d' ' -f1)"
  if [[ "$sum" != "${SHA256[$file]}" && "${UPDATE:-0}" != 1 ]]; then
    echo "vendor-uplot: $file of uplot@$UPLOT_VERSION has SHA-256 $sum, not the pinned ${SHA256[$file]}" >&2
    exit 1
  fi
  echo "$file $sum"
  cp "$work/package/dist/$file" "$assets/$file"
done
cp "$work/package/LICENSE" "$assets/LICENSE-uPlot"
