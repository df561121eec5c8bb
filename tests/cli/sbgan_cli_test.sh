#!/usr/bin/env bash
# The sbgan program end to end on a tiny config: train, stop, refuse to overwrite,
# resume, sample, synthesize, evaluate, and clear errors for bad input; then
# --device cuda (below).
#   sbgan_cli_test.sh PATH/TO/sbgan          everything
#   sbgan_cli_test.sh PATH/TO/sbgan cuda     the --device cuda checks only
#
# --device cuda has three right answers, and the checks take whichever applies:
#   - a build without the CUDA backend refuses, naming -DSBGAN_WITH_CUDA=ON;
#   - a CUDA build on a machine without a GPU refuses every command with
#     "no CUDA GPU is present" and a non-zero status (and that is a failure when
#     nvidia-smi lists a GPU);
#   - with a GPU: a short run on the GPU (train, stop, resume to the end), then
#     sample, synthesize and eval on the GPU, and the GPU's checkpoint sampled on
#     the CPU too.
set -euo pipefail
sbgan="$1"
mode="${2:-all}"
[[ "$mode" == all || "$mode" == cuda ]] || { echo "usage: $0 PATH/TO/sbgan [cuda]" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }
# expect_error "message part" command...: the command must fail and print the message.
expect_error() {
  local want="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then fail "'$*' succeeded; expected an error containing '$want'"; fi
  grep -qF -- "$want" <<<"$out" || fail "'$*' printed '$out'; expected '$want'"
  echo "refused as expected: $want"
}

cat >"$work/tiny.json" <<'JSON'
{"base": "demo", "name": "tiny", "dataset_size": 16,
 "layout_gan": {"latent": 8, "max_resolution": 8, "fmap_base": 32, "fmap_max": 16,
                "epochs_per_phase": 1, "batch": [4, 4]},
 "spade": {"nf": 2, "hidden": 8, "ndf": 4, "batch": 4},
 "end2end": {"layout_resolution": 8, "batch": 4}}
JSON

gpu_listed() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }

# ------------------------------------------------------------ --device cuda ---
cuda_checks() {
  local out status=0 run="$work/cuda"
  out="$("$sbgan" train --device cuda --config "$work/tiny.json" --data procedural --out "$run" --stop-at 5 \
         --log-every 1 --sample-every 2 2>&1)" || status=$?
  if [[ $status -ne 0 ]]; then
    if grep -qF "built without the CUDA backend (configure with -DSBGAN_WITH_CUDA=ON)" <<<"$out"; then
      echo "refused as expected (no CUDA backend in this build): $out"
      expect_error "built without the CUDA backend" "$sbgan" sample --device cuda --checkpoint "$work/tiny.json" \
        --out "$work/cuda-x"
      return
    fi
    if grep -qF "no CUDA GPU is present" <<<"$out"; then
      ! gpu_listed || fail "nvidia-smi lists a GPU, but train --device cuda said: $out"
      echo "refused as expected (CUDA build, no GPU): $out"
      test ! -e "$run/checkpoints" || fail "train --device cuda wrote checkpoints before refusing"
      # Every model command refuses before it reads anything (any existing file passes the
      # command line's check, and is never opened).
      expect_error "no CUDA GPU is present" "$sbgan" sample --device cuda --checkpoint "$work/tiny.json" --out "$work/cuda-x"
      expect_error "no CUDA GPU is present" "$sbgan" synthesize --device cuda --checkpoint "$work/tiny.json" \
        --out "$work/cuda-x" "$work/tiny.json"
      expect_error "no CUDA GPU is present" "$sbgan" eval --device cuda --checkpoint "$work/tiny.json"
      return
    fi
    fail "train --device cuda failed (exit $status): $out"
  fi
  echo "$out"
  grep -q "on the CUDA backend" <<<"$out" || fail "train --device cuda did not say it runs on the CUDA backend"
  grep -q "stopped; continue with --resume" <<<"$out" || fail "the GPU run did not stop at step 5"
  "$sbgan" train --device cuda --config "$work/tiny.json" --data procedural --out "$run" --resume --log-every 4 \
    | tee "$work/cuda-second.txt"
  grep -q "resuming from .*checkpoint-000000000005" "$work/cuda-second.txt" || fail "the GPU run did not resume from step 5"
  grep -q "training complete" "$work/cuda-second.txt" || fail "the GPU run did not complete"
  ls "$run/samples/"step-*.png >/dev/null || fail "no sample grids from the GPU run"
  local last
  last="$(ls "$run/checkpoints/"checkpoint-*.safetensors | sort | tail -n 1)"
  local device
  for device in cuda cpu; do  # the GPU's checkpoint, sampled on both backends
    "$sbgan" sample --device "$device" --checkpoint "$last" -n 3 --out "$work/cuda-samples-$device" --seed 5
    for f in sample_0_image.png sample_2_layout.png grid.png; do
      test -s "$work/cuda-samples-$device/$f" || fail "sample --device $device wrote no $f"
    done
  done
  "$sbgan" synthesize --device cuda --checkpoint "$last" --out "$work/cuda-synth" --label-set identity \
    "$work/cuda-samples-cuda/sample_0_labels.png"
  test -s "$work/cuda-synth/sample_0_labels_synthesized.png" || fail "synthesize --device cuda wrote nothing"
  "$sbgan" eval --device cuda --checkpoint "$last" --data procedural -n 16 | tee "$work/cuda-eval.txt"
  grep -q "class-frequency TV" "$work/cuda-eval.txt" || fail "eval --device cuda printed no layout statistics"
  echo "--device cuda: ran on the GPU"
}

if [[ "$mode" == cuda ]]; then
  cuda_checks
  echo "sbgan CLI (--device cuda): all checks passed"
  exit 0
fi

run="$work/run"
"$sbgan" train --config "$work/tiny.json" --data procedural --out "$run" --stop-at 7 --log-every 2 \
  --sample-every 4 | tee "$work/first.txt"
grep -q "stopped; continue with --resume" "$work/first.txt" || fail "the first part did not stop"
grep -q "^\[stage 1" "$work/first.txt" || fail "no progress line"
expect_error "already holds checkpoints" "$sbgan" train --config "$work/tiny.json" --data procedural --out "$run"
"$sbgan" train --config "$work/tiny.json" --data procedural --out "$run" --resume --log-every 4 | tee "$work/second.txt"
grep -q "resuming from .*checkpoint-000000000007" "$work/second.txt" || fail "did not resume from step 7"
grep -q "training complete" "$work/second.txt" || fail "the run did not complete"
test -s "$run/log.csv" || fail "no CSV log"
ls "$run/samples/"step-*.png >/dev/null || fail "no sample grids"

latest="$(ls "$run/checkpoints/"checkpoint-*.safetensors | sort | tail -n 1)"
"$sbgan" sample --checkpoint "$latest" -n 3 --out "$work/samples" --seed 5
for f in sample_0_image.png sample_2_layout.png sample_1_labels.png grid.png; do
  test -s "$work/samples/$f" || fail "sample wrote no $f"
done
"$sbgan" synthesize --checkpoint "$latest" --out "$work/synth" --label-set identity "$work/samples/sample_0_labels.png"
test -s "$work/synth/sample_0_labels_synthesized.png" || fail "synthesize wrote nothing"
"$sbgan" eval --checkpoint "$latest" --data procedural -n 16 | tee "$work/eval.txt"
grep -q "class-frequency TV" "$work/eval.txt" || fail "eval printed no layout statistics"

# Bad input: each refused with a message that names the problem.
expect_error "unknown config 'nosuch'" "$sbgan" train --config nosuch --out "$work/x"
printf '{"base": "demo", "spade": {"nf": 0}}' >"$work/bad.json"
expect_error "spade.nf" "$sbgan" train --config "$work/bad.json" --out "$work/x"
expect_error "is not a directory" "$sbgan" train --config "$work/tiny.json" --data "$work/none" --out "$work/x"
head -c 1000 "$latest" >"$work/truncated.safetensors"
expect_error "truncated.safetensors" "$sbgan" sample --checkpoint "$work/truncated.safetensors" --out "$work/y"
expect_error "--label-set must be" "$sbgan" synthesize --checkpoint "$latest" --out "$work/z" --label-set bogus \
  "$work/samples/sample_0_labels.png"
expect_error "--device" "$sbgan" train --config "$work/tiny.json" --out "$work/x" --device tpu
cuda_checks
echo "sbgan CLI: all checks passed"
