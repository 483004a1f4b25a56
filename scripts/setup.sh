#!/usr/bin/env bash
# Installs what ringmq's build, tests and benchmarks need on Debian 12, and nothing when it
# is all there. Idempotent, non-interactive (works as root with CI=true and no stdin).
# Called by scripts/test and scripts/run; never needed by hand.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++ python3
  # libraries (Debian 12 versions: liburing 2.3, Abseil 20220623, mimalloc 2.0)
  liburing-dev libmimalloc-dev libabsl-dev libsqlite3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing: libFuzzer and the sanitizer runtimes ship with clang
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A stale package index makes install fail on a fresh machine; refresh it first.
  "${sudo[@]}" apt-get update -qq </dev/null || echo "setup: apt-get update failed, trying install anyway" >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
