"""How much bounded concurrency buys: 200 asks against a loopback server answering in 200 ms each.

Runs the real openai (or google-genai) client, no cache, concurrency 1 then 32, and prints the
seconds for each and their ratio; then the same through the whole `hilite route` command (a
subprocess routing 200 tasks with an LLM router). A script, not a test:

    .venv/bin/python bench/provider_concurrency.py [--asks 200] [--latency 0.2] [--backend openai|gemini]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.loopback import Loopback  # noqa: E402

from hilite_cli.providers import Ask, get_provider  # noqa: E402


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


def route_answer(request: object) -> str:
    return ('{"intent": "general_editing", "instruction_prompt": "Make the sky stormy.", '
            '"source_prompt": "a photo", "target_prompt": "a photo with a stormy sky"}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--backend", choices=["openai", "gemini"], default="openai")
    parser.add_argument("--high", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("GEMINI_API_KEY", "bench-placeholder")
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


if __name__ == "__main__":
    main()
