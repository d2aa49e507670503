"""Keys stay secret; missing keys and bad specs fail clearly; base-URL variables and offline mode work."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from support.loopback import Loopback, RateLimited, Raw, Received

from hilite_cli.providers import Ask, MissingKeyError, ProviderConfigError, get_provider
from hilite_cli.providers.cache import MIGRATIONS, ResponseCache, default_cache_path


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_key_appears_nowhere(backend: str, server: Loopback, keys: str, png: bytes, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture) -> None:
    """Worst case: a server that echoes the credential back in its error and its answers."""

    def echo(req: Received) -> str:
        return f"yes, your credential is {req.headers.get('x-goog-api-key') or req.headers.get('authorization')}"

    server.answer = echo
    leak = Raw(401, {"error": {"code": 401, "message": f"invalid key {keys}", "status": "UNAUTHENTICATED"}})
    server.script(RateLimited(retry_after=0), leak)
    cache_path = tmp_path / "c.sqlite"
    url = server.url if backend == "gemini" else server.openai_url
    caplog.set_level(logging.DEBUG)
    provider = get_provider(backend, base_url=url, cache_path=cache_path, backoff_base=0.001)
    answers = [provider.ask(Ask(prompt="q1", images=[png], expect="yesno")),
               provider.ask(Ask(prompt="q2", expect="yesno")),
               provider.ask(Ask(prompt="q3"))]
    provider.close()
    assert [a.status for a in answers] == ["http_error", "ok", "ok"]
    assert any(r.headers.get("x-goog-api-key") == keys or keys in r.headers.get("authorization", "")
               for r in server.requests)  # the key was really sent...
    for answer in answers:  # ...and never came back out
        assert keys not in answer.model_dump_json()
    assert keys not in caplog.text
    assert keys.encode() not in cache_path.read_bytes()
    with sqlite3.connect(cache_path) as db:
        assert not any(keys in str(row) for row in db.execute("SELECT * FROM responses"))


def test_missing_gemini_key_names_the_variable_and_the_way_round() -> None:
    with pytest.raises(MissingKeyError) as info:
        get_provider("gemini")
    message = str(info.value)
    assert "GEMINI_API_KEY" in message and "GOOGLE_API_KEY" in message and "`offline` provider" in message
    assert "base URL" not in message  # Gemini has no keyless local server
    assert info.value.advice("--base-url", "pass --judge offline").endswith("or pass --judge offline")


def test_missing_openai_key_for_a_remote_server() -> None:
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY.*loopback base URL") as info:
        get_provider("openai:gpt-4.1", base_url="https://api.example.com/v1")
    assert "pass --designer-base-url http://127.0.0.1:PORT/v1" in info.value.advice("--designer-base-url")


def test_local_openai_compatible_server_needs_no_key(server: Loopback) -> None:
    server.script("Yes")
    provider = get_provider("openai:Qwen/Qwen2.5-VL-72B-Instruct", base_url=server.openai_url, use_cache=False)
    assert provider.ask(Ask(prompt="ok?", expect="yesno")).value is True
    assert server.requests[0].body["model"] == "Qwen/Qwen2.5-VL-72B-Instruct"


def test_google_api_key_and_base_url_variables_are_honoured(server: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-xyz")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    server.script("No")
    answer = get_provider("gemini:gemini-2.0-flash", use_cache=False).ask(Ask(prompt="ok?", expect="yesno"))
    assert answer.status == "ok" and answer.value is False
    assert server.requests[0].headers["x-goog-api-key"] == "google-key-xyz"
    assert server.requests[0].model == "gemini-2.0-flash"


def test_openai_base_url_variable_is_honoured(server: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
    server.script("text answer")
    assert get_provider("openai", use_cache=False).ask(Ask(prompt="hi")).value == "text answer"
    assert server.requests[0].body["model"] == "gpt-4.1"  # the configured default model


def test_offline_never_judges(png: bytes) -> None:
    provider = get_provider("offline")
    answers = provider.ask_many([Ask(prompt="score", images=[png], expect="json"), Ask(prompt="ok?", expect="yesno")])
    assert all(a.status == "unavailable" and a.value is None and "offline" in a.reason for a in answers)
    assert provider.model is None and answers[0].provider == "offline"


@pytest.mark.parametrize("spec", ["claude", "", "gemni:x"])
def test_unknown_spec(spec: str) -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider"):
        get_provider(spec)


def test_cache_file_is_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    ResponseCache(path).close()
    cache = ResponseCache(path)  # reopening applies nothing twice
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    with pytest.raises(ValueError, match="transient"):
        cache.put("k", backend="gemini", model="m", status="http_error", value=None, raw=None, reason=None)
    cache.close()


def test_default_cache_path_follows_hilite_cache_dir(tmp_path: Path) -> None:
    assert default_cache_path() == tmp_path / "cache" / "responses.sqlite"


def test_a_key_echoed_into_an_sdk_warning_is_scrubbed(server: Loopback, tmp_path: Path, png: bytes) -> None:
    """A hostile server puts the key in finishReason; google-genai warns "<key> is not a valid FinishReason"."""
    import orjson
    from support.cli import hilite
    from support.loopback import Text

    key = "hostile-echo-KEY-9f8e7d6c5b"
    decision = {"intent": "object_insertion", "instruction_prompt": "Add a kite.", "source_prompt": "A beach.",
                "target_prompt": "A beach with a kite."}
    server.answer = lambda req: Text(orjson.dumps(decision).decode(), finish=req.headers["x-goog-api-key"])
    image = tmp_path / "a.png"
    image.write_bytes(png)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(orjson.dumps({"id": "t0", "image": str(image), "instruction": "add a kite"}) + b"\n")
    result = hilite("route", str(tasks), "--provider", "gemini", "--base-url", server.url, "--no-progress",
                    "-o", str(tmp_path / "out.jsonl"), "--no-cache",
                    env={"GEMINI_API_KEY": key, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "always"})
    stderr = result.stderr.decode()
    assert server.requests and server.requests[0].headers["x-goog-api-key"] == key  # the key was sent
    assert key not in stderr and key.encode() not in result.stdout
    assert "*** is not a valid FinishReason" in stderr  # the warning itself still reaches the user
    assert key.encode() not in (tmp_path / "out.jsonl").read_bytes()


def test_log_records_and_their_tracebacks_are_scrubbed(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import threading

    from hilite_cli.providers.keys import install_scrubbing

    monkeypatch.setenv("OPENAI_API_KEY", "sk-log-LEAK-123456")
    import warnings

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test, as are the next two
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    factory = logging.getLogRecordFactory()
    try:
        install_scrubbing()
        install_scrubbing()  # idempotent
        try:
            raise RuntimeError("bad key sk-log-LEAK-123456")
        except RuntimeError:
            record = logging.getLogger("x").makeRecord("x", logging.ERROR, "f", 1, "key=%s", ("sk-log-LEAK-123456",),
                                                       __import__("sys").exc_info())
        text = logging.Formatter().format(record)
        sys.excepthook(*record.exc_info)  # an unexpected exception's traceback (HILITE_DEBUG=1)
    finally:
        logging.setLogRecordFactory(factory)
    assert "sk-log-LEAK-123456" not in text and "key=***" in text and "bad key ***" in text
    printed = capsys.readouterr().err
    assert "RuntimeError: bad key ***" in printed and "sk-log-LEAK" not in printed


def _dead_url() -> str:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_a_base_url_with_nothing_listening_fails_once_up_front(backend: str, keys: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = _dead_url()
    with pytest.raises(ProviderConfigError, match=f"nothing answers at the base URL {url} \\(Connection refused"):
        get_provider(backend, base_url=url)
    variable = "GOOGLE_GEMINI_BASE_URL" if backend == "gemini" else "OPENAI_BASE_URL"
    monkeypatch.setenv(variable, url)
    with pytest.raises(ProviderConfigError, match=f"base URL {url} \\(from {variable}\\)"):
        get_provider(backend)


def test_validate_with_a_dead_base_url_exits_2_with_one_line(tmp_path: Path, png: bytes) -> None:
    from support.cli import hilite

    url = _dead_url()
    image = tmp_path / "a.png"
    image.write_bytes(png)
    manifest = tmp_path / "c.jsonl"
    manifest.write_text(f'{{"id": "c0", "image": "{image}", "output": "{image}", "instruction": "add a kite"}}\n')
    result = hilite("validate", str(manifest), "--judge", "openai:gpt-4.1", "--base-url", f"{url}/v1",
                    "-o", str(tmp_path / "out.jsonl"), "--no-progress", env={"OPENAI_API_KEY": "k-123456"})
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2 and len(stderr.splitlines()) == 1, stderr
    assert "--judge openai:gpt-4.1" in stderr and f"nothing answers at the base URL {url}/v1" in stderr
