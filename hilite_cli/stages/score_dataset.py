"""score-dataset: per-edit quality numbers for one or more triplet datasets (NHR Table 4, HILITE metrics).

Records need `source`, `edited`, `instruction`; `scores {instruction, aesthetics}` are used when no
judge runs, and a category comes from the first of `category_fields` present (never from `kind`,
which has its own breakdown). Each scored record
gains an `eval` field (kept id, other fields untouched):

    eval = {
      dataset, category, kind,   # the user's category and the triplet kind, kept apart
      scores: {instruction, aesthetics, geometric, source: "judge" | "record" | null},
      judge: {status, provider, model, raw, reason, cached, prompt, prompt_version} | null,
      ssim, ssim_unchanged, clip_i, clip_dir: float | null,
      lowlevel: {passed, changed_fraction, changed_pixels, largest_component,
                 largest_component_fraction, reason} | null,
      resized: bool,            # edited was resized to the source size before pixel metrics
      missing: {metric: why}    # every requested value that is null says why here
    }

Pixel metrics need equal sizes; editors often return another resolution, so here (unlike the
library functions, which refuse) the edit is resized to the source size with Lanczos and
`resized` says so. Aggregation into per-dataset means lives in `hilite_cli.stages.score_summary`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hilite_cli import storage
from hilite_cli.config import load_config
from hilite_cli.manifest import STDIO, read_manifest
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.records import Record, with_error
from hilite_cli.stages.base import Stage
from hilite_cli.stages.judging import ImageFiles
from hilite_cli.stages.score_judge import JudgeFn, JudgeItem
from hilite_cli.stages.score_summary import summarize

if TYPE_CHECKING:
    from hilite_cli.engine.local import BatchMapper

METRICS: tuple[str, ...] = ("ssim", "clip", "lowlevel", "judge")
REQUIRED: tuple[str, ...] = ("source", "edited", "instruction")


def score_settings() -> dict[str, Any]:
    return dict(load_config("metrics")["score"])


def parse_metrics(spec: str | Iterable[str]) -> tuple[str, ...]:
    """`ssim,clip` -> ('ssim', 'clip'); unknown names are a usage error naming the valid ones."""
    names = [m.strip() for m in (spec.split(",") if isinstance(spec, str) else spec) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


@dataclass
class DatasetInput:
    name: str
    manifest: str  # a path, or "-" for stdin


@dataclass
class SampledDataset:
    name: str
    n_total: int  # good records in the manifest
    n_invalid: int  # lines that were not records (malformed JSON, not an object, or carrying `error`)
    records: list[Record]  # the sample, in manifest order, each tagged with `dataset`
    bad_lines: list[Record] = field(default_factory=list)  # error records of the lines that were not JSON objects


def _scan(dataset: DatasetInput, keep: Callable[[int], bool] | None, bad_lines: list[Record]) -> tuple[list[Record], int, int]:
    """(the good records whose index `keep` takes, or all; how many good records; how many invalid lines).

    Lines that are not JSON objects also become error records in `bad_lines`."""
    records: list[Record] = []
    good = invalid = 0
    for line in read_manifest(dataset.manifest):
        if line.record is None:
            bad_lines.append({**line.error_record("score-dataset"), "dataset": dataset.name})
        if line.record is None or "error" in line.record:  # a record that failed upstream is counted, not re-reported
            invalid += 1
            continue
        if keep is None or keep(good):
            records.append(line.record)
        good += 1
    return records, good, invalid


def sample_dataset(dataset: DatasetInput, sample: int | None, seed: int) -> SampledDataset:
    """Read a manifest and draw `sample` records without replacement, seeded by (seed, dataset name).

    A file is read twice when sampled: once to count its records, once to keep the drawn ones, so
    only the sample is held (the same draw as from all records in memory). Stdin is held whole."""
    bad_lines: list[Record] = []
    in_memory = sample is None or dataset.manifest == STDIO
    records, n_total, invalid = _scan(dataset, None if in_memory else lambda _: False, bad_lines)
    if sample is not None and sample < n_total:
        rng = np.random.default_rng([seed, zlib.crc32(dataset.name.encode())])
        keep = np.sort(rng.choice(n_total, size=sample, replace=False))
        if in_memory:
            records = [records[i] for i in keep]
        else:
            records = _scan(dataset, set(keep.tolist()).__contains__, [])[0]
    elif not in_memory:
        records = _scan(dataset, None, [])[0]
    return SampledDataset(dataset.name, n_total, invalid, [{**r, "dataset": dataset.name} for r in records], bad_lines)


def _first_str(record: Record, fields: Sequence[str]) -> str | None:
    """The first non-empty string among `fields` (category, captions); a dotted name reads a nested
    field (`difficulty.band`, mine's curriculum bands)."""
    for name in fields:
        value: Any = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _load_pair(record: Record) -> tuple[np.ndarray, np.ndarray, bool]:
    from PIL import Image

    from hilite_cli.images import load_image

    source = load_image(record["source"])
    edited = load_image(record["edited"])
    resized = edited.size != source.size
    if resized:
        edited = edited.resize(source.size, Image.LANCZOS)
    return np.asarray(source), np.asarray(edited), resized


class ScoreDatasetStage(Stage):
    """Adds `eval` to each triplet record: the requested metrics, judge scores, and why any is missing."""

    name: ClassVar[str] = "score-dataset"
    batch_size: ClassVar[int] = 16

    def __init__(
        self,
        metrics: Sequence[str],
        *,
        judge: JudgeFn | None = None,
        clip_model: str | Path | None = None,
        clip_device: str | None = None,
        category_fields: Sequence[str] | None = None,
    ) -> None:
        self.metrics = parse_metrics(metrics)
        if "judge" in self.metrics and judge is None:
            raise ValueError("metric `judge` needs a judge (a provider spec such as gemini:gemini-2.5-flash)")
        self.judge = judge
        self.clip_model = clip_model
        self.clip_device = clip_device
        self.settings = score_settings()
        if category_fields:
            self.settings["category_fields"] = list(category_fields)
        self._clip: Any = None
        self._images = ImageFiles()

    def setup(self) -> None:
        if "clip" in self.metrics and self._clip is None:
            from hilite_cli.metrics.clip import ClipScorer

            self._clip = ClipScorer(self.clip_model, device=self.clip_device)
            self._clip.load()

    def teardown(self) -> None:
        if self._clip is not None:
            self._clip.close()
            self._clip = None
        self._images.close()

    def __call__(self, batch: list[Record]) -> list[Record]:
        # 1. per-record checks and pixel metrics; bad records become error records, the rest go on
        out: list[Record | None] = [None] * len(batch)
        evals: dict[int, dict[str, Any]] = {}
        pixels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        items: dict[int, JudgeItem] = {}
        held: dict[str, Any] = {}  # the judge's images, read on the pool while the pixel metrics run here
        if "judge" in self.metrics:
            held = {p: self._images.prepare(p) for r in batch for p in (r.get("source"), r.get("edited"))
                    if isinstance(p, str) and p}
        for i, record in enumerate(batch):
            try:
                evals[i], pair = self._pixel_metrics(record)
                if "judge" in self.metrics:
                    items[i] = self._judge_item(record, held)
            except _Unscorable as exc:
                evals.pop(i, None)
                out[i] = with_error(record, self.name, exc.kind, exc.message)
                continue
            if pair is not None:
                pixels[i] = pair
        good = sorted(evals)
        # 2. batched CLIP over the good records
        if "clip" in self.metrics and good:
            self._clip_metrics([batch[i] for i in good], [evals[i] for i in good], [pixels[i] for i in good])
        # 3. judge (or the record's own scores)
        self._scores([batch[i] for i in good], [evals[i] for i in good], [items[i] for i in good if i in items])
        for i in good:
            out[i] = {**batch[i], "eval": evals[i]}
        return [r for r in out if r is not None]

    def _pixel_metrics(self, record: Record) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray] | None]:
        from hilite_cli.images import ImageError
        from hilite_cli.metrics.lowlevel import changed_mask, lowlevel_check
        from hilite_cli.metrics.ssim import ssim, ssim_unchanged

        absent = [f for f in REQUIRED if not isinstance(record.get(f), str) or not record.get(f)]
        if absent:
            names = ", ".join(f"`{f}`" for f in absent)
            raise _Unscorable("invalid_record", f"{names} must be a non-empty string (an image path or the instruction)")
        ev: dict[str, Any] = {
            "dataset": record.get("dataset"),
            "category": _first_str(record, self.settings["category_fields"]),
            "kind": _first_str(record, ("kind",)),
            "resized": False,
            "missing": {},
        }
        needs_pixels = any(m in self.metrics for m in ("ssim", "clip", "lowlevel"))
        if not needs_pixels:
            unreadable = [record[f] for f in ("source", "edited") if not storage.is_file(record[f])]
            if unreadable:
                raise _Unscorable("bad_image", f"image file not found: {', '.join(unreadable)}")
            return ev, None
        try:
            source, edited, ev["resized"] = _load_pair(record)
        except ImageError as exc:
            raise _Unscorable("bad_image", str(exc)) from None
        if "lowlevel" in self.metrics:
            ev["lowlevel"] = lowlevel_check(source, edited).to_dict()
        if "ssim" in self.metrics:
            try:
                ev["ssim"] = ssim(source, edited)
                ev["ssim_unchanged"] = ssim_unchanged(source, edited, changed_mask(source, edited))
                if ev["ssim_unchanged"] is None:
                    ev["missing"]["ssim_unchanged"] = "every pixel changed"
            except ValueError as exc:  # e.g. an image smaller than the 7x7 SSIM window
                ev["ssim"] = ev["ssim_unchanged"] = None
                ev["missing"]["ssim"] = ev["missing"]["ssim_unchanged"] = str(exc)
        return ev, (source, edited)

    def _judge_item(self, record: Record, held: dict[str, Any]) -> JudgeItem:
        """The judge's images as validate sends them (image_wire.sendable), read on the pool."""
        from hilite_cli.images import ImageError
        from hilite_cli.records import check_instruction_length

        try:
            check_instruction_length(str(record["instruction"]))
        except ValueError as exc:
            raise _Unscorable("invalid_record", str(exc)) from None
        try:
            source, edited = (self._images.sendable(record[f], held[record[f]]) for f in ("source", "edited"))
        except ImageError as exc:
            raise _Unscorable("bad_image", str(exc)) from None
        return JudgeItem(source.data, edited.data, record["instruction"], (source.encoding, edited.encoding))

    def _clip_metrics(
        self, records: list[Record], evals: list[dict[str, Any]], pixels: list[tuple[np.ndarray, np.ndarray]]
    ) -> None:
        sources = [p[0] for p in pixels]
        edits = [p[1] for p in pixels]
        for ev, value in zip(evals, self._clip.image_similarity(sources, edits), strict=True):
            ev["clip_i"] = value
        with_captions = []
        for i, record in enumerate(records):
            src = _first_str(record, self.settings["source_caption_fields"])
            tgt = _first_str(record, self.settings["target_caption_fields"])
            if src is None or tgt is None:
                evals[i]["clip_dir"] = None
                evals[i]["missing"]["clip_dir"] = "no source/target captions on the record"
            else:
                with_captions.append((i, src, tgt))
        if not with_captions:
            return
        idx = [i for i, _, _ in with_captions]
        values = self._clip.direction_similarity(
            [sources[i] for i in idx],
            [edits[i] for i in idx],
            [s for _, s, _ in with_captions],
            [t for _, _, t in with_captions],
        )
        for i, value in zip(idx, values, strict=True):
            evals[i]["clip_dir"] = value
            if value is None:
                evals[i]["missing"]["clip_dir"] = "zero direction: edit and source (or captions) embed identically"

    def _scores(self, records: list[Record], evals: list[dict[str, Any]], items: list[JudgeItem]) -> None:
        if "judge" in self.metrics and records:
            for ev, outcome in zip(evals, self.judge(items), strict=True):
                ev["judge"] = outcome.to_dict()
                ok = outcome.status == "ok"
                instr = outcome.instruction if ok else None
                aes = outcome.aesthetics if ok else None
                ev["scores"] = {
                    "instruction": instr,
                    "aesthetics": aes,
                    "geometric": geometric_mean(instr, aes),
                    "source": "judge",
                }
                if not ok:
                    ev["missing"]["scores"] = f"judge {outcome.status}: {outcome.reason or 'no reason given'}"
            return
        for record, ev in zip(records, evals, strict=True):
            ev["judge"] = None
            given = record.get("scores") if isinstance(record.get("scores"), dict) else {}
            instr, aes = _number(given.get("instruction")), _number(given.get("aesthetics"))
            geo = geometric_mean(instr, aes)
            if geo is None:
                geo = _number(given.get("geometric"))
            has_any = any(v is not None for v in (instr, aes, geo))
            ev["scores"] = {
                "instruction": instr,
                "aesthetics": aes,
                "geometric": geo,
                "source": "record" if has_any else None,
            }
            if not has_any:
                ev["missing"]["scores"] = "no judge requested and the record carries no scores"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _Unscorable(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class ScoreRun:
    """Everything one score-dataset run produced: the scored and failed records, and the summary dict."""

    scored: list[Record]
    failed: list[Record]
    results: dict[str, Any]
    datasets: list[SampledDataset] = field(default_factory=list)


def score_datasets(
    inputs: Sequence[DatasetInput],
    *,
    metrics: Sequence[str],
    sample: int | None = None,
    seed: int | None = None,
    judge: JudgeFn | None = None,
    judge_spec: str | None = None,
    clip_model: str | Path | None = None,
    clip_device: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    category_fields: Sequence[str] | None = None,
    batch_size: int | None = None,
    on_total: Callable[[int], None] | None = None,
    mapper: BatchMapper | None = None,
) -> ScoreRun:
    """Sample each dataset, score it in batches, aggregate: the whole `hilite score-dataset` run in-process.

    `on_total(n)` gets the number of records to score once the samples are drawn and `on_batch(n)` is
    called after each batch (a progress bar's total and steps); `judge_spec` is recorded as provenance.
    `batch_size` overrides the stage's (`--batch-api` hands a whole batch job's worth to the judge at once).
    `mapper` (engine/ray.py's RayBatches) scores the batches elsewhere, in order; the sums per dataset
    are made here, from what comes back, exactly as for a local run.
    """
    names = [d.name for d in inputs]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    settings = score_settings()
    seed = int(settings["seed"]) if seed is None else seed
    datasets = [sample_dataset(d, sample, seed) for d in inputs]
    if on_total is not None:
        on_total(sum(len(ds.records) for ds in datasets))
    stage = ScoreDatasetStage(metrics, judge=judge, clip_model=clip_model, clip_device=clip_device,
                              category_fields=category_fields)
    if batch_size is not None:
        stage.batch_size = batch_size
    scored: list[Record] = []
    failed: list[Record] = []
    if mapper is None:
        stage.setup()
        try:
            for ds in datasets:
                for start in range(0, len(ds.records), stage.batch_size):
                    batch = ds.records[start : start + stage.batch_size]
                    for record in stage(batch):
                        (failed if "error" in record else scored).append(record)
                    if on_batch is not None:
                        on_batch(len(batch))
        finally:
            stage.teardown()
    else:
        numbered = (list(enumerate(ds.records[start : start + stage.batch_size], start + 1))
                    for ds in datasets for start in range(0, len(ds.records), stage.batch_size))
        for batch, records in mapper(stage, numbered):
            for record in records:
                (failed if "error" in record else scored).append(record)
            if on_batch is not None:
                on_batch(len(batch))
    run_settings = {
        "metrics": list(stage.metrics),
        "sample": sample,
        "seed": seed,
        "judge": judge_spec,
        "clip_model": str(clip_model or load_config("metrics")["clip"]["model"]) if "clip" in stage.metrics else None,
    }
    results = summarize(datasets, scored, failed, settings=run_settings)
    # Unparseable lines are counted as invalid in the results, and reported like any failed record.
    bad_lines = [rec for ds in datasets for rec in ds.bad_lines]
    return ScoreRun(scored=scored, failed=bad_lines + failed, results=results, datasets=datasets)
