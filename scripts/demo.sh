#!/usr/bin/env bash
# `make demo`: HILITE + NHR end to end through shell pipes, on photos that ship with scikit-image.
# Offline by default (rule router, OpenCV editor, pixel-level judge); configs/demo.toml switches to
# real models and providers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${DEMO_OUT:-demo_out}" && cd "${DEMO_OUT:-demo_out}" && pwd)
eval "$(python "$ROOT/scripts/demo_profile.py")"
# Start clean, but only ever wipe a folder this script made (marked) or an empty one.
if [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/.hilite-demo" ]; then
  echo "demo: $OUT is not empty and was not made by the demo; set DEMO_OUT to a new folder" >&2
  exit 2
fi
find "$OUT" -mindepth 1 -delete && touch "$OUT/.hilite-demo" && cd "$OUT"
python "$ROOT/scripts/demo_inputs.py" . "$IMAGE_SIZE" >/dev/null
export HILITE_CACHE_DIR="$OUT/cache"
say() { printf '\n== %s\n' "$*" >&2; }

say "profile: $PROFILE (configs/demo.toml)"
if [ "$PROFILE" = offline ]; then
  echo "   offline backends: the judge leaves semantic scores null and says so; candidates pass on the" >&2
  echo "   low-level check alone, and inversions come from explicit rules. This shows the plumbing, not quality." >&2
fi

say "one-off edit: hilite edit images/chelsea.png \"turn it into a pencil sketch\""
hilite edit images/chelsea.png "turn it into a pencil sketch" --provider "$ROUTER" --models "$MODELS" \
  --top-k "$TOP_K" --out oneoff/ --no-progress >sketch.jsonl
hilite edit images/chelsea.png "turn it into a pencil sketch" --provider "$ROUTER" --models "$MODELS" \
  --top-k "$TOP_K" --out oneoff/ --no-progress --pick A --instruction-match 5 --original-match 5 \
  --comment "demo pick" >/dev/null

say "mask: centre boxes for every task"
hilite mask tasks.jsonl --box 0.25,0.25,0.75,0.75 --out masks/ -o tasks.masked.jsonl --no-progress

say "route | edit | validate | invert | bootstrap"
hilite route tasks.jsonl --provider "$ROUTER" --no-progress \
  | hilite edit - --models "$MODELS" --top-k "$TOP_K" --attempts "$ATTEMPTS" --sheet --out edits/ --no-progress \
  | tee candidates.jsonl \
  | hilite validate - --judge "$JUDGE" --checks "$CHECKS" --select best --no-progress \
      --export kto kto.jsonl --export dpo dpo.jsonl \
  | hilite invert - --llm "$INVERTER" --no-progress \
  | hilite bootstrap - --no-progress > dataset.jsonl \
  || echo "   some records failed: their reasons are in the *.errors.jsonl files" >&2
if [ "$PROFILE" = offline ]; then
  say "tasks that left no triplet, and why"
  python "$ROOT/scripts/demo_explain.py" candidates.jsonl dataset.jsonl
fi

say "mine: NHR's mining loop on the photos (real-photo mode: no T2I), M attempts per instruction"
printf 'make it black and white\ngive it a sepia tone\nturn it into a pencil sketch\n' > edits.txt
hilite mine --images images/ --edits edits.txt --editor "${MODELS%%,*}" --prefilter "$JUDGE" --attempts 2 \
  --keep-rejected -o pool.jsonl --out mined/ --stats mine-stats.json --no-progress

say "export: an InstructPix2Pix training folder and WebDataset shards"
hilite export dataset.jsonl --format ip2p --to dataset/
hilite export dataset.jsonl --format webdataset --to shards/

say "score-dataset: Table-4 style scores, HTML report"
hilite score-dataset dataset.jsonl --name demo --metrics "$METRICS" \
  $( [ "$PROFILE" = real ] && echo --judge "$JUDGE" ) --json scores.json --report report.html --no-progress > scored.jsonl

cat >&2 <<MSG

Done. Everything is under $OUT:
  tasks.jsonl              the tasks (scikit-image photos in images/)
  oneoff/, sketch.jsonl    one-off edit: candidates.jsonl, sheets/, picked-*.png, feedback.jsonl; its stdout
  tasks.masked.jsonl       tasks with masks (masks/)
  candidates.jsonl         every edit candidate (edits/, contact sheets in edits/sheets/)
  dataset.jsonl            forward + inverse + bootstrap triplets ($(wc -l < dataset.jsonl) records)
  kto.jsonl, dpo.jsonl     preference exports
  pool.jsonl               mined candidates (mined/), survival stats in mine-stats.json
  dataset/                 InstructPix2Pix imagefolder (metadata.jsonl)
  shards/                  WebDataset tar shards
  scores.json              score-dataset results (the --baseline format for CI)
  report.html              the report: open it in a browser
MSG
