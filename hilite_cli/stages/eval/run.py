"""One `hilite eval` run: edit each benchmark item (or find its edited image), judge it, write it.

`settings.protocol` (careful or reference) sets how images are encoded and the judge sampled
(protocols.request_shape) and the arithmetic (aggregate); reference adds its `deviations` to the
summary. Per judged item, one record (`-o`): key, category, instruction, source, edited, `scores`
and `judge` (provider, model, `prompts: {source, bundled, version}` (the bundled VIEScore texts or the
user's file, and a hash of the texts), and every ask's status, raw reply and reason). An item
whose edit is missing or failed, or whose judge failed, goes to the errors manifest instead, with
null scores (and any score that was read) and its status, and the run exits 1; the summary counts
it as failed. With `resume`, items already in the output are not judged again (they count from what
the output holds) and failed ones are tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.images import ImageError, encode_image, load_image, write_bytes_atomic
from hilite_cli.manifest import ErrorManifest, ManifestWriter, read_records
from hilite_cli.providers import Answer, Provider
from hilite_cli.records import Record, RecordError, with_error
from hilite_cli.stages.eval.aggregate import METRICS, summarize
from hilite_cli.stages.eval.benchmarks import Item, edited_path
from hilite_cli.stages.eval.judge_prompts import ImgEditPrompts, VieScorePrompts
from hilite_cli.stages.eval.protocols import (
    REFERENCE_DEVIATIONS,
    imgedit_ask,
    imgedit_scores,
    judge_images,
    request_shape,
    viescore_asks,
    viescore_scores,
)
from hilite_cli.stages.judging import ImageFiles, Job, ask_jobs, judge_batch_size

STAGE = "eval"
EditFn = Callable[[Item], Any]
Count = Callable[[int], None]


@dataclass
class EvalSettings:
    benchmark: str
    edited: Path
    output: str
    errors: str
    resume: bool = False
    editor_name: str | None = None
    judge_name: str = ""
    recorded: dict[str, Any] = field(default_factory=dict)  # what else the summary names (data, language, subset)
    judge_batch: int | None = None  # items judged per `ask_many` [configs/eval.toml]; a batch job's worth with --batch-api
    protocol: str = "careful"  # careful (hilite's) or reference (the published harness's requests and arithmetic)


def _batches(items: list[Item], size: int) -> Iterator[list[Item]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class EvalRun:
    """Edit (optional), judge and aggregate one benchmark."""

    def __init__(
        self, settings: EvalSettings, items: list[Item], *, judge: Provider, prompts: VieScorePrompts | ImgEditPrompts,
        edit: EditFn | None = None, on_total: Count | None = None, on_batch: Count | None = None,
    ) -> None:
        self.s = settings
        self.items = items
        self.judge = judge
        self.prompts = prompts
        self.edit = edit
        self.on_total = on_total  # items left to judge (a progress bar's total)
        self.on_batch = on_batch  # items finished, once per judged batch
        self.failed: list[Record] = []
        self.shape = request_shape(settings.benchmark, settings.protocol)
        self._images = ImageFiles()  # the calls' pool (the images themselves are prepared per protocol)

    def run(self) -> dict[str, Any]:
        writer = ManifestWriter(self.s.output, resume=self.s.resume)
        errors = ErrorManifest(self.s.errors)
        written: list[Record] = []
        try:
            todo = [i for i in self.items if self._id(i) not in writer.seen]
            if self.on_total is not None:
                self.on_total(len(todo))
            for batch in _batches(todo, self.s.judge_batch or self._batch_size()):
                for record in self._judge_batch(batch):
                    if record["status"] == "ok":
                        writer.write(record)
                        written.append(record)
                    else:
                        self.failed.append(record)
                        errors.write(with_error(record, STAGE, record["status"], record.pop("message")))
                if self.on_batch is not None:
                    self.on_batch(len(batch))
        finally:
            writer.close()
            errors.close()
            self._images.close()
        keys = {self._id(i) for i in self.items}
        done = {r["id"]: r for r in (read_records(self.s.output) if self.s.resume else written) if r.get("id") in keys}
        settings = {"editor": self.s.editor_name or f"edited folder {self.s.edited}", "judge": self.s.judge_name,
                    "prompts": self._prompts_used(), "protocol": self.s.protocol, **self.s.recorded}
        if self.s.protocol == "reference":
            settings["deviations"] = list(REFERENCE_DEVIATIONS[self.s.benchmark])
        return summarize(self.s.benchmark, [*done.values(), *self.failed], settings)

    def _batch_size(self) -> int:
        """Items handed to the judge at once: [run] judge_batch, and at least [judge_images] rounds x --concurrency."""
        return judge_batch_size(int(load_config("eval")["run"]["judge_batch"]), self.judge.settings.concurrency)

    def _prompts_used(self) -> dict[str, Any]:
        source = self.prompts.source
        return {"source": source, "bundled": source.startswith("bundled:"), "version": self.prompts.version}

    def _id(self, item: Item) -> str:
        return f"{self.s.benchmark}:{item.key}"

    def _record(self, item: Item, edited: Path) -> Record:
        return {"id": self._id(item), "key": item.key, "benchmark": self.s.benchmark, "category": item.category,
                "instruction": item.instruction, "language": item.language, "source": str(item.source),
                "edited": str(edited), **({"extra": item.extra} if item.extra else {})}

    def _failed(self, record: Record, status: str, message: str) -> Record:
        return {**record, "scores": {m: None for m in METRICS[self.s.benchmark]}, "status": status, "message": message}

    def _edited(self, item: Item, path: Path) -> None:
        """Run the editor for an item without an edited image yet (atomic write, so a resume trusts the file)."""
        image = load_image(item.source)
        write_bytes_atomic(path, encode_image(self.edit(item, image)))

    def _judge_batch(self, batch: list[Item]) -> list[Record]:
        """Judge a batch: the images are read on a bounded pool ahead of the calls (`judging.ask_jobs`)."""
        out: list[Record | None] = []
        jobs, owners = [], []
        for item in batch:
            path = edited_path(self.s.benchmark, self.s.edited, item)
            record = self._record(item, path)
            try:
                if not path.is_file() and self.edit is not None:
                    self._edited(item, path)
                if not path.is_file():
                    out.append(self._failed(record, "missing_edit", f"item {item.key}: no edited image at {path}"))
                    continue
                # the protocol decides what the judge sees (GEdit resizes the edit to the source; reference
                # mode sends JPEG or the files' own bytes): prepared here, then asked on the calls' threads
                source, edited, sent = judge_images(self.s.benchmark, self.shape, item.source, path)
            except (ImageError, RecordError, OSError) as exc:
                out.append(self._failed(record, getattr(exc, "kind", "bad_image"), f"item {item.key}: {exc}"))
                continue
            if isinstance(self.prompts, ImgEditPrompts) and self.prompts.prompt(item.category, item.instruction) is None:
                out.append(self._failed(record, "no_prompt", f"item {item.key}: the prompts have no entry for "
                                                              f"edit type {item.category!r}"))
                continue
            owners.append((len(out), record, sent))
            out.append(None)
            jobs.append(Job((), partial(self._prepared_asks, item, source, edited)))
        for (index, record, sent), judged in zip(owners, ask_jobs(self.judge, self._images, jobs), strict=True):
            if judged.error is not None:
                out[index] = self._failed(record, getattr(judged.error, "kind", "bad_image"),
                                          f"item {record['key']}: {judged.error}")
            else:
                out[index] = self._scored(record, judged.answers, sent)
        return [r for r in out if r is not None]

    def _prepared_asks(self, item: Item, source: bytes, edited: bytes, _: list[Any]) -> list[Any]:
        return self._asks(item, source, edited) or []

    def _asks(self, item: Item, source: bytes, edited: bytes) -> list[Any] | None:
        if isinstance(self.prompts, VieScorePrompts):
            return viescore_asks(self.prompts, item.instruction, source, edited, self.shape)
        ask = imgedit_ask(self.prompts, item.category, item.instruction, source, edited, self.shape)
        return None if ask is None else [ask]

    def _scored(self, record: Record, answers: list[Answer], sent: list[str]) -> Record:
        """The item's scores and judge blocks; `judge.images` says how the source and the edit were sent."""
        scores, blocks = (viescore_scores(*answers) if self.s.benchmark == "gedit"
                          else imgedit_scores(answers[0], self.s.protocol))
        failed = {name: b for name, b in blocks.items() if b["status"] != "ok"}
        judge = {"provider": answers[0].provider, "model": answers[0].model, "prompts": self._prompts_used(),
                 "images": sent, "asks": blocks}
        if not failed:
            return {**record, "scores": scores, "judge": judge, "status": "ok"}
        name, block = next(iter(failed.items()))
        status = f"judge_{block['status']}"
        message = f"item {record['key']}: {name} answer {block['status']}: {block['reason']}"
        return {**record, "scores": scores, "judge": judge, "status": status, "message": message}
