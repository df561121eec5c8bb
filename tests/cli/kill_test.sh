#!/usr/bin/env bash
# Killed mid-write: starts `sbgan train` writing a checkpoint after every step,
# kills it with SIGKILL at a random moment, and checks that the newest complete
# checkpoint loads and the run resumes from it. Repeats TRIALS times (default 50).
#   kill_test.sh PATH/TO/sbgan [TRIALS] [SEED]
set -euo pipefail
sbgan="$1"
trials="${2:-50}"
RANDOM="${3:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/tiny.json" <<'JSON'
{"base": "demo", "name": "tiny", "dataset_size": 16,
 "layout_gan": {"latent": 8, "max_resolution": 8, "fmap_base": 32, "fmap_max": 16,
                "epochs_per_phase": 4, "batch": [4, 4]},
 "spade": {"nf": 2, "hidden": 8, "ndf": 4, "batch": 4},
 "end2end": {"layout_resolution": 8, "batch": 4}}
JSON

run="$work/run"
survived=0
for ((trial = 1; trial <= trials; ++trial)); do
  resume=()
  if ls "$run/checkpoints/"checkpoint-*.safetensors >/dev/null 2>&1; then resume=(--resume); fi
  "$sbgan" train --config "$work/tiny.json" --data procedural --out "$run" "${resume[@]}" \
    --checkpoint-every 1 --sample-every 0 --log-every 0 >"$work/train.log" 2>&1 &
  pid=$!
  # 20 to 1200 ms: start-up, steps and checkpoint writes alike.
  sleep "$(printf '0.%03d' $((20 + RANDOM % 980)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if ! ls "$run/checkpoints/"checkpoint-*.safetensors >/dev/null 2>&1; then
    echo "trial $trial: killed before the first checkpoint"
    survived=$((survived + 1))
    continue
  fi
  latest="$(ls "$run/checkpoints/"checkpoint-*.safetensors | sort | tail -n 1)"
  step=$((10#$(basename "$latest" .safetensors | sed 's/checkpoint-//')))
  # The newest checkpoint must load and the run must go on from it.
  if ! "$sbgan" train --config "$work/tiny.json" --data procedural --out "$run" --resume \
      --stop-at $((step + 1)) --checkpoint-every 1 --sample-every 0 --log-every 0 >"$work/resume.log" 2>&1; then
    if grep -q "training complete" "$work/resume.log"; then :; else
      echo "FAILED: trial $trial: the newest checkpoint $latest did not resume:" >&2
      cat "$work/resume.log" >&2
      exit 1
    fi
  fi
  grep -q "resuming from $latest" "$work/resume.log" || { echo "FAILED: trial $trial: did not resume from $latest" >&2; cat "$work/resume.log" >&2; exit 1; }
  echo "trial $trial: killed; resumed from step $step"
  survived=$((survived + 1))
  # A finished run starts over so that later trials still hit writes.
  if grep -q "training complete" "$work/resume.log"; then rm -rf "$run"; fi
done
echo "kill test: $survived of $trials trials survived"
test "$survived" -eq "$trials"
