#!/usr/bin/env bash
# Builds and runs the demo, examples/critic_wgan_gp.cpp, from any directory.
#
#   scripts/demo.sh [arguments for critic_wgan_gp...]
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments). Shares the build directory
# with scripts/test.sh but builds only the demo program.
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
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSBGAN_BUILD_EXAMPLES=ON ${SBGAN_CMAKE_ARGS:-}
cmake --build "$build" -j"$jobs" --target critic_wgan_gp

exec "$build/examples/critic_wgan_gp" "$@"
