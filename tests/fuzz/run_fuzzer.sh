#!/usr/bin/env bash
# Runs one libFuzzer target for RINGMQ_FUZZ_SECONDS (default 60) from its committed seed
# corpus, with the MQTT dictionary. Fails on any crash, leak or sanitizer report. New corpus
# entries and crash artifacts go to a scratch folder in the build tree, never the source.
# Usage: run_fuzzer.sh FUZZER SEED_DIR DICT WORK_DIR [FLAG...]
# FLAGs are the target's own libFuzzer flags, after the common ones (the last one counts).
set -euo pipefail
fuzzer=$1 seeds=$2 dict=$3 work=$4
shift 4
secs=${RINGMQ_FUZZ_SECONDS:-60}
rm -rf "${work}"
mkdir -p "${work}/corpus" "${work}/artifacts"
# A hard bound above the fuzzer's own, so a hang can never stall CI.
exec timeout --kill-after=10 $((secs + 60)) "${fuzzer}" \
  -max_total_time="${secs}" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -dict="${dict}" -artifact_prefix="${work}/artifacts/" -print_final_stats=1 "$@" \
  "${work}/corpus" "${seeds}"
