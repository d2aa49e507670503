"""The provider interface every backend implements, and the reliability every call gets.

A backend only implements `_attempt(ask)`: one request, returning an Answer or raising
TransientError. `Provider.ask` wraps that in the cache, an adaptive concurrency limit (AIMD on
429s, providers/limiter.py), retries with jittered exponential backoff (a 429 with Retry-After waits
that long instead, on its own retry budget; giving up at once when the server asks for longer than
`max_retry_after`), token
accounting (providers/usage.py), and key scrubbing. From a remote backend (SdkProvider), a one-off
bad answer (a broken reply, a safety block) is asked again like a 5xx, within the same `max_retries`;
the typed answer stays when they run out. With a batch runner attached (`--batch-api`), `ask_many` sends what the cache lacks as one
provider batch job instead of one request per Ask.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from hilite_cli.providers.cache import CACHEABLE, ResponseCache, cache_key
from hilite_cli.providers.errors import ProviderConfigError, TransientError
from hilite_cli.providers.keys import scrub
from hilite_cli.providers.limiter import AdaptiveLimiter, LimiterSettings
from hilite_cli.providers.parsing import interpret, value_from_json, value_to_json
from hilite_cli.providers.usage import Usage, UsageMeter, register
from hilite_cli.records import JudgeStatus

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


class Ask(BaseModel):
    """One request: a prompt, images in order (e.g. original, edited), and what shape of answer to expect."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    prompt: str
    images: list[bytes] = Field(default_factory=list)
    expect: Literal["json", "yesno", "text"] = "text"
    schema_: type[BaseModel] | None = Field(default=None, alias="schema")
    temperature: float | None = None
    reasoning_effort: str | None = None
    max_output_tokens: int | None = None
    # The prompt before the images (a published harness's order, e.g. GEdit's GPT backbone); hilite's own
    # asks put the images first, as the papers' prompts read.
    text_first: bool = False
    # Part of the cache key, never sent to the model: tells apart asks that are identical on purpose
    # (A.1 design batches) so each gets its own reply, while a re-run still finds each in the cache.
    cache_salt: str | None = None

    @property
    def schema(self) -> type[BaseModel] | None:  # type: ignore[override]
        """The pydantic class a JSON answer must validate against."""
        return self.schema_


class Answer(BaseModel):
    """One reply: `value` is set only when `status == "ok"`; `raw` keeps whatever text came back."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: JudgeStatus
    value: Any = None
    raw: str | None = None
    reason: str | None = None
    cached: bool = False
    # A broken reply (not the wire format, empty, cut-off or malformed JSON): asked again next time, never cached.
    retryable: bool = False
    provider: str
    model: str | None
    usage: Usage | None = None  # tokens the provider reported for this reply
    batch: bool = False  # answered through a provider batch job (billed at the batch price)
    tuned: dict[str, Any] | None = None  # a tuned judge's identity (base, adapter or tuning job), see Provider.tuned

    @property
    def one_off(self) -> bool:
        """A broken reply or a safety block: asked again, it may well come back good (so it is retried
        within the run, and under --batch-api submitted again in a new job)."""
        return self.retryable or self.status == "blocked"


class BatchAnswers(Protocol):
    """What `ask_many` hands the cache's misses to under `--batch-api` (providers/batch/runner.py's
    BatchRunner), by cache key; a protocol here so that base.py never imports the runner."""

    def run(self, asks: dict[str, Ask]) -> dict[str, Answer]: ...


@dataclass(frozen=True)
class Settings:
    """Resolved reliability settings (options over configs/providers.toml)."""

    concurrency: int
    timeout: float
    max_retries: int
    backoff_base: float
    backoff_max: float
    max_output_tokens: int
    max_retry_after: float
    retry_after_jitter: float = 0.5
    throttle_backoff_base: float = 0.1
    max_throttled_retries: int = 16
    limiter: LimiterSettings = LimiterSettings()


class Provider:
    """Base class: cache, adaptive concurrency, retries and token accounting around a backend's `_attempt`."""

    name: ClassVar[str] = "provider"
    # Whether a one-off bad answer is asked again within the run: a remote model may answer differently,
    # a greedy in-process one (local) would give the very same reply.
    retries_one_off: ClassVar[bool] = False
    # Temperature sent when an ask sets none (the backend's config); None sends no temperature.
    default_temperature: float | None = None
    # A judge tuned by `hilite tune-judge` says what it is (base model, adapter hash or tuning job), so
    # every answer, and every record scored with it, names the validator that made it.
    tuned: dict[str, Any] | None = None

    def __init__(self, model: str | None, settings: Settings, cache: ResponseCache | None) -> None:
        self.model = model
        self.settings = settings
        self.cache = cache
        self.limiter = AdaptiveLimiter(settings.concurrency, settings.limiter, sleep=lambda s: self.sleep(s))
        self.usage = UsageMeter(self.name, model)
        self.batch: BatchAnswers | None = None  # set by get_provider(batch_state=...) for --batch-api
        if self.name != "offline":
            register(self.usage)
        # `mine --resume --retry-failed`: cached failures are asked again (only `ok` answers are replayed).
        self.reask_failed = False
        self.sleep = time.sleep  # seam: tests record the backoff waits instead of sleeping

    # -- backend hooks -------------------------------------------------------------------------
    def _attempt(self, ask: Ask) -> Answer:
        """One request; raise TransientError for what a retry may fix."""
        raise NotImplementedError

    def _params(self, ask: Ask) -> dict[str, Any]:
        """The request parameters that shape the reply (part of the cache key), as actually sent:
        an ask that sets none gets the configured defaults, so changing the config misses the cache."""
        return {
            "expect": ask.expect,
            "temperature": self.temperature(ask),
            "reasoning_effort": ask.reasoning_effort,
            "max_output_tokens": self.output_limit(ask),
            **({"text_first": True} if ask.text_first else {}),  # absent by default: old cache keys still hit
        }

    def temperature(self, ask: Ask) -> float | None:
        """The temperature to send: the ask's, else the configured default."""
        return ask.temperature if ask.temperature is not None else self.default_temperature

    def output_limit(self, ask: Ask) -> int:
        """The output token limit to send: the ask's, else settings.max_output_tokens."""
        return ask.max_output_tokens or self.settings.max_output_tokens

    # -- shared machinery ----------------------------------------------------------------------
    def answer(
        self, status: JudgeStatus, *, value: Any = None, raw: str | None = None, reason: str | None = None,
        retryable: bool = False,
    ) -> Answer:
        """The one place answers are made, so every raw text and reason is scrubbed of keys."""
        return Answer(
            status=status, value=value, raw=scrub(raw), reason=scrub(reason), retryable=retryable,
            provider=self.name, model=self.model, tuned=self.tuned,
        )

    def from_text(self, ask: Ask, text: str) -> Answer:
        """An answer from a complete reply text, parsed as the Ask expects (after scrubbing keys)."""
        text = scrub(text) or ""
        parsed = interpret(text, ask.expect, ask.schema)
        return self.answer(parsed.status, value=parsed.value, raw=text, reason=parsed.reason,
                           retryable=parsed.retryable)

    def ask(self, ask: Ask) -> Answer:
        """Answer one Ask: from the cache when possible, else by request (limited, retried)."""
        key = self._key(ask) if self.cache is not None else None
        if key is not None and (hit := self._cached(key, ask)) is not None:
            self.usage.record(hit.usage, cached=True, batch=False)
            return hit
        answer = self._with_retries(ask)
        self.keep(key, answer)
        return answer

    def keep(self, key: str | None, answer: Answer) -> None:
        """Count a fresh answer's tokens and store it in the cache (when it would come back the same)."""
        if answer.status not in CACHEABLE:
            return
        self._count(answer)
        if key is None or self.cache is None or answer.retryable:
            return
        usage = answer.usage or Usage()
        self.cache.put(
            key,
            backend=self.name,
            model=self.model,
            status=answer.status,
            value=value_to_json(answer.value) if answer.status == "ok" else None,
            raw=answer.raw,
            reason=answer.reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )

    def _count(self, answer: Answer) -> None:
        """Add a fresh answer's tokens to the meter (answers of a status that is not cached are not counted)."""
        if answer.status in CACHEABLE:
            self.usage.record(answer.usage, cached=False, batch=answer.batch)

    def ask_many(self, asks: list[Ask]) -> list[Answer]:
        """Answer every Ask, order preserved: with up to `concurrency` requests in flight, or, with a
        batch runner attached, what the cache lacks as provider batch jobs."""
        if self.batch is not None and asks:
            return self._ask_batch(asks)
        if len(asks) <= 1:
            return [self.ask(a) for a in asks]
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(asks))) as pool:
            return list(pool.map(self.ask, asks))

    def _ask_batch(self, asks: list[Ask]) -> list[Answer]:
        """Cache first; the misses (one per distinct key) go to the batch runner, whose answers are kept."""
        assert self.batch is not None
        keys = [self._key(a) for a in asks]
        answers: dict[str, Answer] = {}
        missing: dict[str, Ask] = {}
        for key, ask in zip(keys, asks, strict=True):
            if key in answers or key in missing:
                continue
            if self.cache is not None and (hit := self._cached(key, ask)) is not None:
                self.usage.record(hit.usage, cached=True, batch=False)
                answers[key] = hit
            else:
                missing[key] = ask
        if missing:
            for key, answer in self.batch.run(missing).items():
                self.keep(key, answer)
                answers[key] = answer
        return [answers[key] for key in keys]

    def close(self) -> None:
        """Release clients and the cache connection."""
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def _key(self, ask: Ask) -> str:
        schema = ask.schema.model_json_schema() if ask.schema is not None else None
        return cache_key(
            backend=self.name, model=self.model, prompt=ask.prompt, images=ask.images, params=self._params(ask),
            schema=schema, salt=ask.cache_salt,
        )

    def _cached(self, key: str, ask: Ask) -> Answer | None:
        """The stored answer, or None: a miss also when the row cannot be read back (a damaged row is
        asked again, never an error), when its status is no longer cached (files from older versions
        kept MAX_TOKENS and safety answers), and for any failure when `reask_failed` is set."""
        row = self.cache.get(key) if self.cache is not None else None
        if row is None or row["status"] not in CACHEABLE or (self.reask_failed and row["status"] != "ok"):
            return None
        try:
            value = value_from_json(row["value"], ask.expect, ask.schema) if row["status"] == "ok" else None
            answer = self.answer(row["status"], value=value, raw=row["raw"], reason=row["reason"])
        except (ValueError, TypeError) as exc:
            log.warning("%s: a cached answer could not be read back (%s); asking again", self.name,
                        type(exc).__name__)
            return None
        usage = None
        if row.get("input_tokens") is not None or row.get("output_tokens") is not None:
            usage = Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"])
        return answer.model_copy(update={"cached": True, "usage": usage})

    def _with_retries(self, ask: Ask) -> Answer:
        """Attempts until an answer: `max_retries` retries of failures (5xx, timeouts, one-off bad
        answers), and apart from them up to `max_throttled_retries` of 429s that said when to come back
        (flow control, not a failure: the adaptive limiter probes above the server's rate on purpose,
        and must not lose requests doing so)."""
        s = self.settings
        failures = throttles = 0
        while True:
            try:
                answer = self._limited_attempt(ask)
            except TransientError as exc:
                if exc.retry_after is not None and exc.retry_after > s.max_retry_after:
                    return self.answer("http_error", reason=(
                        f"{exc.reason}; the server asked to wait {exc.retry_after:g} s, more than max_retry_after "
                        f"{s.max_retry_after:g} s, so no retry"
                    ))
                paced = exc.throttled and exc.retry_after is not None and s.max_retries > 0  # 0: never retry
                if paced and throttles < s.max_throttled_retries:
                    delay, throttles = self._backoff(throttles, exc.retry_after), throttles + 1
                elif failures < s.max_retries:
                    delay, failures = self._backoff(failures, exc.retry_after), failures + 1
                else:
                    attempts = failures + throttles + 1
                    return self.answer(exc.status, reason=f"{exc.reason} (gave up after {attempts} attempts)")
                reason = exc.reason
            else:
                if not (answer.one_off and self.retries_one_off):
                    return answer
                if failures >= s.max_retries:
                    if failures + throttles == 0:
                        return answer
                    attempts = failures + throttles + 1
                    return answer.model_copy(update={"reason": f"{answer.reason} (gave up after {attempts} attempts)"})
                self._count(answer)  # paid for, then set aside for a fresh ask
                delay, failures = self._backoff(failures, None), failures + 1
                reason = f"{answer.status} answer: {answer.reason}"
            log.warning("%s: %s; retry in %.2fs (%d failed, %d throttled so far)", self.name, scrub(reason),
                        delay, failures, throttles)
            self.sleep(delay)

    def _limited_attempt(self, ask: Ask) -> Answer:
        """One attempt holding a limiter slot; a 429 makes the limiter slow down (and pause for a
        Retry-After, unless it is one `_with_retries` gives up on)."""
        with self.limiter.slot() as slot:
            try:
                return self._attempt(ask)
            except TransientError as exc:
                if exc.throttled:
                    wait = exc.retry_after
                    slot.throttle(wait if wait is not None and wait <= self.settings.max_retry_after else None)
                raise

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with 50–100 % jitter; a 429 that says when to come back waits that long
        (at least `throttle_backoff_base`), jittered upwards to spread a burst, and does not grow.

        Retrying before Retry-After would only earn another 429, and waiting much longer idles the
        request (a 20 ms Retry-After waited as a second left it sleeping past the end of the run):
        the adaptive limiter, not the wait, is what slows the client down. `_with_retries` already
        gave up on waits longer than `max_retry_after`.
        """
        s = self.settings
        if retry_after is not None:
            return max(retry_after, s.throttle_backoff_base) * (1.0 + s.retry_after_jitter * random.random())
        return min(s.backoff_max, s.backoff_base * 2**attempt) * (0.5 + random.random() / 2)


class SdkProvider(Provider):
    """A backend over an SDK client, built on first use (the SDK import is heavy) and shared by threads."""

    # What a 200 reply must be, in the words of `broken_reply`.
    wire_format: ClassVar[str] = "reply"
    retries_one_off = True

    def __init__(self, model: str | None, settings: Settings, cache: ResponseCache | None) -> None:
        # wire imports httpx2: only SDK backends pay for it.
        from hilite_cli.providers.wire import Wire

        super().__init__(model, settings, cache)
        self.wire = Wire(settings.timeout)
        self._client: Any = None
        self._client_lock = threading.Lock()

    def check_reachable(self) -> None:
        """With a base URL set (option or the SDK's variable), connect to it once, before any record:
        nothing listening is one ProviderConfigError here, not every record retried until it gives up."""
        url = getattr(self, "base_url", None)
        if not url:
            return
        parts = urlparse(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=min(self.settings.timeout, 10.0)):
                pass
        except OSError as exc:
            source = getattr(self, "base_url_from", None)
            raise ProviderConfigError(
                f"nothing answers at the base URL {url}{f' (from {source})' if source else ''} "
                f"({exc.strerror or type(exc).__name__}): start the server or correct the URL"
            ) from None

    def broken_reply(self, problem: str, body: str | None) -> Answer:
        """A 200 whose body is not the SDK's JSON (a proxy page, an empty or mistyped body): `unparsed`
        with the body kept as raw, and retryable, so it is never cached and a re-run asks again."""
        return self.answer(
            "unparsed", raw=body, reason=f"the server's reply is not a valid {self.wire_format}: {problem}",
            retryable=True,
        )

    def unreadable_reply(self, exc: BaseException) -> Answer:
        """The answer to a READ_ERRORS exception raised while the SDK read a reply: a broken reply when
        a body came back; re-raised when none did (not a wire problem but a bug to see)."""
        from hilite_cli.providers.wire import describe

        body = self.wire.body()
        if body is None:
            raise exc
        return self.broken_reply(describe(exc), body)

    def read_response(self, ask: Ask, response: Any, body: Callable[[], str | None] | None = None) -> Answer:
        """The typed answer to the SDK's response object (from a request or a batch job), with its tokens.
        `body` gives the raw text of this reply for a broken one: by default the request's own HTTP body;
        a batch job passes its line for this request (the last HTTP body there is the whole results file)."""
        from hilite_cli.providers.wire import READ_ERRORS, describe

        body = body or self.wire.body
        try:
            return self._read(ask, response, body).model_copy(update={"usage": self._usage(response)})
        except READ_ERRORS as exc:
            return self.broken_reply(describe(exc), body())

    def _read(self, ask: Ask, response: Any, body: Callable[[], str | None]) -> Answer:
        """Map the SDK's response object to a status; `body()` is the raw text for a broken reply."""
        raise NotImplementedError

    def _usage(self, response: Any) -> Usage | None:
        """The tokens the SDK's response object reports."""
        raise NotImplementedError

    def _new_client(self) -> Any:
        """The SDK client, configured with no SDK retries (Provider._with_retries does them)."""
        raise NotImplementedError

    def _client_once(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        super().close()
