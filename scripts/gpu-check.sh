#!/usr/bin/env bash
# The CUDA backend on a machine with a GPU, in one command, from any directory:
#
#   1. configure build-gpu with -DSBGAN_WITH_CUDA=ON and the benchmarks on, and build
#      the GPU programs (sbgan_cuda_tests, the sbgan program, sbgan_bench_cuda);
#   2. ctest -L gpu --output-on-failure (the CPU/CUDA parity tests, and the sbgan
#      program's --device cuda run);
#   3. compute-sanitizer --tool memcheck on the CUDA test program;
#   4. the GPU benchmarks of BENCHMARKS.md (W1, W3, W7, W9) against PyTorch on the
#      same GPU (bench/compare_torch.py --device cuda), the ratio table printed last.
#
#   scripts/gpu-check.sh [options]
#     --build-only        stop after step 1 (exit 0)
#     --skip-tests        skip step 2          --skip-memcheck   skip step 3
#     --skip-bench        skip step 4
#     --rounds N          benchmark rounds per side (default 3)
#     --seconds S         minimum timed seconds per measurement (default 1)
#     --filter REGEX      only the benchmarks matching REGEX
#
# Without a GPU (nvidia-smi lists none) it stops after the build, saying so, and
# exits 2 (0 with --build-only): everything compiled, nothing ran. Steps run
# again reuse the build, so on a machine with a per-command time limit the steps
# may be split over several calls (e.g. --skip-bench, then --skip-tests
# --skip-memcheck). The exit status is non-zero when any step failed.
#
# Environment: SBGAN_BUILD_DIR (default: build-gpu), SBGAN_JOBS (default: the
# number of cores), SBGAN_CMAKE_ARGS (extra configure arguments), CUDNN_ROOT (where
# cuDNN is, if not beside nvcc; otherwise the Python package nvidia-cudnn is tried),
# SBGAN_MEMCHECK_TESTS (a Catch2 test spec for step 3; default: every case),
# SBGAN_PYTHON (the Python whose torch sees the GPU; default: python3, then
# /usr/bin/python3).
#
# Offline machines: Debian packages that scripts/install-deps.sh cannot install
# there (no network) may be carried as .deb files in <repo>/.deps/ (list it in
# .git/info/exclude); they are unpacked (dpkg -x) into the build directory and put
# on CMake's search path and the compilers' (CPATH). Fetched on a machine with
# network, e.g.:
#   mkdir -p .deps && cd .deps && apt-get download libeigen3-dev libxtensor-dev xtl-dev \
#     catch2 libbenchmark-dev libbenchmark1debian libstb-dev libcli11-dev nlohmann-json3-dev
set -euo pipefail

build_only=0 skip_tests=0 skip_memcheck=0 skip_bench=0 rounds=3 seconds=1 filter=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --skip-tests) skip_tests=1 ;;
    --skip-memcheck) skip_memcheck=1 ;;
    --skip-bench) skip_bench=1 ;;
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --filter) filter="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

export SBGAN_BUILD_DIR="${SBGAN_BUILD_DIR:-build-gpu}"
export SBGAN_JOBS="${SBGAN_JOBS:-$(nproc)}"
# shellcheck source=lib/configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/configure.sh"

say() { printf '\n== gpu-check: %s\n' "$*"; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }

# ------------------------------------------------------------------ 1. build ---
say "machine: $(nproc) cores; $(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | head -n 1 || echo 'no nvidia-smi')"

extra_args=()
if compgen -G "$root/.deps/*.deb" >/dev/null; then
  deps="$(realpath -m "$build")/deps-root"
  say "unpacking $(ls "$root"/.deps/*.deb | wc -l) carried .deb files into $deps"
  mkdir -p "$deps"
  for f in "$root"/.deps/*.deb; do dpkg -x "$f" "$deps"; done
  extra_args+=("-DCMAKE_PREFIX_PATH=$deps/usr")
  # Headers included by path (<stb/stb_image.h>), and shared libraries at run time.
  export CPATH="$deps/usr/include${CPATH:+:$CPATH}"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# cuDNN beside nvcc, or from PyTorch's pip package when that is all there is.
if [[ -z "${CUDNN_ROOT:-}" && ! -e /usr/local/cuda/include/cudnn.h && ! -e /usr/include/cudnn.h ]]; then
  for py in "${SBGAN_PYTHON:-python3}" /usr/bin/python3; do
    if dir="$("$py" -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null)" \
       && [[ -e "$dir/include/cudnn.h" ]]; then
      export CUDNN_ROOT="$dir"
      say "cuDNN from the Python package nvidia-cudnn: $CUDNN_ROOT"
      break
    fi
  done
fi

say "configure $build (CUDA on, benchmarks on)"
# install-deps.sh (run by sbgan_configure) fails where packages are missing and
# cannot be installed (no network, not root): CMake then decides whether the build
# has what it needs, and says what is missing.
if ! sbgan_configure -DSBGAN_WITH_CUDA=ON -DSBGAN_BUILD_BENCH=ON -DSBGAN_BUILD_TESTS=ON -DSBGAN_BUILD_EXAMPLES=ON \
     "${extra_args[@]}"; then
  echo "gpu-check: configuring $build failed (above)" >&2
  exit 1
fi
say "build sbgan_cuda_tests, sbgan_program, sbgan_bench_cuda with $jobs jobs"
cmake --build "$build" -j"$jobs" --target sbgan_cuda_tests sbgan_program sbgan_bench_cuda
say "build done ($(elapsed))"

if [[ $build_only -eq 1 ]]; then
  say "--build-only: stopping here"
  exit 0
fi
if ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }; then
  say "NO GPU on this machine (nvidia-smi lists none): everything above compiled; the gpu tests, compute-sanitizer and the GPU benchmarks were NOT run. Run this script on a machine with a CUDA GPU."
  exit 2
fi

declare -A result=()
status=0

# ------------------------------------------------------------------ 2. tests ---
if [[ $skip_tests -eq 0 ]]; then
  say "ctest -L gpu"
  if ctest --test-dir "$build" -L gpu --output-on-failure; then result[tests]=passed; else result[tests]=FAILED; status=1; fi
else
  result[tests]=skipped
fi

# --------------------------------------------------------------- 3. memcheck ---
if [[ $skip_memcheck -eq 0 ]]; then
  sanitizer=""
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
           "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")/compute-sanitizer" \
           "$(command -v compute-sanitizer 2>/dev/null || true)"; do
    if [[ -n "$c" && -x "$c" ]]; then sanitizer="$c"; break; fi
  done
  if [[ -z "$sanitizer" ]]; then
    say "compute-sanitizer not found (looked in /usr/local/cuda/bin, beside nvcc and on PATH)"
    result[memcheck]="FAILED (no compute-sanitizer)"
    status=1
  else
    say "$sanitizer --tool memcheck on sbgan_cuda_tests ${SBGAN_MEMCHECK_TESTS:-}"
    # shellcheck disable=SC2086  # the test spec is a list of words
    if "$sanitizer" --tool memcheck --error-exitcode 1 "$build/tests/sbgan_cuda_tests" ${SBGAN_MEMCHECK_TESTS:-}; then
      result[memcheck]=passed
    else
      result[memcheck]=FAILED
      status=1
    fi
  fi
else
  result[memcheck]=skipped
fi

# ------------------------------------------------------------------ 4. bench ---
table=""
if [[ $skip_bench -eq 0 ]]; then
  bench="$build/bench/sbgan_bench_cuda"
  python=""
  for py in "${SBGAN_PYTHON:-python3}" /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
      python="$py"; break
    fi
    if "$py" -c 'import torch' 2>/dev/null; then
      say "$py's PyTorch $("$py" -c 'import torch; print(torch.__version__)') is CPU-only (torch.cuda.is_available() is false)"
    fi
  done
  if [[ -z "$python" ]]; then
    say "no PyTorch that sees the GPU: the PyTorch side is skipped; sbgan's GPU benchmarks alone"
    args=(--benchmark_min_time="$seconds")
    [[ -n "$filter" ]] && args+=(--benchmark_filter="$filter")
    if "$bench" "${args[@]}"; then result[bench]="sbgan only (no PyTorch with CUDA)"; else result[bench]=FAILED; status=1; fi
  else
    say "GPU benchmarks vs PyTorch ($python, torch $("$python" -c 'import torch; print(torch.__version__)')), $rounds rounds"
    table="$build/gpu-bench.md"
    rm -f "$table"
    if "$python" "$root/bench/compare_torch.py" --device cuda --bench "$bench" --rounds "$rounds" \
         --seconds "$seconds" --filter "$filter" --markdown "$table" >/dev/null; then
      result[bench]=passed
    else
      result[bench]=FAILED
      status=1
    fi
  fi
else
  result[bench]=skipped
fi

say "summary ($(elapsed)): gpu tests ${result[tests]}; memcheck ${result[memcheck]}; benchmarks ${result[bench]}"
if [[ -n "$table" && -s "$table" ]]; then
  printf '\nsbgan CUDA vs PyTorch on %s (ratio = PyTorch time / sbgan time; above 1: sbgan faster)\n\n' \
    "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
  cat "$table"
fi
exit "$status"
