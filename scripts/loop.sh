#!/usr/bin/env bash
# The loop NHR proposes ("cyclic and self-improving"), as a recipe of ordinary hilite commands:
#
#   mine -> validate -> invert -> bootstrap -> export (curriculum) -> YOUR TRAINING COMMAND -> eval
#        -> mine again with --schedule adaptive, weighted by the last eval's per-category weaknesses
#
# hilite does not train. Each round writes everything under $WORK/round-N/, and every step below is
# a command you can run alone. Put instruction categories on your specs (`category`, the
# benchmark's own category names, e.g. GEdit's task types: background_change, color_alter, ...) so
# the eval's weaknesses map onto what mining draws.
#
#   SPECS=specs.jsonl JUDGE=gemini:gemini-2.5-flash \
#   TRAIN_CMD='accelerate launch train_instruct_pix2pix.py --pretrained_model_name_or_path "$BASE_MODEL" \
#              --train_data_dir "$DATASET" --output_dir "$TRAINED" --seed 0' \
#   TRAINED_EDITOR=my-finetuned ROUNDS=2 scripts/loop.sh
#
# Settings (environment):
#   SPECS           prompt/photo specs for `hilite mine` (required)
#   WORK            output folder [loop]
#   ROUNDS          rounds to run [1]
#   EDITOR          registry model mined with and evaluated in round 1 [flux-kontext]
#   TRAINED_EDITOR  registry name of the model TRAIN_CMD produces (add it to configs/models.toml,
#                   or load its folder with WEIGHTS="NAME=DIR"); used from round 2 on [EDITOR]
#   WEIGHTS         optional NAME=DIR passed to mine and eval as --weights
#   PREFILTER       mine's A.2-A.4 pre-filter [configs preset]    PREFILTER_URL  its --base-url
#   JUDGE           validate's judge and eval's judge (PROVIDER[:MODEL]) (required)
#   LLM             invert's rewriting LLM [JUDGE]
#   BENCH           gedit or imgedit [gedit]      BENCH_DATA  eval --data [configs: the benchmark's hub id]
#   BENCH_METADATA  imgedit: eval --metadata, your basic_edit.json when BENCH_DATA has none (the hub archive)
#   PROMPTS         eval --prompts: gedit: optional, a VIEScore checkout instead of the bundled
#                   prompts; imgedit: your copy of ImgEdit's prompts.json (required: not bundled)
#   FORMAT          export format for training [ip2p]
#   MAX_DROP        eval regression gate vs the previous round [0.1]
#   TRAIN_CMD       YOUR training command; sees $DATASET (the export), $TRAINED (a folder for the
#                   result) and $BASE_MODEL. Unset: the training step is SKIPPED and says so, and the
#                   eval measures the same editor again (a dry run of the loop, not an improvement).
#                   diffusers' train_instruct_pix2pix.py needs --pretrained_model_name_or_path (a
#                   4-channel Stable Diffusion UNet it widens to 8) and --seed (it seeds a generator).
#   BASE_MODEL      the model TRAIN_CMD fine-tunes [stable-diffusion-v1-5/stable-diffusion-v1-5]
set -euo pipefail

: "${SPECS:?set SPECS to a specs manifest for hilite mine}"
: "${JUDGE:?set JUDGE to a judge provider, e.g. gemini:gemini-2.5-flash}"
WORK=${WORK:-loop}
ROUNDS=${ROUNDS:-1}
EDITOR=${EDITOR:-flux-kontext}
TRAINED_EDITOR=${TRAINED_EDITOR:-$EDITOR}
LLM=${LLM:-$JUDGE}
BENCH=${BENCH:-gedit}
if [[ "$BENCH" == imgedit && -z "${PROMPTS:-}" ]]; then
  echo "set PROMPTS to your copy of ImgEdit's prompts.json (ImgEdit publishes no licence, so hilite does not bundle it)" >&2
  exit 2
fi
FORMAT=${FORMAT:-ip2p}
BASE_MODEL=${BASE_MODEL:-stable-diffusion-v1-5/stable-diffusion-v1-5}
MAX_DROP=${MAX_DROP:-0.1}
HILITE=${HILITE:-hilite}

weights=()
[[ -n "${WEIGHTS:-}" ]] && weights=(--weights "$WEIGHTS")
prefilter=()
[[ -n "${PREFILTER:-}" ]] && prefilter=(--prefilter "$PREFILTER")
[[ -n "${PREFILTER_URL:-}" ]] && prefilter+=(--base-url "$PREFILTER_URL")
data=()
[[ -n "${BENCH_DATA:-}" ]] && data=(--data "$BENCH_DATA")
[[ -n "${BENCH_METADATA:-}" ]] && data+=(--metadata "$BENCH_METADATA")
prompts=()
[[ -n "${PROMPTS:-}" ]] && prompts=(--prompts "$PROMPTS")

editor=$EDITOR
previous=""
for round in $(seq 1 "$ROUNDS"); do
  R="$WORK/round-$round"
  mkdir -p "$R"
  echo "== round $round: editor $editor" >&2

  # 1. mine: uniform in round 1; afterwards adaptive, weighted by the last eval's weaknesses
  schedule=(--schedule uniform)
  [[ -n "$previous" ]] && schedule=(--schedule adaptive --category-weights "$previous/eval.json")
  "$HILITE" mine "$SPECS" -o "$R/pool.jsonl" --out "$R/mined" --editor "$editor" "${weights[@]}" \
      "${prefilter[@]}" "${schedule[@]}" --stats "$R/mine-stats.json" --resume

  # 2. validate: the hard filter, best candidate per (source, instruction)
  "$HILITE" validate "$R/pool.jsonl" --judge "$JUDGE" --select best -o "$R/triplets.jsonl"

  # 3-4. invert and bootstrap
  "$HILITE" invert "$R/triplets.jsonl" --llm "$LLM" -o "$R/with-inverses.jsonl"
  "$HILITE" bootstrap "$R/with-inverses.jsonl" -o "$R/dataset.jsonl"

  # 5. export as a curriculum (easy -> hard), difficulty kept as a column
  "$HILITE" export "$R/dataset.jsonl" --format "$FORMAT" --to "$R/export" --order difficulty

  # 6. >>> YOUR TRAINING COMMAND (a placeholder: hilite does not train) <<<
  export DATASET="$R/export" TRAINED="$R/trained" BASE_MODEL
  if [[ -n "${TRAIN_CMD:-}" ]]; then
    mkdir -p "$TRAINED"
    bash -c "$TRAIN_CMD"
    editor=$TRAINED_EDITOR
  else
    echo "TRAINING STEP SKIPPED: TRAIN_CMD is not set; the eval below measures $editor unchanged" >&2
  fi

  # 7. eval on the benchmark, gated against the previous round (exit 3 stops the loop on a regression)
  gate=()
  [[ -n "$previous" ]] && gate=(--baseline "$previous/eval.json" --max-drop "$MAX_DROP")
  "$HILITE" eval "$BENCH" "${data[@]}" --editor "$editor" "${weights[@]}" --out "$R/eval-run" \
      --judge "$JUDGE" "${prompts[@]}" -o "$R/eval.jsonl" --json "$R/eval.json" "${gate[@]}" --resume

  # 8. the next round mines with --category-weights "$R/eval.json"
  previous=$R
done
echo "loop: done; last eval in $previous/eval.json" >&2
