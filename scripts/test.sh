#!/usr/bin/env bash
# Configures, builds and runs every test (ctest), from any directory.
#
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -L cpu
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments, e.g. -DSBGAN_WITH_CUDA=OFF).
# The exit status is ctest's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-deps.sh"

build="${SBGAN_BUILD_DIR:-build}"
jobs="${SBGAN_JOBS:-2}"

generator=()
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); else generator=(-G "Unix Makefiles"); fi
fi
# shellcheck disable=SC2086  # SBGAN_CMAKE_ARGS is a list of words
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${SBGAN_CMAKE_ARGS:-}
cmake --build "$build" -j"$jobs"

status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@" || status=$?
exit "$status"
