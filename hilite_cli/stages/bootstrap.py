"""`bootstrap`: NHR compositional triplets (section 3.6, Figure 2).

A scene is one source image I_0 with its successful forward edits I_e1 … I_en (p1 … pn) and their
inverses (p1⁻¹ … pn⁻¹). The forward and inverse triplets already link I_0 with every I_ei, so the
new edges are between edited images: for every ordered pair (e1, e2) of distinct edited images of
the SAME source, ⟨I_e1, p'_e2, I_e2⟩ where p'_e2 combines p1⁻¹ (I_e1 -> I_0) and p2 (I_0 -> I_e2).
Inverse triplets contribute their instruction, not a new image: their edited image is I_0.
Images of different sources are never paired (scenes are keyed by the source's content hash).

p'_e2 is a concatenation by the template in configs/augment.toml [bootstrap] ("{a} and {b}"),
or, with `llm`, that provider's rewrite of the two steps into one instruction. Every composition
has exactly these two parts: a composite edit the forward set already holds (NHR's "remove the
cactus, cereal, remote, blanket, and toy") takes part in pairs like any other edit, so
multi-object compositions arise from it; no longer chains are built, since no image exists for
a combination of edits that was never made.

A pair is built only when the inverse of e1 is in the input (matched by its `parents`); otherwise
it is counted in `missing_inverse`. Two forwards with the same edited image count once. With
`max_per_source`, the pairs whose weaker forward scored highest are kept. Inputs pass through
(`keep_inputs=True`) so the output of `validate | invert | bootstrap` is NHR's dataset
forward ∪ inverse ∪ bootstrap; records already seen (same id) are emitted once.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from hilite_cli.config import load_config
from hilite_cli.records import Record, RecordError, with_error
from hilite_cli.stages.base import Stage
from hilite_cli.stages.invert import clean_instruction
from hilite_cli.stages.judging import ImageFiles, backend_name, open_provider
from hilite_cli.stages.triplets import triplet_hashes, triplet_id, triplet_of

_SLOT = re.compile(r"\{\{(first|second)\}\}")


@dataclass(frozen=True)
class _Edit:
    """What composition needs from one forward triplet."""

    id: str
    instruction: str
    edited: str
    source_sha: str
    edited_sha: str
    geometric: float | None
    t2i_prompt: str | None


@dataclass(frozen=True)
class _Inverse:
    id: str
    instruction: str
    edited_sha: str  # must be the forward's source: an inverse leads back to I_0


@dataclass(frozen=True)
class _Pair:
    first: _Edit  # e1: the composed triplet starts from its edited image
    second: _Edit  # e2: … and ends at this one's
    inverse: _Inverse  # e1's inverse

    @property
    def strength(self) -> tuple[float, str, str]:
        """Sort key: the weaker forward's geometric mean (missing counts lowest), then ids for stability."""
        scores = [e.geometric for e in (self.first, self.second)]
        weakest = min(s if s is not None else float("-inf") for s in scores)
        return -weakest, self.first.id, self.second.id


def concatenate(first: str, second: str, template: str) -> str:
    """`template` with `{a}` = first (final full stops removed) and `{b}` = second (first letter lowered).

    The second part keeps its capital when its first word is "I" or an acronym ("TV", "NASA").
    """
    a = first.strip().rstrip(".").rstrip()
    b = second.strip()
    word = b.split(maxsplit=1)[0] if b else ""
    if word and word != "I" and not any(c.isupper() for c in word[1:]):
        b = b[0].lower() + b[1:]
    return template.replace("{a}", a, 1).replace("{b}", b, 1)


class BootstrapStage(Stage):
    name: ClassVar[str] = "bootstrap"
    batch_size: ClassVar[int] = 64
    whole_stream: ClassVar[bool] = True

    def __init__(
        self,
        llm: str | Any | None = None,
        *,
        max_per_source: int | None = None,
        keep_inputs: bool = True,
        provider_options: dict[str, Any] | None = None,
    ) -> None:
        if max_per_source is not None and max_per_source < 1:
            raise ValueError(f"`max_per_source` must be at least 1, got {max_per_source}")
        if llm is not None:
            backend_name(llm)  # an unknown provider is a usage error now, not after the whole stream
        settings = load_config("augment")["bootstrap"]
        self.template = str(settings["template"])
        if "{a}" not in self.template or "{b}" not in self.template:
            raise ValueError(f"augment.toml [bootstrap] `template` needs {{a}} and {{b}}, got {self.template!r}")
        self.rewrite_prompt = str(settings["rewrite_prompt"])
        self.llm_spec = llm
        self.max_per_source = max_per_source
        self.keep_inputs = keep_inputs
        self.provider_options = provider_options
        self.stats: Counter[str] = Counter()
        self._images = ImageFiles()
        self._llm: Any = None
        self._owned = False
        self._seen: set[str] = set()
        # scene (source sha) -> edited sha -> the forwards that produced that image
        self._scenes: dict[str, dict[str, list[_Edit]]] = {}
        self._inverses: dict[str, _Inverse] = {}  # forward id -> its inverse

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        if self.llm_spec is not None:
            self._llm, self._owned = open_provider(self.llm_spec, self.provider_options)

    def teardown(self) -> None:
        if self._owned and self._llm is not None:
            self._llm.close()
        self._llm = None

    # -- stream --------------------------------------------------------------------------------
    def __call__(self, batch: list[Record]) -> list[Record]:
        from hilite_cli.images import ImageError

        out: list[Record] = []
        for record in batch:
            try:
                triplet = self._triplet(record)
                if triplet is None or triplet["id"] in self._seen:
                    continue
                self._remember(triplet)
                self._seen.add(triplet["id"])
            except RecordError as exc:
                out.append(with_error(record, self.name, exc.kind, exc.message))
            except ImageError as exc:  # an unreadable image fails its record only
                out.append(with_error(record, self.name, exc.kind, str(exc)))
            else:
                out += [triplet] if self.keep_inputs else []
        return out

    def finish(self) -> list[Record]:
        pairs = [pair for scene in self._scenes.values() for pair in self._scene_pairs(scene)]
        self.stats["sources"] = len(self._scenes)
        if self._llm is None:
            out = [self._composed(p, concatenate(p.inverse.instruction, p.second.instruction, self.template),
                                  {"method": "concatenation", "template": self.template}) for p in pairs]
        else:
            out = self._rewritten(pairs)
        self.stats["composed"] = sum(1 for r in out if not r.get("error"))
        return out

    def group_key(self, record: Record) -> str:
        """The scene (source image content): an inverse joins its forward's scene through its edited image."""
        from hilite_cli.images import ImageError

        try:
            triplet = self._triplet(record)
            if triplet is None:
                return f"id:{record.get('id')}"
            source_sha, edited_sha = triplet_hashes(triplet, self._images)
        except (RecordError, ImageError, KeyError, TypeError, OSError):
            return f"id:{record.get('id')}"
        return edited_sha if triplet["kind"] == "inverse" else source_sha

    # -- steps ---------------------------------------------------------------------------------
    def _triplet(self, record: Record) -> Record | None:
        return triplet_of(record, self._images, self.stats,
                          "bootstrap takes forward and inverse triplets (validate, invert)")

    def _remember(self, triplet: Record) -> None:
        kind = triplet["kind"]
        if kind == "bootstrap":
            return
        source_sha, edited_sha = triplet_hashes(triplet, self._images)
        if kind == "inverse":
            if not triplet["parents"]:
                raise RecordError("invalid_record", f"inverse {triplet['id']} names no forward in `parents`")
            self._inverses.setdefault(triplet["parents"][0], _Inverse(triplet["id"], triplet["instruction"], edited_sha))
            return
        scores = triplet.get("scores") or {}
        edit = _Edit(
            id=triplet["id"], instruction=triplet["instruction"], edited=triplet["edited"],
            source_sha=source_sha, edited_sha=edited_sha, geometric=scores.get("geometric"),
            t2i_prompt=triplet.get("t2i_prompt"),
        )
        self._scenes.setdefault(source_sha, {}).setdefault(edited_sha, []).append(edit)

    def _scene_pairs(self, scene: dict[str, list[_Edit]]) -> list[_Pair]:
        """Every valid ordered pair of distinct edited images of one scene, capped by `max_per_source`."""
        edits = [self._representative(same) for same in scene.values()]
        if len(edits) < 2:
            self.stats["single_edit_sources"] += 1
            return []
        pairs = []
        for first in edits:
            inverse = self._inverses.get(first.id)
            if inverse is not None and inverse.edited_sha != first.source_sha:
                self.stats["inverse_mismatch"] += len(edits) - 1
                continue
            if inverse is None:
                self.stats["missing_inverse"] += len(edits) - 1
                continue
            pairs += [_Pair(first, second, inverse) for second in edits if second is not first]
        pairs.sort(key=lambda p: p.strength)
        if self.max_per_source is not None and len(pairs) > self.max_per_source:
            self.stats["capped"] += len(pairs) - self.max_per_source
            pairs = pairs[: self.max_per_source]
        return pairs

    def _representative(self, same: list[_Edit]) -> _Edit:
        """One forward per edited image (duplicates count once): one with an inverse, best scored, smallest id."""
        self.stats["duplicate_edits"] += len(same) - 1
        return min(same, key=lambda e: (e.id not in self._inverses,
                                        -(e.geometric if e.geometric is not None else float("-inf")), e.id))

    def _composed(self, pair: _Pair, instruction: str | None, composition: Record) -> Record:
        """The composed triplet; `instruction` None only for an error record (its id then hashes the parts)."""
        first, second = pair.first, pair.second
        parts = [pair.inverse.instruction, second.instruction]
        record: Record = {
            "id": triplet_id(first.edited_sha, instruction if instruction is not None else "\n".join(parts),
                             second.edited_sha),
            "source": first.edited,
            "instruction": instruction,
            "edited": second.edited,
            "kind": "bootstrap",
            "parents": [first.id, second.id, pair.inverse.id],
            "sha256": {"source": first.edited_sha, "edited": second.edited_sha},
            "scores": {"instruction": None, "aesthetics": None, "geometric": None},
            "scene": {"sha256": first.source_sha},  # I_0, also reachable as the source of parents[0]
            "composition": {**composition, "parts": parts},
        }
        if first.t2i_prompt is not None:
            record["t2i_prompt"] = first.t2i_prompt
        return record

    def _rewritten(self, pairs: list[_Pair]) -> list[Record]:
        """Ask the LLM to merge each pair's two steps; a failed answer is an error record, not a concatenation."""
        from hilite_cli.providers import Ask

        version = hashlib.sha256(self.rewrite_prompt.encode()).hexdigest()[:12]
        prompts = [self._rewrite_prompt(p.inverse.instruction, p.second.instruction) for p in pairs]
        answers = self._llm.ask_many([Ask(prompt=prompt, expect="text") for prompt in prompts])
        out = []
        for pair, answer in zip(pairs, answers, strict=True):
            provenance = {"method": "llm", "provider": answer.provider, "model": answer.model,
                          "prompt": "augment.toml [bootstrap] rewrite_prompt", "prompt_version": version,
                          "raw": answer.raw}
            text = clean_instruction(answer.value) if answer.status == "ok" else None
            if text is not None:
                out.append(self._composed(pair, text, provenance))
                continue
            self.stats["rewrite_failed"] += 1
            kind = f"rewrite_{answer.status}" if answer.status != "ok" else "rewrite_unparsed"
            out.append(with_error(self._composed(pair, None, provenance), self.name, kind, f"composition of {pair.first.id} -> {pair.second.id}: "
                                                          f"rewrite answer {answer.status}: {answer.reason or answer.raw!r}"))
        return out

    def _rewrite_prompt(self, first: str, second: str) -> str:
        values = {"first": first, "second": second}
        return _SLOT.sub(lambda m: values[m.group(1)], self.rewrite_prompt)
