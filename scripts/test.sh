#!/usr/bin/env bash
# Configures, builds and runs every test (ctest), from any directory.
#
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -L cpu
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments, e.g. -DSBGAN_WITH_CUDA=OFF).
# The exit status is ctest's.
set -euo pipefail

# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"
sbgan_configure
cmake --build "$build" -j"$jobs"

status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@" || status=$?
exit "$status"
