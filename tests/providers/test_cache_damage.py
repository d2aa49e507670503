"""A response cache is only a shortcut: a damaged file, a damaged row or a bad HILITE_CACHE_DIR never stops a run
with an unnamed error, and `--retry-failed` asks cached failures again."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from support.cli import hilite
from support.loopback import Loopback, Text

from hilite_cli.providers import Ask, ProviderConfigError, get_provider
from hilite_cli.providers.cache import ResponseCache
from hilite_cli.providers.schemas import EditScores

SCORES = '{"InstructionAdherence": 4.5, "ImageAesthetic": 3.5}'


def judge(provider_path: Path, server: Loopback, **options: object):
    return get_provider("gemini", base_url=server.url, cache_path=provider_path, max_retries=0, **options)


def ask(png: bytes) -> Ask:
    return Ask(prompt="judge", images=[png], expect="json", schema=EditScores)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_unreadable_cache_file_is_set_aside_named_and_replaced(damage: str, server: Loopback, keys: str,
                                                                   png: bytes, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "responses.sqlite"
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all\n" * 200)
    else:
        server.answer = lambda req: SCORES
        provider = judge(path, server)
        provider.ask_many([Ask(prompt=f"q{i}" * 500, expect="text") for i in range(40)])
        provider.close()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\x00garbage" * 64 + data[700:len(data) // 2])
    server.script(SCORES)
    caplog.set_level(logging.WARNING)
    provider = judge(path, server)
    answer = provider.ask(ask(png))
    provider.close()
    assert answer.status == "ok" and not answer.cached
    aside = [p for p in tmp_path.glob("responses.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1
    assert str(path) in caplog.text and str(aside[0]) in caplog.text
    again = judge(path, server)
    assert again.ask(ask(png)).cached  # the fresh cache works
    again.close()


def test_a_damaged_row_is_a_miss_not_a_validation_dump(server: Loopback, keys: str, png: bytes, tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    server.script(SCORES, SCORES)
    first = judge(path, server)
    assert first.ask(ask(png)).status == "ok"
    first.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET value = ?", (b'{"InstructionAdherence": "lots"',))
    provider = judge(path, server)
    answer = provider.ask(ask(png))
    provider.close()
    assert answer.status == "ok" and not answer.cached and len(server.requests) == 2


def test_cache_dir_that_is_a_file_is_one_clear_error(keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("HILITE_CACHE_DIR", str(blocker))
    with pytest.raises(ProviderConfigError, match="not a folder.*HILITE_CACHE_DIR.*--no-cache") as info:
        get_provider("gemini", base_url="http://127.0.0.1:9")
    assert str(blocker) in str(info.value)
    ResponseCache(tmp_path / "fine" / "r.sqlite").close()  # a good folder still opens


def test_cache_dir_that_is_a_file_exits_2_with_one_line(server: Loopback, tmp_path: Path, png: bytes) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(png)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(f'{{"id": "t0", "image": "{image}", "instruction": "add a kite"}}\n')
    blocker = tmp_path / "cachefile"
    blocker.write_text("x")
    result = hilite("route", str(tasks), "--provider", "gemini", "--base-url", server.url, "--no-progress",
                    "-o", str(tmp_path / "out.jsonl"),
                    env={"HILITE_CACHE_DIR": str(blocker), "GEMINI_API_KEY": "k-123456", "HF_HUB_OFFLINE": "1"})
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2, stderr
    assert len(stderr.splitlines()) == 1 and str(blocker) in stderr and "--no-cache" in stderr
    assert "Errno" not in stderr and "HILITE_DEBUG" not in stderr


def test_reask_failed_asks_cached_failures_again(server: Loopback, keys: str, png: bytes, tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    wrong = '{"InstructionAdherence": 0, "ImageAesthetic": 9}'  # a complete answer: cached
    server.script(Text(wrong), SCORES)
    assert judge(path, server).ask(ask(png)).status == "unparsed"
    assert judge(path, server).ask(ask(png)).cached  # a plain re-run replays it
    retried = judge(path, server, reask_failed=True).ask(ask(png))
    assert retried.status == "ok" and not retried.cached and len(server.requests) == 2
    assert judge(path, server, reask_failed=True).ask(ask(png)).cached  # ok answers are still replayed
