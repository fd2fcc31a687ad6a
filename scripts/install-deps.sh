#!/usr/bin/env bash
# Installs every build and test dependency of fls from Debian's packages.
# clang, its sanitizer runtimes and libfiu serve scripts/fuzz.sh, sanitize.sh
# and hardening.sh; ccache serves every build (scripts/lib/ccache.sh); libfuse3-dev
# and fuse3 (fusermount3) serve `fls mount` and its tests.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git ca-certificates
      libisal-dev libzmq3-dev cppzmq-dev libyaml-cpp-dev libgtest-dev libgmock-dev
      libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
      libsqlite3-dev libssl-dev python3 python3-zmq time
      clang libclang-rt-14-dev fiu-utils libfiu-dev ccache libfuse3-dev fuse3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
