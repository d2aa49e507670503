"""The NHR judge questions shared by `validate` and invert's backward check (prompts A.2, A.3, A.4).

Each question becomes a provider `Ask`; each `Answer` becomes record fields. A score or yes/no that
could not be obtained stays None beside the answer's status and reason: never a default number.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from hilite_cli.config import load_config
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.records import Record

# Statuses that mean "this question was not put to a model" rather than "the model failed":
# the offline provider asks nothing, and validate skips semantic checks for low scores.
NOT_ASKED: frozenset[str] = frozenset({"unavailable", "skipped"})
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Thresholds:
    """Both must be met (>=) for an edit to pass (NHR Algorithm 3, line 8)."""

    aesthetics: float
    instruction: float

    def passes(self, scores: dict[str, float | None]) -> bool:
        aes, adh = scores.get("aesthetics"), scores.get("instruction")
        return aes is not None and adh is not None and aes >= self.aesthetics and adh >= self.instruction

    def to_dict(self) -> dict[str, float]:
        return {"aesthetics": self.aesthetics, "instruction": self.instruction}


def forward_thresholds(threshold: float | None, t_aes: float | None, t_adh: float | None) -> Thresholds:
    """`threshold` sets both; `t_aes`/`t_adh` override one each; the rest from thresholds.toml [validate]."""
    defaults = load_config("thresholds")["validate"]
    aes = t_aes if t_aes is not None else threshold if threshold is not None else float(defaults["t_aes"])
    adh = t_adh if t_adh is not None else threshold if threshold is not None else float(defaults["t_adh"])
    return Thresholds(aesthetics=float(aes), instruction=float(adh))


def inverse_thresholds(t_inv_aes: float | None, t_inv_adh: float | None) -> Thresholds:
    """The backward consistency filter's thresholds (NHR T_inv,aes / T_inv,adh)."""
    defaults = load_config("thresholds")["validate"]
    aes = t_inv_aes if t_inv_aes is not None else float(defaults["t_inv_aes"])
    adh = t_inv_adh if t_inv_adh is not None else float(defaults["t_inv_adh"])
    return Thresholds(aesthetics=float(aes), instruction=float(adh))


class ImageFiles:
    """What judges get of image files (`image_wire.sendable`), prepared ahead on a bounded pool of threads,
    and the files' content hashes; problems raise ImageError when the result is asked for.

    Sources are shared by many candidates (seeds x models), so the most recent `capacity` paths keep
    their prepared bytes (or the preparation under way) instead of being read again for every candidate.
    Checking a PNG's CRCs, reading files and re-encoding spend their time in C with the GIL released,
    so `workers` threads (configs/providers.toml [judge_images]) keep pace with the calls.
    """

    def __init__(self, capacity: int = 64) -> None:
        from hilite_cli.image_wire import wire_settings

        self.capacity = capacity
        self.settings = wire_settings()
        self._ready: OrderedDict[str, Future[Any]] = OrderedDict()
        self._sha: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What a copy needs (a stage goes to Ray workers pickled): the hashes; no pool, lock or bytes."""
        return {"capacity": self.capacity, "settings": self.settings, "sha": dict(self._sha)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.capacity, self.settings = state["capacity"], state["settings"]
        self._ready, self._sha = OrderedDict(), state["sha"]
        self._lock, self._pool = threading.Lock(), None

    def prepare(self, path: str) -> Future[Any]:
        """The `Sendable` of `path`, being prepared on the pool (or already there)."""
        with self._lock:
            if path in self._ready:
                self._ready.move_to_end(path)
                return self._ready[path]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=int(self.settings["workers"]), thread_name_prefix="images")
            future = self._pool.submit(_sendable, path, self.settings)
            self._ready[path] = future
            while len(self._ready) > self.capacity:
                self._ready.popitem(last=False)
            return future

    def sendable(self, path: str, future: Future[Any] | None = None) -> Any:
        """The prepared `Sendable` (bytes and encoding) of `path`, from `future` when the caller holds
        the one `prepare` gave; an unreadable image raises ImageError, and is read again next time it
        is asked for (the file may appear)."""
        future = future or self.prepare(path)
        try:
            return future.result()
        except BaseException:
            with self._lock:
                if self._ready.get(path) is future:
                    del self._ready[path]
            raise

    def data(self, path: str) -> bytes:
        """Bytes a provider can take (`sendable(path).data`)."""
        return self.sendable(path).data

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`fn` over `items` on the same pool, in order: other per-image work (decoding for the pixel
        check) runs beside the calls too, never more of it at once than the pool has threads."""
        items = list(items)
        if len(items) <= 1:
            return [fn(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=int(self.settings["workers"]), thread_name_prefix="images")
            pool = self._pool
        return list(pool.map(fn, items))

    def sha(self, path: str) -> str:
        """sha256 of the file as stored: the image's identity for ids and grouping."""
        if path not in self._sha:
            from hilite_cli.images import ImageError, file_sha256

            _require_file(path)
            try:
                self._sha[path] = file_sha256(path)
            except OSError as exc:
                raise ImageError(f"{path}: cannot read ({exc})") from None
        return self._sha[path]

    def close(self) -> None:
        """Stop the pool (what is queued is dropped); prepared bytes are let go."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._ready.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _require_file(path: str) -> None:
    from hilite_cli import storage
    from hilite_cli.images import ImageError

    if not storage.is_file(path):
        raise ImageError(f"image file not found: {path}")


def _sendable(path: str, settings: dict[str, Any]) -> Any:
    """`image_wire.sendable`: a checked PNG/JPEG as its own bytes, anything else decoded and re-encoded."""
    from hilite_cli.image_wire import sendable

    return sendable(path, settings)  # a missing file: "image file not found: PATH" (images.read_image_file)


def judge_batch_size(batch_size: int, concurrency: int | None) -> int:
    """Records a stage hands the judge at once: `batch_size`, and at least [judge_images] `rounds` times
    the concurrency ([defaults] when not given), so the calls overlap over several rounds and the pause
    between batches (the last calls of one finishing before the next begins) costs little."""
    from hilite_cli.config import load_config

    providers = load_config("providers")
    calls = concurrency or int(providers["defaults"]["concurrency"])
    return max(batch_size, int(providers["judge_images"]["rounds"]) * calls)


@dataclass(frozen=True)
class Job:
    """Asks that need images: `asks(sendables)` builds them once the images at `paths` are ready."""

    paths: tuple[str, ...]
    asks: Callable[[list[Any]], list[Any]]


@dataclass(frozen=True)
class Judged:
    """A job's answers and the encodings its images went in (`original png`, …); `error` (an ImageError)
    instead when an image could not be read, and then nothing was asked."""

    answers: list[Any]
    sent: list[str]
    error: Exception | None = None


class JudgeCalls:
    """Jobs asked on `--concurrency` threads of their own, their images prepared ahead on `images`' pool.

    At most `ahead` x concurrency jobs ([judge_images]) are prepared or in flight at once, across
    batches: that bounds the bytes held, and lets a stage hand in the next batch's jobs while this
    batch's calls are still out (`submit` returns at once when there is room), so the calls never
    wait for a batch boundary. With a batch runner (`--batch-api`), a batch's images are prepared
    first and go as one `ask_many` (one provider batch job).
    """

    def __init__(self, provider: Any, images: ImageFiles) -> None:
        self.provider = provider
        self.images = images
        concurrency = max(1, int(provider.settings.concurrency))
        self._window = threading.BoundedSemaphore(max(concurrency + 1, int(float(images.settings["ahead"]) * concurrency)))
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="asks")

    def submit(self, jobs: Sequence[Job]) -> list[Future[Judged]]:
        """Futures of the jobs' answers, in job order; blocks only while the window is full."""
        if getattr(self.provider, "batch", None) is not None:
            done: list[Future[Judged]] = []
            for judged in self._as_one_batch(jobs):
                done.append(Future())
                done[-1].set_result(judged)
            return done
        pending = []
        for job in jobs:
            self._window.acquire()
            pending.append(self._pool.submit(self._run, job, [self.images.prepare(p) for p in job.paths]))
        return pending

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _ready(self, job: Job, futures: list[Future[Any]]) -> tuple[list[Any], Judged | None]:
        from hilite_cli.images import ImageError

        try:
            return [self.images.sendable(p, f) for p, f in zip(job.paths, futures, strict=True)], None
        except ImageError as exc:
            return [], Judged([], [], exc)

    def _run(self, job: Job, futures: list[Future[Any]]) -> Judged:
        try:
            sent, failed = self._ready(job, futures)
            if failed is not None:
                return failed
            return Judged([self.provider.ask(a) for a in job.asks(sent)], [s.encoding for s in sent])
        finally:
            self._window.release()

    def _as_one_batch(self, jobs: Sequence[Job]) -> list[Judged]:
        held = [[self.images.prepare(p) for p in job.paths] for job in jobs]
        prepared = [self._ready(job, futures) for job, futures in zip(jobs, held, strict=True)]
        asks = [job.asks(sent) if failed is None else [] for job, (sent, failed) in zip(jobs, prepared, strict=True)]
        answers = iter(self.provider.ask_many([a for group in asks for a in group]))
        return [failed or Judged([next(answers) for _ in group], [s.encoding for s in sent])
                for group, (sent, failed) in zip(asks, prepared, strict=True)]


def ask_jobs(provider: Any, images: ImageFiles, jobs: Sequence[Job]) -> list[Judged]:
    """Answer every job's asks, in job order, with the image work pipelined ahead of the calls (`JudgeCalls`)."""
    calls = JudgeCalls(provider, images)
    try:
        return [f.result() for f in calls.submit(jobs)]
    finally:
        calls.close()


def _images(*images: bytes | None) -> list[bytes]:
    """The images an ask carries: None (the offline judge, which reads none) is left out."""
    return [img for img in images if img is not None]


def scoring_ask(original: bytes | None, edited: bytes | None, instruction: str) -> Any:
    """Prompt A.2 on (original, edited, instruction) at temperature 0, as NHR's hard filter runs it."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask
    from hilite_cli.providers.schemas import EditScores

    return Ask(
        prompt=render_prompt("a2_evaluation", instruction=instruction),
        images=_images(original, edited),
        expect="json",
        schema=EditScores,
        temperature=0.0,
    )


def unwanted_ask(original: bytes | None, edited: bytes | None, instruction: str) -> Any:
    """Prompt A.3: does the edit match the instruction without unwanted changes? (yes = pass)."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask

    return Ask(
        prompt=render_prompt("a3_unwanted", instruction=instruction),
        images=_images(original, edited),
        expect="yesno",
        temperature=0.0,
    )


def aesthetic_ask(edited: bytes | None) -> Any:
    """Prompt A.4: is the edited image aesthetically pleasing? (yes = pass)."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask

    return Ask(prompt=render_prompt("a4_aesthetics"), images=_images(edited), expect="yesno", temperature=0.0)


def scores_from(answer: Any) -> dict[str, float | None]:
    """`{instruction, aesthetics, geometric}` from an A.2 answer; all None unless the answer is ok."""
    if answer.status != "ok" or answer.value is None:
        return {"instruction": None, "aesthetics": None, "geometric": None}
    adh = float(answer.value.InstructionAdherence)
    aes = float(answer.value.ImageAesthetic)
    return {"instruction": adh, "aesthetics": aes, "geometric": geometric_mean(adh, aes)}


def judge_block(answer: Any, prompt: str, sent: list[str] | None = None) -> Record:
    """Provenance of one judgement: who answered, with which prompt version, how it went, whether the
    answer was replayed from the response cache rather than asked in this run, and (`sent`, when
    known) the encoding each image went to the judge in (`original png`, `re-encoded png`, …)."""
    from hilite_cli.prompts import prompt_version

    block: Record = {
        "provider": answer.provider,
        "model": answer.model,
        "status": answer.status,
        "cached": bool(answer.cached),
        "raw": answer.raw,
        "reason": answer.reason,
        "prompt": prompt,
        "prompt_version": prompt_version(prompt),
        "usage": answer.usage.model_dump() if getattr(answer, "usage", None) is not None else None,
        **({"tuned": answer.tuned} if getattr(answer, "tuned", None) else {}),
    }
    if sent is not None:
        block["images"] = sent
    return block


def yesno_check(answer: Any, prompt: str, sent: list[str] | None = None) -> Record:
    """A semantic check's result: `passed` is the model's yes/no, or None when there was none."""
    block = judge_block(answer, prompt, sent)
    block["passed"] = bool(answer.value) if answer.status == "ok" else None
    return block


def failed_status(status: str) -> str | None:
    """`status` if it says a model answer failed (refused, unparsed, http_error…), None if ok or not asked."""
    return None if status == "ok" or status in NOT_ASKED else status


def open_provider(spec: str | Any, options: dict[str, Any] | None) -> tuple[Any, bool]:
    """A provider from a `PROVIDER[:MODEL]` spec (owned: closed by the stage) or one passed in (borrowed).

    `options` go to `get_provider` (base_url, concurrency, timeout, max_retries, cache_path, use_cache).
    """
    if not isinstance(spec, str):
        return spec, False
    from hilite_cli.providers import get_provider

    return get_provider(spec, **(options or {})), True


def backend_name(provider: str | Any) -> str:
    """The backend of a `PROVIDER[:MODEL]` spec (an unknown one raises ProviderConfigError) or provider object."""
    if isinstance(provider, str):
        from hilite_cli.providers import parse_spec

        return parse_spec(provider)[0]
    return str(provider.name)
