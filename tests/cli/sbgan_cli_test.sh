#!/usr/bin/env bash
# The sbgan program end to end on a tiny config: train, stop, refuse to overwrite,
# resume, sample, synthesize, evaluate, and clear errors for bad input.
#   sbgan_cli_test.sh PATH/TO/sbgan
set -euo pipefail
sbgan="$1"
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
echo "sbgan CLI: all checks passed"
