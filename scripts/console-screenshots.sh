#!/usr/bin/env bash
# Regenerates the console's screenshots in docs/console/ (1280x800 pages, two at phone width)
# by running the ignored browser test that takes them. Needs Debian's chromium and
# chromium-driver, as the console tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --test console -- --ignored --exact screenshots_of_each_page
ls -l docs/console/
