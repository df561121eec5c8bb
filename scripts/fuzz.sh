#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each for a given time, from any
# directory.
#
#   scripts/fuzz.sh [seconds] [target...]
#
# seconds: how long each target runs (default 600); 0 only replays the seed corpus
# (fuzz/corpus/<target>/) and the inputs found earlier, as a quick check.
# targets: png, checkpoint, config (default: all three, one after another).
#
# Needs clang with libFuzzer (Debian: clang libclang-rt-14-dev libomp-dev).
# Targets are built with -fsanitize=fuzzer,address,undefined. Environment:
#   SBGAN_FUZZ_DIR   build and work directory (default: build-fuzz)
#   SBGAN_FUZZ_CXX   the compiler (default: clang++)
#   SBGAN_FUZZ_ARGS  extra libFuzzer options, e.g. "-jobs=2 -workers=2"
# Each target keeps the inputs it finds in $SBGAN_FUZZ_DIR/corpus/<target>/ (the
# seeds in the repository are only read) and writes crashing inputs to
# $SBGAN_FUZZ_DIR/artifacts/<target>/. A target stops at its first crash; the
# others still run. Prints executions and crashes per target; the exit status is
# 1 when any target crashed or failed to build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-600}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds] [png|checkpoint|config ...]" >&2
  exit 2
fi
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(png checkpoint config)
build="${SBGAN_FUZZ_DIR:-build-fuzz}"
cxx="${SBGAN_FUZZ_CXX:-clang++}"
read -r -a extra <<<"${SBGAN_FUZZ_ARGS:-}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: $cxx not found (Debian: apt-get install clang libclang-rt-14-dev libomp-dev)" >&2
  exit 2
fi
mkdir -p "$build"
build="$(cd "$build" && pwd)"

# shellcheck disable=SC2054  # the commas belong to -fsanitize=...
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fopenmp
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Wpedantic
       -I "$root/include" -isystem /usr/include/eigen3)

status=0
summary=()
for target in "${targets[@]}"; do
  source_file="$root/fuzz/${target}_fuzzer.cpp"
  if [[ ! -f "$source_file" ]]; then
    echo "fuzz.sh: no target '$target' (fuzz/${target}_fuzzer.cpp)" >&2
    exit 2
  fi
  binary="$build/${target}_fuzzer"
  # Rebuilt when the target or any header it can include is newer.
  if [[ ! -x "$binary" ]] ||
     [[ -n "$(find "$root/fuzz" "$root/include" \( -name '*.cpp' -o -name '*.hpp' \) -newer "$binary" -print -quit)" ]]; then
    echo "== building $target"
    if ! "$cxx" "${flags[@]}" "$source_file" -o "$binary"; then
      summary+=("$target: BUILD FAILED")
      status=1
      continue
    fi
  fi

  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  log="$build/$target.log"
  mkdir -p "$corpus" "$artifacts"
  options=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "-artifact_prefix=$artifacts/")
  [[ -f "$root/fuzz/$target.dict" ]] && options+=("-dict=$root/fuzz/$target.dict")
  if [[ "$seconds" -eq 0 ]]; then
    options+=(-runs=0)
  else
    options+=("-max_total_time=$seconds")
  fi
  echo "== running $target for ${seconds}s (log: $log)"
  found_before=$(find "$artifacts" -type f | wc -l)
  start=$(date +%s)
  rc=0
  # Run from the build directory: with -jobs, libFuzzer writes fuzz-<n>.log there.
  (cd "$build" && "$binary" "${options[@]}" "${extra[@]}" "$corpus" "$root/fuzz/corpus/$target") >"$log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - start ))
  executions=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  crashes=$(( $(find "$artifacts" -type f | wc -l) - found_before ))
  if [[ $rc -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi  # died without an artifact
  line="$target: $executions executions in ${elapsed}s, $crashes crash(es), corpus $(find "$corpus" -type f | wc -l) inputs"
  if [[ $crashes -ne 0 ]]; then
    line+=" -- see $log and $artifacts/"
    status=1
    grep -m 5 -E 'ERROR: |runtime error:|fuzz invariant broken|SUMMARY:' "$log" | sed 's/^/    /' || true
  fi
  summary+=("$line")
done

echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
exit "$status"
