#!/usr/bin/env bash
# Installs what ringmq's build and the messenger example (Node.js, MQTT.js) need on Debian 12
# and, with --tests, what its tests and
# benchmarks need too (clang, the real clients, Mosquitto, Node.js and MQTT.js, Chromium and
# playwright-core); nothing when it is all there. Idempotent, non-interactive (works as root
# with CI=true and no stdin).
# Called by scripts/run (build only) and scripts/test (--tests); never needed by hand.
set -euo pipefail

tests=false
if [[ ${1:-} == --tests ]]; then
  tests=true
fi

packages=(
  # build
  meson ninja-build pkg-config g++ python3
  # libraries (Debian 12 versions: liburing 2.3, Abseil 20220623, mimalloc 2.0)
  liburing-dev libmimalloc-dev libabsl-dev libsqlite3-dev
  # TLS listeners (core/tls) and the WebSocket handshake's SHA-1: OpenSSL 3
  libssl-dev
  # the config file (TOML), the auth_file plugin (argon2id, base64), JSON lines of message_log
  libtomlplusplus-dev libsodium-dev nlohmann-json3-dev rapidjson-dev
  # the test and benchmark programs are part of every build
  libgtest-dev libgmock-dev libbenchmark-dev
)
if $tests; then
  packages+=(
    # fuzzing and the sanitizer builds: libFuzzer and the sanitizer runtimes ship with clang
    clang libclang-rt-14-dev
    # real clients and the reference broker for interop tests and benchmarks
    mosquitto mosquitto-clients python3-paho-mqtt python3-cryptography
    # certificates made by the TLS tests (tests/browser/tls_test.py uses the openssl CLI)
    openssl
    # network-namespace tests: packet drops (nftables) and links (iproute2)
    nftables iproute2
    # the browser test (tests/browser): Debian's Chromium, driven by playwright-core
    chromium
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node.js and npm, always: the messenger example's set-up below (scripts/run serves it), the
# MQTT.js interop tests and the browser test. Debian's packages, unless they are already there
# (e.g. from NodeSource, whose nodejs package also provides npm).
if ! command -v node >/dev/null; then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  # A stale package index makes install fail on a fresh machine; refresh it first.
  "${sudo[@]}" apt-get update -qq </dev/null || echo "setup: apt-get update failed, trying install anyway" >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
  # Debian starts mosquitto as a service on 127.0.0.1:1883 when it is installed: we only need
  # the binary (tests and benchmarks start their own on free ports), and the port is ringmq's.
  if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null &&
     systemctl is-active --quiet mosquitto 2>/dev/null; then
    echo "setup: stopping and disabling the mosquitto service (only its binary is used)" >&2
    "${sudo[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# npm_ci DIR WHAT: `npm ci` in DIR from its committed lock file, only when node_modules is
# missing or older than package-lock.json. Non-interactive.
npm_ci() {
  local dir=$1 what=$2
  if [[ -f "${dir}/package-lock.json" ]] &&
     { [[ ! -d "${dir}/node_modules" ]] ||
       [[ "${dir}/package-lock.json" -nt "${dir}/node_modules" ]]; }; then
    echo "setup: installing ${what} (npm ci in ${dir#"${root}"/})" >&2
    (cd "${dir}" && CI=true npm ci --no-audit --no-fund --loglevel=error </dev/null)
    touch "${dir}/node_modules"  # newer than the lock file: installed
  fi
}

if $tests; then
  npm_ci "${root}/tests/interop/mqttjs" "MQTT.js for the interop tests"
  # playwright-core downloads no browser: the test drives Debian's chromium, installed above.
  npm_ci "${root}/tests/browser" "playwright-core and MQTT.js for the browser tests"
fi

# MQTT.js for the messenger example, always (scripts/run serves the app), then its browser
# bundle copied to web/vendor/ (git-ignored), which the page imports; nothing from a CDN.
messenger_dir="${root}/examples/messenger"
npm_ci "${messenger_dir}" "MQTT.js for the messenger"
messenger_bundle="${messenger_dir}/node_modules/mqtt/dist/mqtt.esm.js"
messenger_vendor="${messenger_dir}/web/vendor/mqtt.esm.js"
if [[ -f "${messenger_bundle}" ]] &&
   { [[ ! -f "${messenger_vendor}" ]] || [[ "${messenger_bundle}" -nt "${messenger_vendor}" ]]; }; then
  mkdir -p "$(dirname "${messenger_vendor}")"
  cp "${messenger_bundle}" "${messenger_vendor}"
  # The plugin serves FILE.gz to browsers that accept gzip: 342 kB -> about 100 kB.
  gzip -kf9 "${messenger_vendor}"
fi
