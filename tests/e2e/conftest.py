"""Shared pieces of the end-to-end tests: tiny weights built once, a loopback server that answers
every prompt the chain asks (route, A.2 judge, A.6 inversion) deterministically from the request."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from support.loopback import Loopback, Received, Reply
from support.photos import save_photo

_A2 = re.compile(r"\*\*Editing Instruction\*\*:\n' (?P<instruction>.*) '\n", re.DOTALL)
_A6 = re.compile(r'Editing instruction: "(?P<instruction>.*)"\nWrite', re.DOTALL)


def score_for(image: bytes) -> float:
    """A judge score that depends only on the edited image: 3.5 … 5.0, so some pass and some do not."""
    return round(3.5 + int(hashlib.sha256(image).hexdigest()[:4], 16) / 0xFFFF * 1.5, 2)


def chain_answer(request: Received) -> Reply | str:
    text = request.text()
    if match := _A2.search(text):
        s = score_for(request.images()[1])
        return f'{{"InstructionAdherence": {s}, "ImageAesthetic": {max(s, 4.8)}}}'
    if match := _A6.search(text):
        return f"Change the picture so it no longer matches: {match['instruction'].rstrip('.')}."
    if "intent" in text.lower():
        return orjson.dumps({"intent": "general_editing", "instruction_prompt": "Make it look like winter.",
                             "source_prompt": "a photo", "target_prompt": "a winter photo"}).decode()
    return "no"


@pytest.fixture(scope="session")
def tiny_ip2p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.tiny_models import build_instruct_pix2pix

    return build_instruct_pix2pix(tmp_path_factory.mktemp("weights") / "ip2p")


@pytest.fixture
def server() -> Iterator[Loopback]:
    with Loopback(answer=chain_answer) as srv:
        yield srv


@pytest.fixture
def gemini_env(server: Loopback, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"GEMINI_API_KEY": "e2e-test-key", "GOOGLE_GEMINI_BASE_URL": server.url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def write_tasks(folder: Path, n: int) -> Path:
    names = ["astronaut", "chelsea", "coffee", "rocket"]
    for name in names:
        save_photo(folder, name, 32)
    instructions = ["make it snowy", "add a red balloon", "turn it into a watercolor"]
    rows = [{"id": f"t{i:02d}", "image": f"{names[i % 4]}.png", "instruction": instructions[i % 3]} for i in range(n)]
    path = folder / "tasks.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path
