"""How much bounded concurrency buys: 200 asks against a loopback server answering in 200 ms each.

Runs the real openai (or google-genai) client, no cache, concurrency 1 then 32, and prints the
seconds for each and their ratio; then the same through the whole `hilite route` command (a
subprocess routing 200 tasks with an LLM router). Then the adaptive limiter (AIMD) against a
server that allows `--rate` requests per second and answers 429 (with retry-after-ms) above it:
the share of that rate it reaches, the 429s it drew and the asks it lost, beside a fixed limit at
the same --high concurrency (the plain approach: a semaphore that never adapts). A script, not a test:

    .venv/bin/python bench/provider_concurrency.py [--asks 200] [--latency 0.2] [--backend openai|gemini]
    .venv/bin/python bench/provider_concurrency.py --only-limit --rate 50 --limit-asks 500
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.loopback import Loopback, RateLimited  # noqa: E402

from hilite_cli.providers import Ask, get_provider  # noqa: E402
from hilite_cli.providers.limiter import AdaptiveLimiter, Slot  # noqa: E402


def run(server: Loopback, backend: str, asks: list[Ask], concurrency: int) -> float:
    url = server.url if backend == "gemini" else server.openai_url
    provider = get_provider(backend, base_url=url, concurrency=concurrency, use_cache=False, max_retries=0)
    start = time.perf_counter()
    answers = provider.ask_many(asks)
    elapsed = time.perf_counter() - start
    provider.close()
    failed = [a for a in answers if a.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} asks failed, first: {failed[0].status} {failed[0].reason}")
    return elapsed


def run_route(server: Loopback, backend: str, tasks: int, concurrency: int) -> float:
    """`hilite route tasks.jsonl --provider BACKEND --concurrency N` end to end, wall-clock seconds."""
    import orjson
    from PIL import Image

    url = server.url if backend == "gemini" else server.openai_url
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Image.new("RGB", (16, 16), (120, 80, 40)).save(folder / "p.png")
        (folder / "t.jsonl").write_bytes(b"".join(
            orjson.dumps({"id": f"t{i}", "image": "p.png", "instruction": f"make the sky stormy {i}"}) + b"\n"
            for i in range(tasks)))
        env = {**os.environ, "HILITE_CACHE_DIR": str(folder / "cache"), "OPENAI_API_KEY": "bench-placeholder"}
        start = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "hilite_cli", "route", "t.jsonl", "--provider", backend,
                              "--base-url", url, "--concurrency", str(concurrency), "--no-progress", "-o", "r.jsonl"],
                             cwd=folder, env=env, capture_output=True)
        elapsed = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(res.stderr.decode()[-2000:])
    return elapsed


class RateLimitedServer:
    """Answers at most `rate` requests per second (a token bucket holding `burst`), 429 above it with
    retry-after-ms saying when the next token comes, like OpenAI's and Gemini's per-minute limits."""

    def __init__(self, rate: float, burst: int, latency: float) -> None:
        self.rate, self.burst, self.latency = rate, burst, latency
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.accepted = 0
        self.rejected = 0
        self.lock = threading.Lock()

    def __call__(self, request: object) -> object:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens < 1.0:
                self.rejected += 1
                return RateLimited(retry_after_ms=round(1000 * (1.0 - self.tokens) / self.rate, 1))
            self.tokens -= 1.0
            self.accepted += 1
        time.sleep(self.latency)
        return "Yes"


class FixedLimiter(AdaptiveLimiter):
    """The plain approach for comparison: `ceiling` requests in flight, whatever the server says."""

    def _release(self, slot: Slot) -> None:
        with self._cond:
            self.in_flight -= 1
            self.throttles += slot.throttled
            self._cond.notify_all()


def client_capacity(backend: str, asks: int, high: int) -> float:
    """Answers per second the client manages against a server with no limit and no latency, measured
    in the same run: when it is not well above the rate limit, the client's CPU (not the limiter) caps the share."""
    with Loopback(answer=lambda req: "Yes") as server:
        return asks / run(server, backend, [Ask(prompt=f"cap {i}", expect="yesno") for i in range(asks)], high)


def run_limited(backend: str, rate: float, latency: float, args: argparse.Namespace, adaptive: bool) -> dict[str, float]:
    """`rate * --limit-seconds` asks through a provider at ceiling `--high` against the rate-limited server."""
    n = max(20, int(rate * args.limit_seconds))
    policy = RateLimitedServer(rate, max(1, int(rate * args.burst_s)), latency)
    with Loopback(answer=policy) as server:
        url = server.url if backend == "gemini" else server.openai_url
        provider = get_provider(backend, base_url=url, concurrency=args.high, use_cache=False)
        if not adaptive:
            provider.limiter = FixedLimiter(args.high)
        asks = [Ask(prompt=f"task {i}: is this plausible?", expect="yesno") for i in range(n)]
        start = time.perf_counter()
        answers = provider.ask_many(asks)
        elapsed = time.perf_counter() - start
        provider.close()
    lost = sum(a.status != "ok" for a in answers)
    # The best any client can do: the burst at once, then `rate` per second; lost asks earn nothing.
    best = max(0.0, (n - lost - policy.burst) / rate)
    return {"share": best / elapsed if elapsed else 0.0, "rejected": policy.rejected, "lost": lost,
            "lowest": provider.limiter.lowest}


def limit_bench(args: argparse.Namespace) -> bool:
    """Every setting (backend x latency x rate), fixed beside adaptive, medians of `--repeat` runs; PASS
    when the adaptive limiter reaches --target of the rate and loses no ask. True when all pass."""
    logging.getLogger("hilite_cli.providers.base").setLevel(logging.ERROR)  # one retry warning per 429 otherwise
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min load average, {os.cpu_count()} CPUs); burst {args.burst_s:g} s "
          f"of rate, ceiling {args.high}, {args.limit_seconds:g} s of asks per run, median of {args.repeat} runs")
    ok = True
    for backend in args.backends.split(","):
        print(f"{backend}: client capacity {client_capacity(backend, 300, args.high):.0f} answers/s against no limit")
        for latency in (float(x) for x in args.latencies.split(",")):
            for rate in (float(x) for x in args.rates.split(",")):
                runs = {kind: [run_limited(backend, rate, latency, args, kind == "adaptive") for _ in range(args.repeat)]
                        for kind in ("fixed", "adaptive")}
                med = {kind: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for kind, rs in runs.items()}
                lost = max(r["lost"] for r in runs["adaptive"])
                passed = med["adaptive"]["share"] >= args.target and lost == 0
                ok &= passed
                f, a = med["fixed"], med["adaptive"]
                print(f"  {backend:6s} {rate:4.0f} req/s {latency * 1000:4.0f} ms: fixed {100 * f['share']:5.1f} % "
                      f"({f['rejected']:.0f} 429s, {f['lost']:.0f} lost) | adaptive {100 * a['share']:5.1f} % "
                      f"({a['rejected']:.0f} 429s, {lost} lost, limit down to {a['lowest']:.1f}) "
                      f"{'PASS' if passed else 'FAIL'} (>= {100 * args.target:.0f} %, none lost)")
    print(f"load after: {os.getloadavg()[0]:.2f}; {'all settings PASS' if ok else 'some settings FAIL'}")
    return ok


def route_answer(request: object) -> str:
    return ('{"intent": "general_editing", "instruction_prompt": "Make the sky stormy.", '
            '"source_prompt": "a photo", "target_prompt": "a photo with a stormy sky"}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--backend", choices=["openai", "gemini"], default="openai")
    parser.add_argument("--high", type=int, default=32)
    parser.add_argument("--backends", default="openai,gemini", help="rate-limit settings: these backends")
    parser.add_argument("--rates", default="20,50", help="requests per second the limited server allows")
    parser.add_argument("--latencies", default="0,0.25", help="seconds the limited server takes per answer")
    parser.add_argument("--burst-s", type=float, default=0.2, help="its token bucket holds this many seconds of rate")
    parser.add_argument("--limit-seconds", type=float, default=8.0, help="asks per run: this many seconds of the rate")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (medians reported)")
    parser.add_argument("--target", type=float, default=0.9, help="share of the rate a setting must reach to PASS")
    parser.add_argument("--only-limit", action="store_true", help="run only the rate-limit comparison")
    args = parser.parse_args()
    os.environ.setdefault("GEMINI_API_KEY", "bench-placeholder")
    os.environ.setdefault("OPENAI_API_KEY", "bench-placeholder")
    if args.only_limit:
        sys.exit(0 if limit_bench(args) else 1)
    asks = [Ask(prompt=f"task {i}: is this plausible?", expect="yesno") for i in range(args.asks)]
    with Loopback(answer=lambda req: "Yes", latency=args.latency) as server:
        serial = run(server, args.backend, asks, 1)
        parallel = run(server, args.backend, asks, args.high)
    print(f"{args.asks} asks, {args.latency * 1000:.0f} ms each, backend {args.backend}")
    print(f"concurrency 1:  {serial:7.2f} s")
    print(f"concurrency {args.high}: {parallel:7.2f} s")
    print(f"speed-up: {serial / parallel:.1f}x")
    with Loopback(answer=route_answer, latency=args.latency) as server:
        serial = run_route(server, args.backend, args.asks, 1)
        parallel = run_route(server, args.backend, args.asks, args.high)
    print(f"hilite route, {args.asks} tasks (process start included)")
    print(f"concurrency 1:  {serial:7.2f} s")
    print(f"concurrency {args.high}: {parallel:7.2f} s")
    print(f"speed-up: {serial / parallel:.1f}x")
    sys.exit(0 if limit_bench(args) else 1)


if __name__ == "__main__":
    main()
