"""A fake Gemini + OpenAI server on 127.0.0.1 for testing the real SDK clients offline.

It speaks `POST /v1beta/models/{m}:generateContent` (and `/v1/...`) and `POST /v1/chat/completions`,
records every request, and answers from a FIFO script first, then from a callable. Replies are
written once, in wire-neutral terms, and rendered in whichever format the request used:

    with Loopback(answer=lambda req: '{"InstructionAdherence": 4.5, "ImageAesthetic": 4.0}') as server:
        server.script(RateLimited(retry_after=0), Text("yes"))
        provider = get_provider("gemini:gemini-2.5-flash", base_url=server.url)          # Gemini
        provider = get_provider("openai:gpt-4.1", base_url=server.openai_url)          # OpenAI
        server.requests[-1].images()   # the image bytes the SDK sent, in order
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

GEMINI_PATH = re.compile(r"^/(v1beta|v1)/models/(?P<model>[^/:]+):generateContent$")
OPENAI_PATH = re.compile(r"^(/v1)?/chat/completions$")
OPENAI_IMAGES_PATH = re.compile(r"^(/v1)?/images/(?P<op>edits|generations)$")
MODEL_GET_PATH = re.compile(r"^/(v1beta|v1)/models/(?P<model>[^/:]+)$")


def _b64(data: str) -> bytes:
    """Standard or URL-safe base64 (google-genai sends the URL-safe alphabet)."""
    return base64.b64decode(data.replace("-", "+").replace("_", "/"))


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None
    raw: bytes

    @property
    def kind(self) -> str:
        return "gemini" if GEMINI_PATH.match(self.path) else "openai"

    @property
    def model(self) -> str | None:
        match = GEMINI_PATH.match(self.path)
        if match:
            return match.group("model")
        return (self.body or {}).get("model") or self.form().get("model")

    def form(self) -> dict[str, Any]:
        """A multipart/form-data body (OpenAI images/edits): field -> text, or (filename, bytes) for files;
        a repeated field (`image[]`) -> a list."""
        ctype = self.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return {}
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            filename = part.get_filename()
            value = (filename, payload) if filename else payload.decode()
            if name in fields:
                fields[name] = [*fields[name], value] if isinstance(fields[name], list) else [fields[name], value]
            else:
                fields[name] = value
        return fields

    def text(self) -> str:
        """All text parts of the request, joined."""
        if self.kind == "gemini":
            parts = [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
            return "\n".join(p["text"] for p in parts if "text" in p)
        texts = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            else:
                texts += [c["text"] for c in content if c.get("type") == "text"]
        return "\n".join(texts)

    def images(self) -> list[bytes]:
        """Decoded image bytes in the order they were sent."""
        if self.kind == "gemini":
            parts = [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
            inline = [p.get("inlineData") or p.get("inline_data") for p in parts]
            return [_b64(i["data"]) for i in inline if i]
        out = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            for c in content if isinstance(content, list) else []:
                if c.get("type") == "image_url":
                    out.append(_b64(c["image_url"]["url"].split(",", 1)[1]))
        return out

    def image_mimes(self) -> list[str]:
        if self.kind == "gemini":
            parts = [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
            inline = [p.get("inlineData") or p.get("inline_data") for p in parts]
            return [i.get("mimeType") or i.get("mime_type") for i in inline if i]
        return [
            c["image_url"]["url"].split(";", 1)[0].removeprefix("data:")
            for m in self.body.get("messages", [])
            for c in (m.get("content") if isinstance(m.get("content"), list) else [])
            if c.get("type") == "image_url"
        ]


# ---- replies, rendered per wire format ---------------------------------------------------------


@dataclass
class Text:
    """A normal reply with this text; `finish` overrides the finish reason (gemini or openai spelling)."""

    text: str
    finish: str | None = None
    delay: float = 0.0
    tokens: tuple[int, int] | None = None  # (input, output): sent as usageMetadata / usage


@dataclass
class Blocked:
    """A safety block: Gemini promptFeedback.blockReason (or finishReason SAFETY); OpenAI content_filter."""

    via_finish: bool = False
    delay: float = 0.0


@dataclass
class Refusal:
    """OpenAI message.refusal."""

    text: str = "I'm sorry, I can't help with that."
    delay: float = 0.0


@dataclass
class Truncated:
    """Cut off by the token limit: Gemini MAX_TOKENS, OpenAI finish_reason length."""

    text: str
    delay: float = 0.0


@dataclass
class RateLimited:
    """HTTP 429 with an optional Retry-After header."""

    retry_after: float | str | None = None
    delay: float = 0.0
    retry_after_ms: float | None = None  # OpenAI's retry-after-ms header


@dataclass
class Raw:
    """Any status, body and headers, sent as-is (e.g. a 500, or a non-JSON body)."""

    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> sent verbatim
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Trickle:
    """A normal reply whose body is sent one byte every `interval` seconds (a slow-loris server):
    every read gets data in time, so only a deadline on the whole attempt ends it."""

    text: str
    interval: float = 0.2
    delay: float = 0.0


@dataclass
class ImageOut:
    """An image model's reply: Gemini an inline image part (with optional text), OpenAI `b64_json`."""

    png: bytes
    text: str | None = None
    tokens: tuple[int, int] | None = None  # (input, output): usageMetadata / usage
    revised_prompt: str | None = None
    delay: float = 0.0


@dataclass
class ImageRefused:
    """A refused image request: Gemini finishReason IMAGE_SAFETY with its message (or a blocked prompt
    with `prompt=True`); OpenAI HTTP 400 `moderation_blocked`."""

    reason: str = "the request was rejected by the safety system"
    prompt: bool = False
    delay: float = 0.0


Reply = Text | Blocked | Refusal | Truncated | RateLimited | Raw | Trickle | ImageOut | ImageRefused
Answerer = Callable[[Received], "Reply | str"]


def _gemini(reply: Reply, model: str | None) -> tuple[int, Any, dict[str, str]]:
    def candidate(text: str | None, finish: str) -> dict[str, Any]:
        content = {"role": "model", "parts": [{"text": text}] if text is not None else []}
        return {"candidates": [{"content": content, "finishReason": finish, "index": 0}], "modelVersion": model}

    if isinstance(reply, Trickle):
        return 200, candidate(reply.text, "STOP"), {}
    if isinstance(reply, Text):
        body = candidate(reply.text, reply.finish or "STOP")
        if reply.tokens is not None:
            body["usageMetadata"] = {"promptTokenCount": reply.tokens[0], "candidatesTokenCount": reply.tokens[1],
                                     "totalTokenCount": sum(reply.tokens)}
        return 200, body, {}
    if isinstance(reply, Truncated):
        return 200, candidate(reply.text, "MAX_TOKENS"), {}
    if isinstance(reply, Blocked):
        if reply.via_finish:
            return 200, candidate(None, "SAFETY"), {}
        return 200, {"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": model}, {}
    if isinstance(reply, Refusal):
        return 200, candidate(reply.text, "STOP"), {}
    if isinstance(reply, ImageOut):
        body = candidate(reply.text, "STOP")
        body["candidates"][0]["content"]["parts"].append(
            {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(reply.png).decode()}})
        body["responseId"] = "loopback-response"
        if reply.tokens is not None:
            body["usageMetadata"] = {"promptTokenCount": reply.tokens[0], "candidatesTokenCount": reply.tokens[1],
                                     "totalTokenCount": sum(reply.tokens)}
        return 200, body, {}
    if isinstance(reply, ImageRefused):
        if reply.prompt:
            return 200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": reply.reason},
                         "modelVersion": model}, {}
        body = candidate(None, "IMAGE_SAFETY")
        body["candidates"][0]["finishMessage"] = reply.reason
        return 200, body, {}
    return _common(reply)


def _openai_images(reply: Reply, model: str | None) -> tuple[int, Any, dict[str, str]]:
    """images/edits and images/generations: b64_json out, a 400 moderation_blocked for a refusal."""
    if isinstance(reply, ImageOut):
        body: dict[str, Any] = {"created": 0, "data": [{"b64_json": base64.b64encode(reply.png).decode(),
                                                        "revised_prompt": reply.revised_prompt}],
                                "size": "1024x1024", "quality": "medium", "output_format": "png"}
        if reply.tokens is not None:
            body["usage"] = {"input_tokens": reply.tokens[0], "output_tokens": reply.tokens[1],
                             "total_tokens": sum(reply.tokens),
                             "input_tokens_details": {"text_tokens": 10, "image_tokens": max(0, reply.tokens[0] - 10)}}
        return 200, body, {}
    if isinstance(reply, ImageRefused):
        return 400, {"error": {"code": "moderation_blocked", "message": reply.reason, "param": None,
                               "type": "image_generation_user_error"}}, {}
    return _common(reply)


def _openai(reply: Reply, model: str | None) -> tuple[int, Any, dict[str, str]]:
    def completion(content: str | None, finish: str, refusal: str | None = None) -> dict[str, Any]:
        message = {"role": "assistant", "content": content, "refusal": refusal}
        return {
            "id": "chatcmpl-loopback", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        }

    if isinstance(reply, Trickle):
        return 200, completion(reply.text, "stop"), {}
    if isinstance(reply, Text):
        body = completion(reply.text, reply.finish or "stop")
        if reply.tokens is not None:
            body["usage"] = {"prompt_tokens": reply.tokens[0], "completion_tokens": reply.tokens[1],
                             "total_tokens": sum(reply.tokens)}
        return 200, body, {}
    if isinstance(reply, Truncated):
        return 200, completion(reply.text, "length"), {}
    if isinstance(reply, Blocked):
        return 200, completion(None, "content_filter"), {}
    if isinstance(reply, Refusal):
        return 200, completion(None, "stop", refusal=reply.text), {}
    return _common(reply)


def _common(reply: Reply) -> tuple[int, Any, dict[str, str]]:
    if isinstance(reply, RateLimited):
        headers = {} if reply.retry_after is None else {"Retry-After": str(reply.retry_after)}
        if reply.retry_after_ms is not None:
            headers["retry-after-ms"] = str(reply.retry_after_ms)
        body = {"error": {"code": 429, "message": "rate limited (loopback)", "status": "RESOURCE_EXHAUSTED"}}
        return 429, body, headers
    assert isinstance(reply, Raw)
    return reply.status, reply.body, reply.headers


class _Server(ThreadingHTTPServer):
    """The listen backlog must hold every client that connects at once (32 in the concurrency bench);
    the default of 5 refuses connections under load."""

    request_queue_size = 256
    daemon_threads = True


class Loopback:
    """Threaded fake server; use as a context manager or call start()/stop()."""

    def __init__(self, answer: Answerer | None = None, *, latency: float = 0.0) -> None:
        self.answer = answer
        self.latency = latency
        self.requests: list[Received] = []
        # Model names GET /models/{name} knows (both wire formats); None: every name.
        self.known_models: set[str] | None = None
        self._script: deque[Reply | str] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        from support.loopback_batch import BatchServer

        self.batches = BatchServer(self)  # the batch endpoints (tests/support/loopback_batch.py)

    @property
    def url(self) -> str:
        """Base URL for Gemini (`--base-url`, GOOGLE_GEMINI_BASE_URL)."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """Base URL for the OpenAI SDK (`--base-url`, OPENAI_BASE_URL)."""
        return f"{self.url}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Queue replies used, in order, before falling back to `answer`."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def _next(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply = self._script.popleft() if self._script else None
        if reply is None:
            if self.answer is None:
                return Raw(501, {"error": {"code": 501, "message": "loopback: nothing scripted for this request"}})
            reply = self.answer(request)
        return Text(reply) if isinstance(reply, str) else reply

    def start(self) -> Loopback:
        server = _Server(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        server.request_queue_size = 256
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _model_info(owner: Loopback, model: str, gemini: bool) -> tuple[int, Any, dict[str, str]]:
    """GET /v1beta/models/{m} (Gemini) or /v1/models/{m} (OpenAI): the model, or 404 for an unknown one."""
    with owner._lock:
        owner.requests.append(Received("GET", f"/models/{model}", {}, None, b""))
    if owner.known_models is not None and model not in owner.known_models:
        status = "NOT_FOUND" if gemini else None
        return 404, {"error": {"code": 404, "message": f"models/{model} is not found", "status": status,
                               "type": "invalid_request_error"}}, {}
    if gemini:
        return 200, {"name": f"models/{model}", "displayName": model, "version": "loopback"}, {}
    return 200, {"id": model, "object": "model", "created": 0, "owned_by": "loopback"}, {}


def _handler(owner: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = None
            path = self.path.split("?", 1)[0]
            request = Received("POST", path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
            if owner.batches.handles(path):
                self._send(*owner.batches.handle(request))
                return
            if not (GEMINI_PATH.match(path) or OPENAI_PATH.match(path) or OPENAI_IMAGES_PATH.match(path)):
                self._send(404, {"error": {"code": 404, "message": f"loopback: no route {path}"}}, {})
                return
            reply = owner._next(request)
            time.sleep(owner.latency + reply.delay)
            render = _gemini if request.kind == "gemini" else _openai_images if OPENAI_IMAGES_PATH.match(path) else _openai
            status, payload, headers = render(reply, request.model)
            self._send(status, payload, headers, reply.interval if isinstance(reply, Trickle) else 0.0)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            request = Received("GET", path, {k.lower(): v for k, v in self.headers.items()}, None, b"")
            if owner.batches.handles(path):
                self._send(*owner.batches.handle(request))
                return
            if (match := MODEL_GET_PATH.match(path)) is not None:
                self._send(*_model_info(owner, match.group("model"), path.startswith("/v1beta")))
                return
            self._send(404, {"error": {"code": 404, "message": f"loopback: no route GET {path}"}}, {})

        def _send(self, status: int, payload: Any, headers: dict[str, str], interval: float = 0.0) -> None:
            if isinstance(payload, bytes):
                data = payload
            elif isinstance(payload, str):
                data = payload.encode()
            else:
                data = orjson.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not interval:
                    self.wfile.write(data)
                for i in range(len(data) if interval else 0):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(interval)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to deliver

    return Handler
