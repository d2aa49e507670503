"""A scripted loopback judge, and real Gemini and OpenAI clients pointed at it (shared fixtures)."""

from support.judge_fixtures import backend, judge, options, server, spec

__all__ = ["backend", "judge", "options", "server", "spec"]
