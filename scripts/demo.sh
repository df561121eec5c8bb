#!/usr/bin/env bash
# Sets up this machine, builds the sbgan program and runs `sbgan demo`: all three
# SB-GAN stages of the `demo` config on the built-in procedural street scenes,
# then samples; it prints the evidence that it learned and writes PNGs.
#
#   scripts/demo.sh [arguments for `sbgan demo`...]     e.g. --out my-demo --seed 3
#
# Environment: SBGAN_BUILD_DIR (default: build), SBGAN_JOBS (default: 2),
# SBGAN_CMAKE_ARGS (extra configure arguments), OMP_NUM_THREADS (default: 1).
# Shares the build directory with scripts/test.sh but builds only the program.
#
# One thread by default: the demo's tensors are small (layouts of 4x8 to 16x32,
# 32x64 images), and splitting them over two threads costs more in fork/join and
# Eigen's threaded GEMM than it gains (measured at the 8x16 level: 195 img/s on
# one thread, 86 img/s on two).
set -euo pipefail

# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"
sbgan_configure -DSBGAN_BUILD_EXAMPLES=ON
cmake --build "$build" -j"$jobs" --target sbgan_program

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$build/examples/sbgan" demo "$@"
