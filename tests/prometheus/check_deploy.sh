#!/usr/bin/env bash
# deploy/prometheus/ checked with Prometheus' own promtool: the alert rules load
# (check rules), each alert fires on the series it is about (test rules, alerts_test.yml), and
# the scrape config is valid, with its credentials files present (check config).
# Without promtool: skip (exit 77) outside CI, fail under CI=true.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$here/deploy/prometheus"
if ! command -v promtool >/dev/null; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "promtool is missing (Debian package prometheus; deploy/install-deps)" >&2
    exit 1
  fi
  echo "SKIP: promtool is missing (Debian package prometheus; deploy/install-deps)"
  exit 77
fi
promtool check rules "$dir/alerts.yml"
(cd "$dir" && promtool test rules alerts_test.yml)
promtool check config --syntax-only "$dir/prometheus.yml"
# The full check reads the credentials files and the rule files: a copy whose credentials
# files exist.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$dir/alerts.yml" "$tmp/"
echo "token" >"$tmp/token"
sed "s|/etc/prometheus/[a-z-]*token|$tmp/token|" "$dir/prometheus.yml" >"$tmp/prometheus.yml"
grep -q "$tmp/token" "$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml"
