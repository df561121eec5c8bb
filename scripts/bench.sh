#!/usr/bin/env bash
# Builds sbgan's benchmarks and compares them with PyTorch on the workloads of
# BENCHMARKS.md (W1-W9 and the machine's GEMM and copy ceilings), from any directory.
#
#   scripts/bench.sh [compare_torch.py arguments...]
#       e.g. scripts/bench.sh --rounds 5          more rounds (default 3)
#            scripts/bench.sh --filter 'W1|W7'    some workloads only
#            scripts/bench.sh --markdown t.md     also write the table to a file
#            scripts/bench.sh --save run.json     keep every measurement as it is taken;
#                                                 --resume run.json continues an interrupted run
#
# Installs missing Debian packages (as root) including python3-torch and
# libopenblas0-openmp, configures a Release build with the benchmarks on (tests,
# examples and CUDA off), builds sbgan_bench, prints the machine and its load, runs
# bench/compare_torch.py (sbgan and PyTorch alternately, each measurement in its own
# process) and prints the table last. The full table takes well over an hour on 2
# loaded cores; progress goes to stderr.
#
# Environment: SBGAN_BUILD_DIR (default: build-bench, so that build/'s cache keeps
# its options), SBGAN_JOBS (default: 2), SBGAN_CMAKE_ARGS (extra configure arguments).
set -euo pipefail

export SBGAN_BUILD_DIR="${SBGAN_BUILD_DIR:-build-bench}"
# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"
"$root/scripts/install-deps.sh" --torch
sbgan_configure -DSBGAN_BUILD_BENCH=ON -DSBGAN_BUILD_TESTS=OFF -DSBGAN_BUILD_EXAMPLES=OFF -DSBGAN_WITH_CUDA=OFF
cmake --build "$build" -j"$jobs" --target sbgan_bench

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: scripts/bench.sh $*"
/usr/bin/python3 "$root/bench/compare_torch.py" --bench "$build/bench/sbgan_bench" "$@"
