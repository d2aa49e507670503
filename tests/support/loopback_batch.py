"""The batch endpoints of the loopback server: Gemini batch mode and the OpenAI Batch API.

Gemini (google-genai `client.batches` / `client.files`):
    POST /v1beta/models/{m}:batchGenerateContent     create (inline requests or an uploaded file)
    GET  /v1beta/batches/{id}                        poll; results inline or as a responses file
    POST /upload/v1beta/files, then the upload URL   resumable upload of a JSONL requests file
    GET  /v1beta/files/{id}:download?alt=media       a responses file
OpenAI (openai `client.files` / `client.batches`):
    POST /v1/files (multipart), POST /v1/batches, GET /v1/batches/{id}, GET /v1/files/{id}/content

Each inner request is answered like a plain one (the owner's script, then its answer callable), so
per-request failures are scripted the usual way. How a job ends is planned per job:

    server.batches.plan(Plan(outcome="expired", answered=1))   # the next job expires after 1 answer
    server.batches.creates                                     # how many jobs were created
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from support.loopback import Loopback, Received

GEMINI_CREATE = re.compile(r"^/(v1beta|v1)/models/(?P<model>[^/:]+):batchGenerateContent$")
GEMINI_GET = re.compile(r"^/(v1beta|v1)/batches/(?P<id>[^/:]+)$")
GEMINI_UPLOAD_START = re.compile(r"^/upload/(v1beta|v1)/files$")
GEMINI_UPLOAD = re.compile(r"^/upload/(v1beta|v1)/files/uploads/(?P<id>\d+)$")
GEMINI_DOWNLOAD = re.compile(r"^/(v1beta|v1)/files/(?P<id>[^/:]+):download$")
OPENAI_FILES = re.compile(r"^(/v1)?/files$")
OPENAI_CONTENT = re.compile(r"^(/v1)?/files/(?P<id>[^/]+)/content$")
OPENAI_BATCHES = re.compile(r"^(/v1)?/batches$")
OPENAI_BATCH = re.compile(r"^(/v1)?/batches/(?P<id>[^/]+)$")

GEMINI_STATES = {"running": "BATCH_STATE_RUNNING", "succeeded": "BATCH_STATE_SUCCEEDED",
                 "failed": "BATCH_STATE_FAILED", "expired": "BATCH_STATE_EXPIRED", "cancelled": "BATCH_STATE_CANCELLED"}
OPENAI_STATES = {"running": "in_progress", "succeeded": "completed", "failed": "failed", "expired": "expired",
                 "cancelled": "cancelled"}

Response = tuple[int, Any, dict[str, str]]


@dataclass
class Plan:
    """How the next job ends: after `polls` status reads, in `outcome`, having answered `answered`
    requests (None: all of them when it succeeds, none otherwise)."""

    outcome: str = "succeeded"
    polls: int = 1
    answered: int | None = None
    rewrite: Callable[[bytes], bytes] | None = None  # edits a results file as served (a torn or foreign line)


@dataclass
class Job:
    id: str
    kind: str
    model: str | None
    keys: list[str]
    requests: list[Any]
    via_file: bool
    plan: Plan
    polls: int = 0
    results: list[tuple[str, int, Any]] = field(default_factory=list)  # (key, HTTP status, payload)

    @property
    def state(self) -> str:
        return self.plan.outcome if self.polls >= self.plan.polls else "running"


class BatchServer:
    """Server-side state of files and batch jobs, for both wire formats."""

    def __init__(self, owner: Loopback) -> None:
        self.owner = owner
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, Job] = {}
        self.calls: list[tuple[str, str]] = []  # (method, path) of every batch-endpoint request
        self._plans: deque[Plan] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def plan(self, *plans: Plan) -> None:
        """Queue how the next jobs end (default: succeed after one poll)."""
        self._plans.extend(plans)

    @property
    def creates(self) -> int:
        return sum(1 for method, path in self.calls if method == "POST" and (
            GEMINI_CREATE.match(path) or OPENAI_BATCHES.match(path)))

    def handles(self, path: str) -> bool:
        return any(p.match(path) for p in (GEMINI_CREATE, GEMINI_GET, GEMINI_UPLOAD_START, GEMINI_UPLOAD,
                                           GEMINI_DOWNLOAD, OPENAI_FILES, OPENAI_CONTENT, OPENAI_BATCHES, OPENAI_BATCH))

    def handle(self, request: Received) -> Response:
        with self._lock:
            self.calls.append((request.method, request.path))
            return self._route(request)

    def _route(self, request: Received) -> Response:
        path, post = request.path, request.method == "POST"
        if post and (m := GEMINI_CREATE.match(path)):
            return self._gemini_create(m.group("model"), request.body)
        if not post and (m := GEMINI_GET.match(path)) and not m.group("id").startswith("batch_"):
            return self._gemini_job(m.group("id"))  # OpenAI's ids start with batch_, on the same /v1/batches path
        if post and GEMINI_UPLOAD_START.match(path):
            upload = str(next(self._ids))
            return 200, {}, {"X-Goog-Upload-URL": f"{self.owner.url}/upload/v1beta/files/uploads/{upload}"}
        if post and (m := GEMINI_UPLOAD.match(path)):
            name = f"files/up{m.group('id')}"
            self.files[name] = request.raw
            file = {"name": name, "mimeType": "jsonl", "sizeBytes": str(len(request.raw)), "state": "ACTIVE"}
            return 200, {"file": file}, {"X-Goog-Upload-Status": "final"}
        if not post and (m := GEMINI_DOWNLOAD.match(path)):
            data = self.files.get(f"files/{m.group('id')}")
            return (200, data, {}) if data is not None else _not_found(path)
        if post and OPENAI_FILES.match(path):
            return self._openai_upload(request)
        if post and OPENAI_BATCHES.match(path):
            return self._openai_create(request.body)
        if not post and (m := OPENAI_CONTENT.match(path)):
            data = self.files.get(m.group("id"))
            return (200, data, {}) if data is not None else _not_found(path)
        if not post and (m := OPENAI_BATCH.match(path)):
            return self._openai_job(m.group("id"))
        return _not_found(path)

    # -- shared --------------------------------------------------------------------------------------
    def _new_job(self, kind: str, model: str | None, keyed: list[tuple[str, Any]], via_file: bool) -> Job:
        job = Job(f"{'batch_' if kind == 'openai' else ''}b{next(self._ids)}", kind, model, [k for k, _ in keyed],
                  [r for _, r in keyed], via_file, self._plans.popleft() if self._plans else Plan())
        answered = job.plan.answered
        if answered is None:
            answered = len(keyed) if job.plan.outcome == "succeeded" else 0
        for key, body in keyed[:answered]:
            job.results.append((key, *self._answer(kind, model, body)))
        self.jobs[job.id] = job
        return job

    def _answer(self, kind: str, model: str | None, body: Any) -> tuple[int, Any]:
        from support.loopback import Received, _gemini, _openai

        path = f"/v1beta/models/{model}:generateContent" if kind == "gemini" else "/v1/chat/completions"
        inner = Received("POST", path, {}, body, orjson.dumps(body))
        reply = self.owner._next(inner)
        status, payload, _ = (_gemini if kind == "gemini" else _openai)(reply, model)
        return status, payload

    # -- Gemini --------------------------------------------------------------------------------------
    def _gemini_create(self, model: str, body: Any) -> Response:
        source = body["batch"]["inputConfig"]
        if "fileName" in source:
            lines = [orjson.loads(line) for line in self.files[source["fileName"]].splitlines() if line.strip()]
            keyed = [(line["key"], line["request"]) for line in lines]
            via_file = True
        else:
            keyed = [(item.get("metadata", {}).get("key", ""), item["request"]) for item in source["requests"]["requests"]]
            via_file = False
        job = self._new_job("gemini", model, keyed, via_file)
        return 200, self._gemini_body(job), {}

    def _gemini_job(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _not_found(job_id)
        job.polls += 1
        return 200, self._gemini_body(job), {}

    def _gemini_body(self, job: Job) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": f"models/{job.model}", "state": GEMINI_STATES[job.state],
            "batchStats": {"requestCount": str(len(job.keys))},
        }
        if job.state == "succeeded":
            items = [self._gemini_item(key, status, payload) for key, status, payload in job.results]
            if job.via_file:
                name = f"files/out-{job.id}"
                data = b"".join(orjson.dumps({"key": i.pop("metadata")["key"], **i}) + b"\n" for i in items)
                self.files[name] = job.plan.rewrite(data) if job.plan.rewrite else data
                metadata["output"] = {"responsesFile": name}
            else:
                metadata["output"] = {"inlinedResponses": {"inlinedResponses": items}}
        return {"name": f"batches/{job.id}", "metadata": metadata, "done": job.state != "running"}

    @staticmethod
    def _gemini_item(key: str, status: int, payload: Any) -> dict[str, Any]:
        if status == 200:
            return {"response": payload, "metadata": {"key": key}}
        message = (payload or {}).get("error", {}).get("message", "error") if isinstance(payload, dict) else str(payload)
        return {"error": {"code": status, "message": message}, "metadata": {"key": key}}

    # -- OpenAI --------------------------------------------------------------------------------------
    def _openai_upload(self, request: Received) -> Response:
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=email_policy).parsebytes(head + request.raw)
        data, filename, purpose = b"", "upload.jsonl", "batch"
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                data = part.get_payload(decode=True)
                filename = part.get_filename() or filename
            elif name == "purpose":
                purpose = part.get_content().strip()
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = data
        return 200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0, "filename": filename,
                     "purpose": purpose, "status": "processed"}, {}

    def _openai_create(self, body: Any) -> Response:
        lines = [orjson.loads(line) for line in self.files[body["input_file_id"]].splitlines() if line.strip()]
        job = self._new_job("openai", lines[0]["body"].get("model") if lines else None,
                            [(line["custom_id"], line["body"]) for line in lines], True)
        job.requests = [body["input_file_id"]]
        return 200, self._openai_body(job), {}

    def _openai_job(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"message": f"no batch {job_id}", "type": "invalid_request_error"}}, {}
        job.polls += 1
        return 200, self._openai_body(job), {}

    def _openai_body(self, job: Job) -> dict[str, Any]:
        state = job.state
        body: dict[str, Any] = {
            "id": job.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
            "input_file_id": job.requests[0] if job.requests else "", "completion_window": "24h",
            "status": OPENAI_STATES[state], "output_file_id": None, "error_file_id": None, "created_at": 0,
            "request_counts": {"total": len(job.keys), "completed": 0, "failed": 0}, "metadata": {"tool": "hilite"},
        }
        if state == "running":
            return body
        if state == "failed":
            body["errors"] = {"object": "list", "data": [{"code": "invalid_file", "message": "loopback: planned failure"}]}
            return body
        good, bad = [], []
        answered = {key for key, _, _ in job.results}
        for n, (key, status, payload) in enumerate(job.results):
            line = {"id": f"batch_req_{n}", "custom_id": key, "error": None,
                    "response": {"status_code": status, "request_id": f"req_{n}", "body": payload}}
            (good if status == 200 else bad).append(line)
        for key in job.keys:
            if key not in answered:
                bad.append({"id": f"batch_req_{key[:8]}", "custom_id": key, "response": None,
                            "error": {"code": "batch_expired", "message": "not executed before the window expired"}})
        for name, lines in (("output_file_id", good), ("error_file_id", bad)):
            if lines:
                file_id = f"file-{name[:3]}-{job.id}"
                data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
                self.files[file_id] = job.plan.rewrite(data) if job.plan.rewrite and name == "output_file_id" else data
                body[name] = file_id
        body["request_counts"] = {"total": len(job.keys), "completed": len(good), "failed": len(bad)}
        return body


def _not_found(what: str) -> Response:
    return 404, {"error": {"code": 404, "message": f"loopback: no batch resource {what}", "status": "NOT_FOUND"}}, {}
