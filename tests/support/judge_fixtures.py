"""A scripted loopback judge, and real Gemini and OpenAI clients pointed at it.

Shared by the judging stages' test folders (validate, invert, bootstrap); each conftest re-exports
these fixtures so pytest finds them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.loopback import Loopback
from support.scripted_judge import ScriptedJudge

SPECS = {"gemini": "gemini:gemini-2.5-flash", "openai": "openai:gpt-4.1"}


@pytest.fixture
def judge() -> ScriptedJudge:
    return ScriptedJudge()


@pytest.fixture
def server(judge: ScriptedJudge, monkeypatch: pytest.MonkeyPatch) -> Iterator[Loopback]:
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    with Loopback(answer=judge) as srv:
        yield srv


@pytest.fixture(params=sorted(SPECS))
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def spec(backend: str) -> str:
    return SPECS[backend]


@pytest.fixture
def options(server: Loopback, backend: str) -> dict[str, Any]:
    """Provider options for stages: the loopback server, no retries (an unscripted question is http_error)."""
    url = server.url if backend == "gemini" else server.openai_url
    return {"base_url": url, "max_retries": 0, "backoff_base": 0.001}
