#!/usr/bin/env bash
# tests/pg/pg_access_test.sh — deploy/pg's cluster admits its owner only (security review M13).
#
# Starts a cluster of its own under /tmp (reachable by every user up to the cluster's own
# directories, so a refusal proves deploy/pg's settings, not a private parent directory), then:
#   - the owner connects with the DSN deploy/pg printed;
#   - `nobody` cannot connect with that DSN (runuser; needs root);
#   - no authentication rule is `trust`, and the socket and its directory are 0700, so even a
#     user who could reach the socket would have to pass peer authentication.
# Not root: fails under CI=true, skips (exit 77, ctest SKIP_RETURN_CODE) elsewhere.
set -euo pipefail

die() { printf 'pg_access_test: FAIL: %s\n' "$*" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg=$here/../../deploy/pg

if [[ $EUID -ne 0 ]]; then
  [[ ${CI:-} == true ]] && die "needs root (runuser) under CI"
  echo "pg_access_test: skipped: needs root to act as user nobody"
  exit 77
fi

dir=$(mktemp -d /tmp/ferry-pg-access.XXXXXX)
chmod 0755 "$dir"
trap '"$pg" destroy "$dir" >/dev/null 2>&1 || true; rm -rf -- "$dir"' EXIT
FERRY_PG_FAST=1 "$pg" start "$dir" >/dev/null
dsn=$("$pg" dsn "$dir")
bindir=$("$pg" bindir)
psql=("$bindir/psql" -X -q -tA -v ON_ERROR_STOP=1)
sock=$(sed -nE 's/.*host=([^ ]+).*/\1/p' <<<"$dsn")

# The owner (root here: the server runs as postgres) is admitted, as ferry.
[[ $("${psql[@]}" -d "$dsn" -c 'SELECT current_user') == ferry ]] || die "owner cannot connect"

# nobody can reach the cluster's parent, so only deploy/pg's settings can keep it out.
(cd / && runuser -u nobody -- test -x "$(dirname "$sock")") ||
  die "precondition: nobody cannot even reach $(dirname "$sock")"
if out=$(cd / && runuser -u nobody -- "${psql[@]}" -d "$dsn" -c 'SELECT 1' 2>&1); then
  die "user nobody connected to the cluster: $out"
fi
grep -qiE 'permission denied|authentication failed' <<<"$out" ||
  die "nobody refused for an unexpected reason: $out"

rules=$("${psql[@]}" -d "$dsn" -c \
  "SELECT type || ' ' || auth_method || ' ' || coalesce(array_to_string(options, ','), '')
     FROM pg_hba_file_rules WHERE error IS NULL")
grep -q trust <<<"$rules" && die "a trust rule is configured: $rules"
[[ $rules == 'local peer map=ferry' ]] || die "unexpected authentication rules: $rules"
[[ $(stat -c %a "$sock") == 700 ]] || die "socket directory $sock is $(stat -c %a "$sock")"
[[ $(stat -c %a "$sock/.s.PGSQL.5432") == 700 ]] || die "socket is $(stat -c %a "$sock/.s.PGSQL.5432")"
echo "pg_access_test: ok (owner admitted; nobody refused: ${out//$'\n'/ })"
