"""The judge path: `hilite validate` (A.2 judge) against a bare SDK client sending the same images.

One process run, one loopback server (its own process, answering every request in `--latency`
seconds, so its CPU is not counted): for each image size and `--concurrency`, first the floor, a
bare SDK client (the real `openai` or `google-genai` SDK in a thread pool of that size) that reads
each record's two files and sends them as they are, then `hilite validate` in this process (the
real command, through the CLI, `--no-cache`) over the same records. Prints records/s and CPU
ms/record (this process's user+system time, all threads) for both, their ratios, and PASS/FAIL
against the targets of issue 22 (records/s >= 0.9x the floor, CPU/record <= 1.2x). A script,
not a test:

    .venv/bin/python bench/judge_path.py [--sizes 512,1024] [--concurrency 8,32,64] [--backend openai|gemini]

Every record has its own edited image path and its own source path (hard links to a few photos,
so the disk holds a handful of files while nothing can be shared between records by path).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

A2_REPLY = '{"InstructionAdherence": 4.8, "ImageAesthetic": 4.5}'
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
MODEL = {"openai": "gpt-4.1", "gemini": "gemini-2.5-flash"}


def _a2(request: object) -> str:
    return A2_REPLY


def _serve(latency: float, conn: object) -> None:
    """The loopback server's process: serve until the parent closes the pipe."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.loopback import Loopback

    with Loopback(answer=_a2, latency=latency) as server:
        conn.send(server.url)  # type: ignore[attr-defined]
        try:
            conn.recv()  # type: ignore[attr-defined]
        except EOFError:
            pass


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_records(folder: Path, size: int, count: int) -> Path:
    """`count` candidate records over PNG photos of `size`²: own source and edited path each (hard links)."""
    from PIL import ImageFilter
    from support.photos import photo

    folder.mkdir(parents=True)
    lines = []
    for i in range(count):
        name = PHOTOS[i % len(PHOTOS)]
        src, edi = folder / f"{name}.png", folder / f"{name}-edit.png"
        if not src.exists():
            img = photo(name, size)
            img.save(src)
            img.filter(ImageFilter.GaussianBlur(2)).save(edi)
        os.link(src, folder / f"s{i}.png")
        os.link(edi, folder / f"e{i}.png")
        lines.append({"id": f"c{i}", "image": str(folder / f"s{i}.png"), "instruction": f"blur the photo {i}",
                      "model": "bench", "output": str(folder / f"e{i}.png")})
    manifest = folder / "candidates.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    return manifest


def a2_prompt(instruction: str) -> str:
    """The A.2 text hilite sends, so both sides send requests of one size."""
    from hilite_cli.prompts import render_prompt

    return render_prompt("a2_evaluation", instruction=instruction)


def floor_openai(url: str, records: list[dict[str, str]], concurrency: int) -> int:
    """A bare openai client making hilite's request: per record, read both files, data URLs, the A.2
    prompt, the strict json_schema response format (built once), one chat.completions call."""
    import base64

    import openai
    from openai.lib._pydantic import to_strict_json_schema

    from hilite_cli.providers.schemas import EditScores

    client = openai.OpenAI(api_key="bench", base_url=f"{url}/v1", max_retries=0, timeout=120)
    response_format = {"type": "json_schema", "json_schema": {
        "name": "EditScores", "schema": to_strict_json_schema(EditScores), "strict": True}}

    def one(record: dict[str, str]) -> bool:
        content: list[dict[str, object]] = [{"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(Path(record[k]).read_bytes()).decode()}}
            for k in ("image", "output")]
        content.append({"type": "text", "text": a2_prompt(record["instruction"])})
        reply = client.chat.completions.create(model=MODEL["openai"], messages=[{"role": "user", "content": content}],
                                               temperature=0.0, max_tokens=4096, response_format=response_format)
        return reply.choices[0].message.content == A2_REPLY

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ok = sum(pool.map(one, records))
    client.close()
    return ok


def floor_gemini(url: str, records: list[dict[str, str]], concurrency: int) -> int:
    """A bare google-genai client making hilite's request: per record, read both files, inline parts, the
    A.2 prompt, JSON out against the schema, one generate_content call."""
    from google import genai
    from google.genai import types

    from hilite_cli.providers.schemas import EditScores

    client = genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=url, timeout=120_000))

    def one(record: dict[str, str]) -> bool:
        parts = [types.Part.from_bytes(data=Path(record[k]).read_bytes(), mime_type="image/png")
                 for k in ("image", "output")]
        parts.append(types.Part.from_text(text=a2_prompt(record["instruction"])))
        config = types.GenerateContentConfig(temperature=0.0, max_output_tokens=4096,
                                             response_mime_type="application/json", response_schema=EditScores)
        reply = client.models.generate_content(model=MODEL["gemini"], contents=[types.Content(role="user", parts=parts)],
                                               config=config)
        return reply.text == A2_REPLY

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ok = sum(pool.map(one, records))
    client.close()
    return ok


@functools.cache
def hilite_command() -> Any:
    """The click command behind `hilite`, built once, as a process builds it once at start-up (building
    it again for every run would charge the runs with typer's start-up, not with judging)."""
    import typer.main

    from hilite_cli.cli.app import app

    return typer.main.get_command(app)


def hilite_validate(url: str, manifest: Path, concurrency: int, backend: str, judge: str | None = None) -> int:
    """`hilite validate MANIFEST --judge BACKEND:MODEL --base-url URL --concurrency N --no-cache -o out` in
    this process (the real command, through click); the number of records it wrote."""
    from click.testing import CliRunner

    from hilite_cli.cli.app import join_pair_options

    base = f"{url}/v1" if backend == "openai" else url
    out = manifest.with_name(f"validated-{concurrency}-{time.monotonic_ns()}.jsonl")
    args = ["validate", str(manifest), "--judge", judge or f"{backend}:{MODEL[backend]}", "--no-cache", "--no-progress",
            "-o", str(out), "--errors", str(out.with_suffix(".errors.jsonl"))]
    if judge is None:
        args += ["--base-url", base, "--concurrency", str(concurrency)]
    result = CliRunner().invoke(hilite_command(), join_pair_options(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"hilite validate exited {result.exit_code}: {result.output[-2000:]}")
    written = sum(1 for _ in out.open())
    out.unlink()
    return written


def measure(run: Callable[[], int], expected: int) -> tuple[float, float]:
    """(records/s, CPU ms/record) of one run, which must have handled every record."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    done = run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if done != expected:
        raise SystemExit(f"{done} of {expected} records came back")
    return expected / wall, 1000 * cpu / expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--concurrency", default="8,32,64")
    parser.add_argument("--backend", choices=["openai", "gemini"], default="openai")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per answer")
    parser.add_argument("--rounds", type=float, default=6.0, help="records per setting: this many times the concurrency")
    parser.add_argument("--min-records", type=int, default=96)
    parser.add_argument("--offline-records", type=int, default=32, help="records for the offline judge's run")
    parser.add_argument("--repeat", type=int, default=2, help="runs per setting, interleaved (medians reported)")
    parser.add_argument("--speed", type=float, default=0.9, help="records/s target: this share of the floor's")
    parser.add_argument("--cpu", type=float, default=1.2, help="CPU/record target: at most this multiple of the floor's")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench-placeholder")
    os.environ.setdefault("GEMINI_API_KEY", "bench-placeholder")
    floor = floor_openai if args.backend == "openai" else floor_gemini
    sizes = [int(s) for s in args.sizes.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(args.latency, child), daemon=True)
    server.start()
    url = parent.recv()
    rows, ok = [], True
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min load average, {os.cpu_count()} CPUs); backend {args.backend}, "
          f"server latency {args.latency * 1000:.0f} ms (own process), medians of {args.repeat} runs")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            count = max(args.min_records, int(args.rounds * max(levels)))
            manifest = make_records(Path(tmp) / str(size), size, count)
            records = [orjson.loads(line) for line in manifest.read_bytes().splitlines()]
            floor(url, records[:4], 4)  # warm up imports and connections on both sides
            hilite_validate(url, manifest, 4, args.backend)
            few = manifest.with_name("candidates-offline.jsonl")
            few.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records[:args.offline_records]))
            offline = measure(lambda m=few: hilite_validate(url, m, 1, args.backend, judge="offline"),
                              min(count, args.offline_records))
            print(f"  {size}²: validate --judge offline (lowlevel check only): {offline[0]:.1f} records/s, "
                  f"{offline[1]:.1f} CPU ms/record")
            for c in levels:
                n = max(args.min_records, int(args.rounds * c))
                subset = manifest.with_name(f"candidates-{n}.jsonl")
                subset.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records[:n]))
                runs: dict[str, list[tuple[float, float]]] = {"floor": [], "hilite": []}
                for _ in range(args.repeat):
                    runs["floor"].append(measure(lambda c=c, n=n: floor(url, records[:n], c), n))
                    runs["hilite"].append(measure(lambda c=c, s=subset: hilite_validate(url, s, c, args.backend), n))
                med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in runs.items()}
                speed, cpu = med["hilite"][0] / med["floor"][0], med["hilite"][1] / med["floor"][1]
                passed = speed >= args.speed and cpu <= args.cpu
                ok &= passed
                rows.append((size, c, n, med, speed, cpu, passed))
                print(f"  {size}² c={c:<3d} n={n:<4d} floor {med['floor'][0]:6.1f} rec/s {med['floor'][1]:5.1f} CPU ms/rec | "
                      f"hilite {med['hilite'][0]:6.1f} rec/s {med['hilite'][1]:5.1f} CPU ms/rec | "
                      f"speed {speed:.2f}x cpu {cpu:.2f}x {'PASS' if passed else 'FAIL'}", flush=True)
    parent.send("stop")
    server.join(timeout=10)
    print(f"\nload after: {os.getloadavg()[0]:.2f}\n")
    print("| size | concurrency | records | floor rec/s | hilite rec/s | speed (≥ 0.9×) | floor CPU ms/rec | "
          "hilite CPU ms/rec | CPU (≤ 1.2×) | |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, c, n, med, speed, cpu, passed in rows:
        print(f"| {size}² | {c} | {n} | {med['floor'][0]:.1f} | {med['hilite'][0]:.1f} | {speed:.2f}× | "
              f"{med['floor'][1]:.1f} | {med['hilite'][1]:.1f} | {cpu:.2f}× | {'PASS' if passed else 'FAIL'} |")
    print(f"\n{'all settings PASS' if ok else 'some settings FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
