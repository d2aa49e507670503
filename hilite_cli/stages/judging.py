"""The NHR judge questions shared by `validate` and invert's backward check (prompts A.2, A.3, A.4).

Each question becomes a provider `Ask`; each `Answer` becomes record fields. A score or yes/no that
could not be obtained stays None beside the answer's status and reason: never a default number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.records import Record

# Statuses that mean "this question was not put to a model" rather than "the model failed":
# the offline provider asks nothing, and validate skips semantic checks for low scores.
NOT_ASKED: frozenset[str] = frozenset({"unavailable", "skipped"})


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
    """Encoded bytes and content hashes of image files, read once per path; problems raise ImageError.

    Sources are shared by many candidates (seeds x models), so their bytes and hashes are kept
    for the most recent `capacity` paths instead of being re-read for every candidate.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._bytes: dict[str, bytes] = {}
        self._sha: dict[str, str] = {}

    def data(self, path: str) -> bytes:
        """Bytes a provider can take: the decoded image re-encoded (JPEG stays JPEG, the rest PNG)."""
        if path not in self._bytes:
            if len(self._bytes) >= self.capacity:
                self._bytes.pop(next(iter(self._bytes)))
            self._bytes[path] = _sendable(path)
        return self._bytes[path]

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


def _require_file(path: str) -> None:
    from hilite_cli import storage
    from hilite_cli.images import ImageError

    if not storage.is_file(path):
        raise ImageError(f"image file not found: {path}")


def _sendable(path: str) -> bytes:
    """The image decoded and re-encoded (images.sendable_bytes): a judge never gets bytes after the image's end."""
    from hilite_cli.images import sendable_bytes

    _require_file(path)
    return sendable_bytes(path)


def scoring_ask(original: bytes, edited: bytes, instruction: str) -> Any:
    """Prompt A.2 on (original, edited, instruction) at temperature 0, as NHR's hard filter runs it."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask
    from hilite_cli.providers.schemas import EditScores

    return Ask(
        prompt=render_prompt("a2_evaluation", instruction=instruction),
        images=[original, edited],
        expect="json",
        schema=EditScores,
        temperature=0.0,
    )


def unwanted_ask(original: bytes, edited: bytes, instruction: str) -> Any:
    """Prompt A.3: does the edit match the instruction without unwanted changes? (yes = pass)."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask

    return Ask(
        prompt=render_prompt("a3_unwanted", instruction=instruction),
        images=[original, edited],
        expect="yesno",
        temperature=0.0,
    )


def aesthetic_ask(edited: bytes) -> Any:
    """Prompt A.4: is the edited image aesthetically pleasing? (yes = pass)."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask

    return Ask(prompt=render_prompt("a4_aesthetics"), images=[edited], expect="yesno", temperature=0.0)


def scores_from(answer: Any) -> dict[str, float | None]:
    """`{instruction, aesthetics, geometric}` from an A.2 answer; all None unless the answer is ok."""
    if answer.status != "ok" or answer.value is None:
        return {"instruction": None, "aesthetics": None, "geometric": None}
    adh = float(answer.value.InstructionAdherence)
    aes = float(answer.value.ImageAesthetic)
    return {"instruction": adh, "aesthetics": aes, "geometric": geometric_mean(adh, aes)}


def judge_block(answer: Any, prompt: str) -> Record:
    """Provenance of one judgement: who answered, with which prompt version, how it went, and whether the
    answer was replayed from the response cache rather than asked in this run."""
    from hilite_cli.prompts import prompt_version

    return {
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


def yesno_check(answer: Any, prompt: str) -> Record:
    """A semantic check's result: `passed` is the model's yes/no, or None when there was none."""
    block = judge_block(answer, prompt)
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
