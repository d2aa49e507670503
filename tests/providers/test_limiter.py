"""The adaptive concurrency limit: AIMD rules, Retry-After pauses, and a real client held under a
server's concurrency cap without losing a request."""

from __future__ import annotations

import threading
import time

from support.loopback import Loopback, RateLimited, Received, Text

from hilite_cli.providers import Ask, get_provider
from hilite_cli.providers.limiter import AdaptiveLimiter, LimiterSettings
from hilite_cli.providers.retry_after import retry_after_from


class FakeClock:
    """Time that moves only when the test says, so the rules are checked without timing anything."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def finish(limiter: AdaptiveLimiter, throttled: bool, retry_after: float | None = None, *,
           clock: FakeClock | None = None, took: float = 0.0) -> None:
    with limiter.slot() as slot:
        if clock is not None:
            clock.now += took
        if throttled:
            slot.throttle(retry_after)


def window(limiter: AdaptiveLimiter, clock: FakeClock, answers: int, rtt: float) -> None:
    """`answers` requests in flight together, all answered after `rtt` seconds."""
    slots = [limiter.slot() for _ in range(answers)]
    for s in slots:
        s.__enter__()
    clock.now += rtt
    for s in slots:
        s.__exit__(None, None, None)


def test_a_burst_of_429s_is_one_decrease_and_answers_win_back_one_slot_per_round_trip() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, LimiterSettings(decrease=0.5), clock=clock)
    assert limiter.limit == 8  # --concurrency is the starting point
    for _ in range(8):  # one at a time, 0.1 s each: the server was seen to hold 1, below every cut
        finish(limiter, False, clock=clock, took=0.1)
    assert limiter.limit == 8 and abs(limiter.rtt - 0.1) < 1e-9  # never above the ceiling
    finish(limiter, True, clock=clock)
    assert limiter.limit == 4 and limiter.decreases == 1
    for _ in range(5):  # the same burst (within one round trip of the decrease): not halved again
        finish(limiter, True, clock=clock, took=0.01)
    assert limiter.limit == 4 and limiter.throttles == 6 and limiter.decreases == 1
    window(limiter, clock, 4, rtt=0.1)
    assert 4.9 < limiter.limit < 5.0  # +1/limit per answer: about one slot per round trip
    finish(limiter, True, clock=clock)  # a round trip later: a new congestion event
    assert limiter.decreases == 2


def test_a_429_of_a_request_sent_before_the_last_decrease_does_not_decrease_again() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, LimiterSettings(decrease=0.5), clock=clock)
    early = limiter.slot()
    early.__enter__().throttle(None)  # sent at t=100, while the limit was 8
    clock.now += 5
    finish(limiter, True, clock=clock)  # sent later, answered 429 first: 8 -> 4
    clock.now += 5  # long after the decrease, but that request went out before it
    early.__exit__(None, None, None)
    assert limiter.limit == 4 and limiter.decreases == 1 and limiter.throttles == 2


def steady(limiter: AdaptiveLimiter, clock: FakeClock, held: int, rtt: float, seconds: float) -> list:
    """`held` requests always in flight, each answered `rtt` after it was sent (answers at held / rtt per second)."""
    step = rtt / held
    flying = []
    for k in range(held):
        clock.now += step if k else 0.0
        flying.append(limiter.slot())
        flying[-1].__enter__()
    for _ in range(int(seconds / step)):
        clock.now += step
        flying.pop(0).__exit__(None, None, None)
        flying.append(limiter.slot())
        flying[-1].__enter__()
    return flying  # the last `held` stay in flight (dropping them would answer them all at once)


def test_a_429_never_takes_the_limit_below_what_the_server_was_seen_to_hold() -> None:
    """10 in flight answered in 1 s each (10 answers/s x 1 s = 10): a 429 at limit 11 leaves 10, not 11 x 0.5."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(11, LimiterSettings(decrease=0.5, rate_window=2.0), clock=clock)
    flying = steady(limiter, clock, 10, rtt=1.0, seconds=4.0)
    assert limiter.limit == 11 and abs(limiter.rtt - 1.0) < 1e-9
    finish(limiter, True, clock=clock)
    assert 9.5 < limiter.limit < 10.5 and limiter.decreases == 1
    assert len(flying) == 10


def test_with_no_rate_known_a_429_is_the_plain_factor() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(10, LimiterSettings(decrease=0.5), clock=clock)
    finish(limiter, True, clock=clock)
    assert limiter.limit == 5


def test_without_answers_yet_every_429_sent_after_the_last_decrease_decreases() -> None:
    """At the start no round trip is known: each round of 429s (sent after the last cut) cuts again."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(32, LimiterSettings(decrease=0.5), clock=clock)
    for expected in (16, 8, 4):
        finish(limiter, True, clock=clock, took=0.01)
        assert limiter.limit == expected
    assert limiter.rtt is None


def test_the_limit_never_drops_below_the_floor() -> None:
    limiter = AdaptiveLimiter(4, LimiterSettings(floor=2, decrease=0.5))
    for _ in range(20):
        finish(limiter, True)
    assert limiter.limit == 2 and limiter.lowest == 2 and limiter.throttles == 20


def test_retry_after_holds_back_new_requests_for_that_long() -> None:
    limiter = AdaptiveLimiter(4)
    finish(limiter, True, retry_after=0.3)
    started = time.monotonic()
    finish(limiter, False)  # has to wait out the pause
    assert time.monotonic() - started >= 0.25


def test_the_pause_goes_through_the_sleep_seam_once_per_pause() -> None:
    waits: list[float] = []
    limiter = AdaptiveLimiter(4, sleep=waits.append)
    finish(limiter, True, retry_after=50)
    finish(limiter, False)  # waits out the pause once, through the seam, then goes
    finish(limiter, False)
    assert len(waits) == 2 and 49 < waits[0] <= 50 and 49 < waits[1] <= 50  # each new caller waits it out


def test_retry_after_ms_is_read_before_retry_after() -> None:
    assert retry_after_from({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_from({"retry-after": "3"}) == 3.0
    assert retry_after_from({}) is None


def test_a_client_above_the_servers_cap_backs_off_and_loses_nothing(keys: str) -> None:
    """The server answers 429 (retry-after-ms 20) whenever more than 3 requests are in flight."""
    cap, lock = 3, threading.Lock()
    state = {"in_flight": 0, "peak_ok": 0, "rejected": 0}

    def answer(request: Received) -> RateLimited | Text:
        with lock:
            if state["in_flight"] >= cap:
                state["rejected"] += 1
                return RateLimited(retry_after_ms=20)
            state["in_flight"] += 1
            state["peak_ok"] = max(state["peak_ok"], state["in_flight"])
        time.sleep(0.03)
        with lock:
            state["in_flight"] -= 1
        return Text("yes")

    with Loopback(answer=answer) as server:
        provider = get_provider("openai:gpt-4.1", base_url=server.openai_url, concurrency=12, max_retries=8,
                                backoff_base=0.01, use_cache=False)
        try:
            answers = provider.ask_many([Ask(prompt=f"q{i}", expect="yesno") for i in range(40)])
        finally:
            provider.close()
    assert [a.status for a in answers] == ["ok"] * 40
    assert state["rejected"] >= 1 and provider.limiter.throttles == state["rejected"]
    assert provider.limiter.lowest <= 12 * 0.8**2  # it came down from 12 towards the server's cap


def test_429s_that_say_when_to_come_back_have_their_own_retry_budget_and_do_not_grow(keys: str) -> None:
    """Six 429s with retry-after-ms 5, `max_retries` 2: still answered (flow control is not a failure),
    each wait the server's (raised to throttle_backoff_base) with jitter, none growing; `max_retries` 0 never retries."""
    with Loopback() as server:
        server.script(*[RateLimited(retry_after_ms=5) for _ in range(6)], Text("yes"))
        provider = get_provider("openai:gpt-4.1", base_url=server.openai_url, max_retries=2, use_cache=False)
        waits: list[float] = []
        provider.sleep = waits.append
        base = provider.settings.throttle_backoff_base
        answer = provider.ask(Ask(prompt="q", expect="yesno"))
        provider.close()
        assert answer.status == "ok" and len(server.requests) == 7
        retries = [w for w in waits if w >= 0.01]  # the rest: the limiter's 5 ms pauses, through the same seam
        assert len(retries) == 6 and all(base <= w <= base * (1 + provider.settings.retry_after_jitter) for w in retries)
        server.script(RateLimited(retry_after_ms=5), Text("yes"))
        never = get_provider("openai:gpt-4.1", base_url=server.openai_url, max_retries=0, use_cache=False)
        assert never.ask(Ask(prompt="q2", expect="yesno")).status == "http_error"
        never.close()
