#!/usr/bin/env bash
# tests/deploy/systemd_units_test.sh BUILD_DIR — the systemd units as `cmake --install` writes
# them (deploy/systemd/): they point at the installed binaries, `systemd-analyze verify` finds
# nothing to say about them, their hardening scores within `--threshold` of
# `systemd-analyze security`, the sysusers.d entry creates the dedicated users, and each
# ExecStart's flags are ones its binary accepts (with the example configs installed beside).
# No systemd needed as PID 1. Missing tools: fails under CI=true, skips (77) elsewhere.
set -euo pipefail

build=${1:?usage: systemd_units_test.sh BUILD_DIR}
die() { printf 'systemd_units_test: FAIL: %s\n' "$*" >&2; exit 1; }
for tool in systemd-analyze systemd-sysusers; do
  if ! command -v "$tool" >/dev/null; then
    [[ ${CI:-} == true ]] && die "$tool missing (package systemd)"
    echo "systemd_units_test: skipped: $tool missing"
    exit 77
  fi
done

tmp=$(mktemp -d /tmp/ferry-units.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
units=$prefix/lib/systemd/system
# Exposure (0 safest, 10 unsafe) each unit must stay at or below, in tenths as --threshold takes
# it. Today's: controller 1.1, agent 1.3 (no PrivateUsers: it reaches libvirtd's socket through
# group libvirt).
declare -A max_exposure=([ferry-controller]=13 [ferry-agent]=15)

for name in ferry-controller ferry-agent; do
  unit=$units/$name.service
  [[ -f $unit ]] || die "$unit not installed"
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  binary=${exec_start%% *}
  [[ $binary == "$prefix/bin/$name" ]] || die "$name ExecStart runs $binary, not the installed $prefix/bin/$name"
  [[ -x $binary ]] || die "$binary not executable"

  # verify: exit status, and every line it prints about our unit (unknown keys, bad values
  # and missing binaries are only warnings there, with exit 0).
  out=$(systemd-analyze verify --man=no "$unit" 2>&1) || die "verify $name: $out"
  if grep -F -e "$name" <<<"$out"; then die "verify has something to say about $name"; fi

  score_out=$(systemd-analyze security --offline=true --threshold="${max_exposure[$name]}" \
    "$unit" 2>&1) || die "$name: exposure above ${max_exposure[$name]}: $(tail -1 <<<"$score_out")"
  echo "systemd_units_test: $name: $(grep -o 'Overall exposure level.*' <<<"$score_out")"
done

# The dedicated users, as systemd-sysusers creates them at install (into a scratch root).
root=$tmp/root
mkdir -p "$root/etc"
systemd-sysusers --root="$root" "$prefix/lib/sysusers.d/ferry.conf" >/dev/null 2>&1
grep -q '^ferry:' "$root/etc/passwd" || die "sysusers made no user ferry"
grep -q '^ferry-agent:' "$root/etc/passwd" || die "sysusers made no user ferry-agent"
grep -Eq '^libvirt:[^:]*:[0-9]+:(.*,)?ferry-agent(,|$)' "$root/etc/group" ||
  die "ferry-agent is not in group libvirt: $(grep '^libvirt:' "$root/etc/group" || true)"
for user in ferry ferry-agent; do
  shell=$(awk -F: -v u="$user" '$1 == u {print $7}' "$root/etc/passwd")
  [[ $shell == */nologin ]] || die "$user has login shell '$shell'"
done

# Each ExecStart's command line, with /etc/ferry -> the installed examples (paths inside them
# too): the binary must get past parsing its flags and config file (CLI11 ends every parse error
# with "Run with --help"); what it does next (no PostgreSQL, no libvirtd here) fails or is
# stopped after 5 s, either of which is fine here.
etc=$tmp/etc-ferry
mkdir -p "$etc"
sed "s#/etc/ferry#$etc#g" "$prefix/share/doc/ferry/examples/ferry.conf.example" >"$etc/ferry.conf"
sed "s#/etc/ferry#$etc#g" "$prefix/share/doc/ferry/examples/agent.conf.example" >"$etc/agent.conf"
# The files the examples name (tokens, TLS), as an operator puts them there.
for f in $(grep -ohE "\"$etc/[^\"]+\"" "$etc/ferry.conf" "$etc/agent.conf" | tr -d '"' | sort -u); do
  mkdir -p "$(dirname "$f")" && touch "$f"
done
for name in ferry-controller ferry-agent; do
  exec_start=$(sed -n 's/^ExecStart=//p' "$units/$name.service")
  exec_start=${exec_start//\/etc\/ferry/$etc}
  exec_start=${exec_start//\$\{STATE_DIRECTORY\}/$tmp/state}
  read -r -a argv <<<"$exec_start"
  out=$(timeout 5 "${argv[@]}" 2>&1 </dev/null) || true
  if grep -q 'Run with --help' <<<"$out"; then
    die "$name rejects its unit's command line or its example config: $out"
  fi
  # And the check itself catches a flag the binary does not know.
  out=$(timeout 5 "${argv[@]}" --no-such-flag 2>&1 </dev/null) || true
  grep -q 'Run with --help' <<<"$out" || die "$name: a bogus flag went unnoticed: $out"
done
echo "systemd_units_test: ok"
