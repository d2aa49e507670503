"""Helpers for the `hilite mine` tests: a scripted judge for the loopback server, a runner for the
real command (as a subprocess), and readers for what a run leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from support.loopback import Raw, Received, Reply

KEY = "sk-test-mine-0123456789"
MODELS = ("flux-schnell", "instruct-pix2pix")


@dataclass
class Judge:
    """Answers A.5 / A.2 / A.3 / A.4 by rules on the text it is sent, and counts what it was asked.

    A.5: "No" when the T2I prompt contains `implausible`. A.2: low scores when the instruction
    contains `bad`. A.3: "no" when it contains `sloppy`. A.4: always "yes". With `outage`, A.2
    answers HTTP 400.
    """

    asked: dict[str, int] = field(default_factory=dict)
    design: list[Any] = field(default_factory=list)  # the A.1 reply (a JSON array)
    outage: bool = False

    def __call__(self, request: Received) -> str | Reply:
        text = request.text()
        if text.startswith("[WARN] ABSOLUTE BAN"):
            kind, reply = "a1", orjson.dumps(self.design).decode()
        elif text.startswith("Does this image accurately depict"):
            kind, reply = "a5", "No" if "implausible" in text else "Yes"
        elif text.startswith("You are an expert evaluator") and self.outage:
            kind, reply = "a2", Raw(400, {"error": {"message": "model overloaded (loopback)"}})
        elif text.startswith("You are an expert evaluator"):
            kind = "a2"
            reply = '{"InstructionAdherence": 2.0, "ImageAesthetic": 3.0}' if "bad" in text else '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}'
        elif text.startswith("You are provided with two images"):
            kind, reply = "a3", "no" if "sloppy" in text else "yes"
        elif text.startswith("You are an expert in visual aesthetics"):
            kind, reply = "a4", "yes"
        else:
            kind, reply = "other", "?"
        self.asked[kind] = self.asked.get(kind, 0) + 1
        return reply


def weight_args(weights: dict[str, Path]) -> list[str]:
    return [arg for name, path in weights.items() for arg in ("--weights", f"{name}={path}")]


@dataclass
class Mined:
    code: int
    output: str
    pool: list[dict[str, Any]]
    state: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    stats: dict[str, Any]
    folder: Path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path.is_file() else []


def collect(folder: Path, code: int, output: str) -> Mined:
    stats_path = folder / "stats.json"
    return Mined(
        code=code,
        output=output,
        pool=read_jsonl(folder / "pool.jsonl"),
        state=read_jsonl(folder / "pool.jsonl.state.jsonl"),
        errors=read_jsonl(folder / "pool.jsonl.errors.jsonl"),
        stats=orjson.loads(stats_path.read_bytes()) if stats_path.is_file() else {},
        folder=folder,
    )


def base_args(folder: Path, weights: dict[str, Path]) -> list[str]:
    return ["-o", str(folder / "pool.jsonl"), "--out", str(folder / "mined"), "--stats", str(folder / "stats.json"),
            "--preset", "small", "--no-progress", *weight_args(weights)]


def spawn(folder: Path, weights: dict[str, Path], *args: str) -> subprocess.Popen[bytes]:
    """The command as a user runs it: a separate process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "mine", *base_args(folder, weights), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )


def write_specs(path: Path, specs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in specs))
    return path


def check_accounting(m: Mined) -> None:
    """Every job of the queue is passed, rejected at a stage, failed, dropped or unsampled."""
    jobs = m.stats["jobs"]
    assert jobs["accounted"]
    total = jobs["passed"] + sum(jobs["rejected_at"].values()) + sum(jobs["failed"].values())
    assert total + jobs["dropped_after_pass"] + jobs["unsampled"] == jobs["queue"]
    latest = {e["id"]: e for e in m.state if e["type"] == "job"}  # the last line for an id wins (--retry-failed)
    assert len(latest) == jobs["sampled"] == total

