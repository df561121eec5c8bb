#!/usr/bin/env bash
# Sets up this machine, builds the sbgan program and runs `sbgan demo`: all three
# SB-GAN stages of the `demo` config on the built-in procedural street scenes,
# then samples; it prints the evidence that it learned and writes PNGs.
#
#   scripts/demo.sh [arguments for `sbgan demo`...]     e.g. --out my-demo --seed 3
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments), OMP_NUM_THREADS (default: the
# machine's cores). Shares the build directory with scripts/test.sh but builds
# only the program. The demo's own run takes about 10 minutes on 2 cores.
set -euo pipefail

# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"
sbgan_configure -DSBGAN_BUILD_EXAMPLES=ON
cmake --build "$build" -j"$jobs" --target sbgan_program

exec "$build/examples/sbgan" demo "$@"
