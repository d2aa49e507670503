#!/usr/bin/env bash
# `make demo`: the main job end to end, offline, on photos that ship with scikit-image.
set -euo pipefail
OUT=${DEMO_OUT:-demo_out}
rm -rf "$OUT" && mkdir -p "$OUT"
python scripts/demo_inputs.py "$OUT" >/dev/null
cd "$OUT"

echo "== hilite mask: centre box masks for every task" >&2
hilite mask tasks.jsonl --box 0.25,0.25,0.75,0.75 --out masks/ -o tasks.masked.jsonl

echo >&2
echo "Outputs:" >&2
echo "  tasks with masks: $OUT/tasks.masked.jsonl" >&2
echo "  masks:            $OUT/masks/" >&2
