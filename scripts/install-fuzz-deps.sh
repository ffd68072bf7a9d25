#!/usr/bin/env bash
# Installs what the fuzz targets need (bench/fuzz/run.sh): clang and its libFuzzer runtime, from
# Debian's packages, beside the build's own.
set -euo pipefail
exec bash "$(dirname "$0")/install-deps.sh" clang libfuzzer-14-dev libclang-rt-14-dev
