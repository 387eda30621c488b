#!/usr/bin/env bash
# Reliability scenario 8, the soak: an hour of steady load against the real binary with
# retention on (SOAK_RETENTION, default 2m, when the build has storage.retention), sampling disk
# use vs live data and RSS. SOAK_SECONDS shortens it (e.g. SOAK_SECONDS=600 for 10 minutes);
# SOAK_SAMPLE_SECONDS sets the sampling period (default 30). See RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECONDS="${SOAK_SECONDS:-3600}"
exec cargo test --locked --test rel_soak -- --ignored --nocapture --test-threads 1
