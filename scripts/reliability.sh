#!/usr/bin/env bash
# The long versions of the reliability scenarios (RELIABILITY.md), one after the other:
# 50 SIGKILL cycles, 30 s under strace, a 256 MiB disk filled, 1,000 events through a flapping
# sink, a 60 s slow-sink phase, 10 hostile rounds with the 500 ms p99 bound asserted, 2,000
# property cases, 5,000 events killed mid-delivery. The short versions run in `cargo test`.
# RELIABILITY_SOAK=1 adds the hour-long soak (scripts/soak.sh) at the end.
# Needs strace and permission to mount a tmpfs (root or password-less sudo); .ci/run shows
# how to install strace.
set -euo pipefail
cd "$(dirname "$0")/.."
export HOOKROUTE_RELIABILITY=long
export PROPTEST_CASES="${PROPTEST_CASES:-2000}"
export HOOKROUTE_DELIVERY_CRASH_EVENTS="${HOOKROUTE_DELIVERY_CRASH_EVENTS:-5000}"
cargo test --locked \
    --test crash --test delivery_crash --test rel_fsync --test rel_disk_full \
    --test rel_flapping --test rel_backlog --test rel_hostile --test rel_props \
    -- --nocapture --test-threads 1 2>&1 | tee "${RELIABILITY_LOG:-target/reliability-long.log}" \
    | grep -E '^(test |crash loop|fsync before|disk full|flapping sink|slow downstream|storage quota|hostile input|delivery crash)'
if [ "${RELIABILITY_SOAK:-0}" = 1 ]; then
    exec scripts/soak.sh
fi
