#!/usr/bin/env bash
# Crash-safety check: train CONFIG into OUT, `kill -9` the process some seconds after
# checkpoint-STEP is complete (so the steps after it are lost), then continue with --resume.
# Compare OUT/metrics.json with an uninterrupted run of the same config and seed.
#
#   experiments/scripts/kill_resume_experiment.sh minilm runs/minilm-resume 2000
set -euo pipefail
CONFIG=${1:-minilm}
OUT=${2:-runs/minilm-resume}
STEP=${3:-2000}
LOG=${OUT%/}.log
mkdir -p "$(dirname "$OUT")"
emotag train --config "$CONFIG" --output "$OUT" > "$LOG" 2>&1 &
pid=$!
until [ -f "$OUT/checkpoints/checkpoint-$STEP/trainer_state.json" ]; do
  kill -0 "$pid" 2>/dev/null || { echo "training ended before checkpoint-$STEP"; exit 1; }
  sleep 2
done
sleep 25
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
echo "killed -9 after checkpoint-$STEP; checkpoints left: $(ls "$OUT/checkpoints" | tr '\n' ' ')"
emotag train --config "$CONFIG" --output "$OUT" --resume >> "$LOG" 2>&1
echo "resumed run finished: $OUT/metrics.json"
