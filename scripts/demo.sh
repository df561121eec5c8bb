#!/usr/bin/env bash
# Builds and runs the demo, examples/critic_wgan_gp.cpp, from any directory.
#
#   scripts/demo.sh [arguments for critic_wgan_gp...]
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments). Shares the build directory
# with scripts/test.sh but builds only the demo program.
set -euo pipefail

# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"
sbgan_configure -DSBGAN_BUILD_EXAMPLES=ON
cmake --build "$build" -j"$jobs" --target critic_wgan_gp

exec "$build/examples/critic_wgan_gp" "$@"
