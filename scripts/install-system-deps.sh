#!/usr/bin/env bash
# Installs the Debian packages PocketShell's tests and benchmarks need, only
# when missing (idempotent, quiet). Safe to run again and again; needs root or
# sudo only when something is actually missing.
set -euo pipefail

# command-or-file → Debian package
need=(
  "tmux:tmux"
  "screen:screen"
  "turnserver:coturn"
  "sshd:/usr/sbin/sshd:openssh-server"
  "ssh:openssh-client"
  "chromium:chromium"
  "systemd-analyze:systemd"
  "dpkg-deb:dpkg"
  "mosh-server:mosh"
  "bwrap:bubblewrap"
  "redis-server:redis-server"
  "ip:iproute2"
  "nft:/usr/sbin/nft:nftables"
  "certutil:libnss3-tools"
  "haproxy:/usr/sbin/haproxy:haproxy"
)

missing=()
for entry in "${need[@]}"; do
  IFS=: read -r cmd a b <<<"$entry"
  pkg=${b:-$a}
  path=${b:+$a}
  if [[ -n "$path" ]]; then
    [[ -x "$path" ]] || missing+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
# PostgreSQL's server, any version: the relay's PostgreSQL tests run a private cluster with its initdb
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=("postgresql")

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-system-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' own services (sshd on :22, coturn, redis on :6379, haproxy) from starting: the tests run private instances.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
trap 'if [[ -n $own_policy ]]; then $sudo rm -f "$policy"; fi' EXIT
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian enables and starts these services on install; the tests run their own.
for svc in coturn ssh redis-server haproxy; do
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done
# and PostgreSQL's own cluster (Debian makes and starts one on :5432) stays off: the tests start theirs
if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
echo "install-system-deps: done" >&2
