#!/usr/bin/env bash
# Installs the Debian packages OMS needs. Idempotent: a no-op when everything is present.
#   scripts/deps.sh          build and test (what `make build` / `make test` need)
#   scripts/deps.sh bench    + the benchmark's load generator and HTTP baseline (wrk, nginx)
#   scripts/deps.sh fuzz     + clang 16 and its libFuzzer runtime (`make fuzz`)
# See ../shared/STACK.md for why each one (and the Boost 1.81 pitfall: never libboost-dev).
set -euo pipefail
pkgs=(g++ cmake ninja-build pkg-config ccache python3
      libboost1.81-dev libboost-json1.81-dev
      libsoci-dev libsqlite3-dev libpq-dev
      libjwt-dev libssl-dev libspdlog-dev libcli11-dev prometheus-cpp-dev
      libgtest-dev libgmock-dev
      libnats-dev
      postgresql nats-server   # the db tests start throwaway PostgreSQL and NATS servers
      openssl)                 # the tests of external tokens make an identity provider's keys
[ "${1:-}" = bench ] && pkgs+=(wrk nginx-light)
[ "${1:-}" = fuzz ] && pkgs+=(clang-16 libclang-rt-16-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
