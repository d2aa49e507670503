"""`edit`: run the routed (or chosen) editors on each task and emit one candidate per (model, seed).

HILITE shows candidates in a randomised order with the model names hidden, so every candidate of
one input gets an anonymised `slot` letter in an order shuffled by a generator seeded with the
input id (reproducible across runs). NHR's M attempts per (image, instruction, model) run as ONE
batched `Editor.edit` call. A model that fails for a record yields an error record for that
(record, model); the other models' candidates still come out.

Knobs: `text_influence` / `image_influence` are levels on the scale every model shares (see
hilite_cli.models.registry); `native` sets a model's own argument directly. A model whose every
seed gives the same image (`deterministic` in the registry) yields ONE candidate, whatever M is.
A candidate's id includes its task's id, so two tasks with the same image and instruction keep
their own candidates and metadata.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from hilite_cli import storage
from hilite_cli.images import file_sha256, load_image, load_mask, save_image
from hilite_cli.models.base import AttemptsFailed, Editor
from hilite_cli.models.hosted import is_hosted, record_fields
from hilite_cli.models.registry import check_level, effective_params, get_spec, is_registered, scale_levels
from hilite_cli.records import Record, RecordError, RoutedModel, Task, stable_id, validate_as, with_error
from hilite_cli.stages.base import Stage

Loader = Callable[..., Editor]


def _default_loader(name: str, **kwargs: Any) -> Editor:
    from hilite_cli.models.loader import load_model

    return load_model(name, **kwargs)


def slot_letters(n: int) -> list[str]:
    """A, B, …, Z, AA, AB, … — spreadsheet-style names for `n` slots."""
    letters = string.ascii_uppercase
    out = []
    for i in range(n):
        name, k = "", i + 1
        while k:
            k, rem = divmod(k - 1, 26)
            name = letters[rem] + name
        out.append(name)
    return out


def seed_list(seeds: int | list[int]) -> list[int]:
    """`M` -> seeds 0..M-1; an explicit list is kept as given."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"`seeds` must be >= 1, got {seeds}")
        return list(range(seeds))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be a non-empty list of distinct integers, got {seeds}")
    return [int(s) for s in seeds]


@dataclass(frozen=True)
class _Inputs:
    """What every model of one input record shares: loaded once per record."""

    image: Image.Image
    image_sha: str
    mask: np.ndarray | None
    mask_size: tuple[int, int] | None  # as the file has it (the mask is resized to the image for most editors)
    mask_sha: str | None
    reference: Image.Image | None
    reference_sha: str | None


@dataclass(frozen=True)
class _Prompts:
    prompt: str | None
    source_prompt: str | None
    target_prompt: str | None


class EditStage(Stage):
    """Route or task records in, candidate records out (DESIGN.md, "Records": candidate)."""

    name: ClassVar[str] = "edit"

    def __init__(
        self,
        *,
        out_dir: str | Path,  # a local folder or an fsspec URL (storage.py)
        models: list[str] | None = None,
        top_k: int | None = None,
        seeds: int | list[int] = 1,
        steps: int | None = None,
        text_influence: float | None = None,
        image_influence: float | None = None,
        native: dict[str, dict[str, float]] | None = None,
        weights: dict[str, Path] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        shuffle: bool = True,
        unavailable: dict[str, str] | None = None,
        loader: Loader = _default_loader,
    ) -> None:
        """`native`: {model: {pipeline argument: value}} (--param). `unavailable`: {model: why} for
        models that cannot run here; routed lists skip them (the caller names them once)."""
        if top_k is not None and top_k < 1:
            raise ValueError(f"`top_k` must be >= 1, got {top_k}")
        self.out_dir = storage.out_location(str(out_dir))
        self.models = list(models or [])
        if self.models and loader is _default_loader:
            unknown = [m for m in self.models if not is_registered(m)]
            if unknown:
                raise ValueError(f"unknown model(s) {', '.join(unknown)}; see `hilite models`")
        self.top_k = top_k
        self.seeds = seed_list(seeds)
        self.requested = {"steps": steps, "text_influence": text_influence, "image_influence": image_influence}
        self.native = dict(native or {})
        self.unavailable = dict(unavailable or {})
        if loader is _default_loader:
            self._check_knobs()
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self.shuffle = shuffle
        # One-off and session form: letters over the candidates that exist (a person picks from them),
        # not over what was planned (a manifest's resume keeps a failed model's letter for its retry).
        self.dense_slots = False
        self.loader = loader
        self._editors: dict[str, Editor | RecordError] = {}

    def _check_knobs(self) -> None:
        """Levels, native values and step counts checked once, before any record (a ValueError = usage error)."""
        from hilite_cli.models.registry import load_registry

        registry = load_registry()
        try:
            for knob in ("text_influence", "image_influence"):
                check_level(knob, self.requested[knob], scale_levels())
            unknown = [m for m in self.native if not is_registered(m)]
            if unknown:
                raise RecordError("bad_params", f"--param for unknown model(s) {', '.join(unknown)}; see `hilite models`")
            names = self.models or [n for n, s in registry.items() if s.kind not in ("t2i",)]
            for name in dict.fromkeys([*names, *self.native]):
                effective_params(get_spec(name), self._requested_for(name))
        except RecordError as exc:
            raise ValueError(exc.message) from None

    def _requested_for(self, name: str) -> dict[str, Any]:
        return {**self.requested, "native": self.native.get(name, {})}

    def _seeds_for(self, name: str) -> list[int]:
        """All M seeds, or just the first for a model whose seeds cannot differ."""
        editor = self._editors.get(name)
        return self.seeds[:1] if isinstance(editor, Editor) and editor.spec.deterministic else self.seeds

    def setup(self) -> None:
        storage.makedirs(self.out_dir)

    def teardown(self) -> None:
        self._editors.clear()

    def _editor(self, name: str) -> Editor:
        """Load `name` once; a load failure is remembered so later records fail fast with the same error."""
        if name not in self._editors:
            try:
                loaded = self.loader(name, weights=self.weights, device=self.device, dtype=self.dtype)
                if not isinstance(loaded, Editor):
                    raise RecordError(
                        "wrong_model_kind", f"model {name!r} does not edit images (it is a {loaded.spec.kind} model)"
                    )
                self._editors[name] = loaded
            except RecordError as exc:
                self._editors[name] = exc
        editor = self._editors[name]
        if isinstance(editor, RecordError):
            raise editor
        return editor

    def _routed(self, record: Record) -> list[RoutedModel]:
        """The models to run: the record's routed models (top_k by rank), else the `models` option.

        With both, `models` restricts the routed list (rank order kept), so a pipeline can route with
        an LLM and still run only the editors whose weights it has.
        """
        if record.get("models") is not None:
            entries = [validate_as(RoutedModel, m) for m in record["models"]]
            if not entries:
                raise RecordError("no_models", "the record's routed `models` list is empty")
            entries.sort(key=lambda m: m.rank)
            if self.models:
                routed = {m.name for m in entries}
                entries = [m for m in entries if m.name in self.models]
                # Routing never ranks paid (hosted) editors: named in --models, they run after the routed ones.
                entries += [RoutedModel(name=name, rank=len(routed) + i + 1)
                            for i, name in enumerate(n for n in self.models if n not in routed and is_hosted(n))]
                if not entries:
                    raise RecordError(
                        "no_models", f"none of the routed models is among --models {','.join(self.models)}"
                    )
            elif self.unavailable:
                routed = entries
                entries = [m for m in entries if m.name not in self.unavailable]
                if not entries:
                    raise RecordError(
                        "no_runnable_model",
                        f"none of the routed models can run here ({', '.join(m.name for m in routed)}); "
                        "see `hilite models --check`",
                    )
        elif self.models:
            entries = [RoutedModel(name=name, rank=i + 1) for i, name in enumerate(self.models)]
        else:
            raise RecordError("no_models", "record has no routed `models` and no models were given (--models)")
        return entries[: self.top_k] if self.top_k else entries

    @staticmethod
    def _inputs(task: Task) -> _Inputs:
        image = load_image(task.image)
        mask = load_mask(task.mask) if task.mask else None
        mask_size = None if mask is None else (mask.shape[1], mask.shape[0])
        if mask is not None and mask_size != image.size:
            mask = load_mask(task.mask, size=image.size)
        reference = load_image(task.reference_image) if task.reference_image else None
        return _Inputs(
            image=image,
            image_sha=file_sha256(task.image),
            mask=mask,
            mask_size=mask_size,
            mask_sha=file_sha256(task.mask) if task.mask else None,
            reference=reference,
            reference_sha=file_sha256(task.reference_image) if task.reference_image else None,
        )

    @staticmethod
    def _prompts(editor: Editor, entry: RoutedModel, task: Task) -> _Prompts:
        """The text each prompt style needs; a missing one is an error, never a guess."""
        style = editor.spec.prompt_style
        if style == "none":
            return _Prompts(None, None, None)
        if style == "instruction":
            return _Prompts(entry.prompt or task.instruction, None, None)
        if style == "target":
            if not entry.prompt:
                raise RecordError(
                    "missing_input",
                    f"model {entry.name!r} takes a description of the result; route the task first (hilite route)",
                )
            return _Prompts(entry.prompt, None, None)
        if not (entry.source_prompt and entry.target_prompt):
            raise RecordError(
                "missing_input",
                f"model {entry.name!r} needs `source_prompt` and `target_prompt`; route the task first (hilite route)",
            )
        return _Prompts(entry.target_prompt, entry.source_prompt, entry.target_prompt)

    @staticmethod
    def _check_needs(editor: Editor, task: Task) -> None:
        missing = [need for need in editor.spec.needs if not getattr(task, need)]
        if missing:
            raise RecordError(
                "missing_input", f"model {editor.spec.name!r} needs {', '.join(f'`{m}`' for m in missing)}"
            )

    def _run_model(self, record: Record, task: Task, inputs: _Inputs, entry: RoutedModel) -> list[Record]:
        """One batched edit call for all seeds of (image, instruction, model) -> candidates without slots."""
        editor = self._editor(entry.name)
        self._check_needs(editor, task)
        prompts = self._prompts(editor, entry, task)
        params = effective_params(editor.spec, self._requested_for(entry.name))
        seeds = self._seeds_for(entry.name)
        if getattr(editor, "exact_mask", False) and inputs.mask_size not in (None, inputs.image.size):
            raise RecordError("bad_mask", f"model {entry.name!r}: the mask is {inputs.mask_size[0]}x{inputs.mask_size[1]} "
                              f"but the image is {inputs.image.width}x{inputs.image.height}; this model sends the mask as "
                              "the API's mask, which must match the image")
        failures: list[Record] = []
        try:
            images = editor.edit(
                inputs.image,
                prompt=prompts.prompt,
                seeds=seeds,
                params=params,
                source_prompt=prompts.source_prompt,
                target_prompt=prompts.target_prompt,
                mask=inputs.mask,
                reference=inputs.reference,
            )
        except AttemptsFailed as exc:  # a hosted API refused some attempts: keep the others, one error each
            images = exc.images
            failures = [with_error({**record, "model": entry.name, "seed": seed}, self.name, kind, message)
                        for seed, (kind, message) in exc.failures.items()]
        if len(images) != len(seeds):
            raise RecordError(
                "model_output", f"model {entry.name!r} returned {len(images)} images for {len(seeds)} seeds"
            )
        note = getattr(editor, "seed_note", None)
        if editor.spec.deterministic and len(self.seeds) > 1:
            note = f"{note or 'deterministic'} ({len(self.seeds)} attempts asked, 1 candidate made)"
        recorded = {**params, "note": note} if note else params
        conditioning = {
            "prompt": prompts.prompt,
            "source_prompt": prompts.source_prompt,
            "target_prompt": prompts.target_prompt,
            "mask": inputs.mask_sha,
            "reference_image": inputs.reference_sha,
        }
        base = {k: v for k, v in record.items() if k not in ("models", "skipped")}  # routing, not task metadata
        out = []
        for seed, img in zip(seeds, images, strict=True):
            if img is None:
                continue
            path = save_image(img, self.out_dir)
            candidate = {
                **base,
                "id": stable_id(record["id"], inputs.image_sha, task.instruction, entry.name, seed, params, conditioning),
                "parent": record["id"],
                "image": task.image,
                "instruction": task.instruction,
                "model": entry.name,
                "prompt": prompts.prompt,
                "seed": seed,
                "params": recorded,
                "output": str(path),
                "licence": editor.spec.licence_record(),
                **record_fields(img),
            }
            if prompts.source_prompt is not None:
                candidate["source_prompt"] = prompts.source_prompt
                candidate["target_prompt"] = prompts.target_prompt
            out.append(candidate)
        return out + failures

    def _assign_slots(self, parent: str, entries: list[RoutedModel], candidates: list[Record]) -> list[Record]:
        """Anonymised slot letters, in a reproducible shuffled order over every PLANNED (model, seed).

        Letters are dealt over what was planned, not what succeeded, so a model that fails leaves a
        gap rather than shifting the others: a resumed run that retries it gives the same letters.
        With `dense_slots` (the one-off form) they are dealt over the candidates that exist, in the
        same shuffled order, so a person never meets a gap ("slots are C").
        """
        planned = [(e.name, seed) for e in entries for seed in self._seeds_for(e.name)]
        if self.dense_slots:
            made = {(c["model"], c["seed"]) for c in candidates}
            planned = [p for p in planned if p in made]
        order = list(range(len(planned)))
        if self.shuffle:
            random.Random(f"slots:{parent}").shuffle(order)
        letters = dict(zip([planned[i] for i in order], slot_letters(len(planned)), strict=True))
        placed = [{**c, "slot": letters[(c["model"], c["seed"])]} for c in candidates]
        return sorted(placed, key=lambda c: (len(c["slot"]), c["slot"]))

    def _edit_record(self, record: Record) -> list[Record]:
        task = validate_as(Task, record)
        record = {**record, "id": record.get("id") or stable_id(file_sha256(task.image), task.instruction)}
        entries = self._routed(record)
        inputs = self._inputs(task)
        candidates: list[Record] = []
        failures: list[Record] = []
        for entry in entries:
            try:
                made = self._run_model(record, task, inputs, entry)
                candidates.extend(c for c in made if "error" not in c)
                failures.extend(c for c in made if "error" in c)
            except RecordError as exc:
                failures.append(with_error({**record, "model": entry.name}, self.name, exc.kind, exc.message))
        return self._assign_slots(record["id"], entries, candidates) + failures

    def __call__(self, batch: list[Record]) -> list[Record]:
        return [out for record in batch for out in self._edit_record(record)]
