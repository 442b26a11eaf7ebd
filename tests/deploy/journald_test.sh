#!/usr/bin/env bash
# tests/deploy/journald_test.sh AGENT_BINARY — `--log-journal` (what the systemd units pass)
# against Debian's real systemd-journald: a private one in a mount namespace of its own (tmpfs
# over /run/systemd, /run/log and /var/log, so the machine's journal is never touched), the agent
# logging to it, and `journalctl -o json` showing the lines with their priority and their
# key=value pairs as fields. Needs root (unshare -m): fails under CI=true, skips (77) elsewhere.
set -euo pipefail

agent=${1:?usage: journald_test.sh AGENT_BINARY}
die() { printf 'journald_test: FAIL: %s\n' "$*" >&2; exit 1; }
skip() {
  [[ ${CI:-} == true ]] && die "$1"
  echo "journald_test: skipped: $1"
  exit 77
}
[[ $EUID -eq 0 ]] || skip "needs root (a mount namespace for a private journald)"
journald=/lib/systemd/systemd-journald
[[ -x $journald ]] || skip "$journald missing (package systemd)"
command -v journalctl >/dev/null || skip "journalctl missing (package systemd)"
command -v jq >/dev/null || skip "jq missing"

if [[ -z ${FERRY_JOURNALD_TEST_INSIDE:-} ]]; then
  FERRY_JOURNALD_TEST_INSIDE=1 exec unshare --mount --propagation private "$0" "$agent"
fi

tmp=$(mktemp -d /tmp/ferry-journald.XXXXXX)
mkdir -p /run/systemd
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal /run/log /var/log
mount -t tmpfs tmpfs /run/log
mount -t tmpfs tmpfs /var/log
"$journald" >"$tmp/journald.out" 2>&1 &
jpid=$!
apid=
cleanup() {
  [[ -n $apid ]] && kill "$apid" 2>/dev/null
  kill "$jpid" 2>/dev/null
  wait 2>/dev/null
  rm -rf -- "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [[ -S /run/systemd/journal/socket ]] && break; sleep 0.1; done
[[ -S /run/systemd/journal/socket ]] || die "journald did not start: $(cat "$tmp/journald.out")"

# An agent whose controller does not answer (port 1): it starts, logs, and retries.
echo token >"$tmp/token"
"$agent" --host journal-host-1 --driver sim --controller-url http://127.0.0.1:1 \
  --controller-token-file "$tmp/token" --command-token-file "$tmp/token" \
  --state-dir "$tmp/state" --listen 127.0.0.1:0 --log-journal 2>"$tmp/agent.stderr" &
apid=$!

entries() { journalctl -D /run/log/journal -o json SYSLOG_IDENTIFIER=ferry-agent 2>/dev/null; }
for _ in $(seq 100); do
  entries | jq -e 'select(.MESSAGE | startswith("ferry-agent started"))' >/dev/null 2>&1 && break
  sleep 0.1
done
started=$(entries | jq -c 'select(.MESSAGE | startswith("ferry-agent started"))' | head -1)
[[ -n $started ]] || die "no 'ferry-agent started' entry in the journal; agent stderr: $(cat "$tmp/agent.stderr")"
[[ $(jq -r .PRIORITY <<<"$started") == 6 ]] || die "priority: $started"
[[ $(jq -r .FERRY_HOST <<<"$started") == journal-host-1 ]] || die "FERRY_HOST: $started"
[[ $(jq -r .FERRY_DRIVER <<<"$started") == sim ]] || die "FERRY_DRIVER: $started"
[[ $(jq -r ._TRANSPORT <<<"$started") == journal ]] || die "not the native protocol: $started"
# The field is a query: journalctl finds the agent's lines by it.
journalctl -D /run/log/journal -o json FERRY_HOST=journal-host-1 | jq -e . >/dev/null ||
  die "journalctl FERRY_HOST=journal-host-1 finds nothing"
# Nothing went to stderr instead: journald took every line.
[[ ! -s $tmp/agent.stderr ]] || die "lines fell back to stderr: $(head -3 "$tmp/agent.stderr")"
echo "journald_test: ok: $(jq -c '{MESSAGE, PRIORITY, FERRY_HOST, FERRY_DRIVER}' <<<"$started")"
