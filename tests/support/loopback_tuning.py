"""A fake Vertex AI on 127.0.0.1: tuning jobs (create, get, list), generateContent, and an OAuth token URL.

It speaks the wire format google-genai uses with `vertexai=True` (`POST /v1beta1/projects/P/locations/
L/tuningJobs`, `GET …/tuningJobs/N`, `GET …/tuningJobs`, `POST …/{model}:generateContent`), and the
token endpoint a service-account key's `token_uri` points at, so the real SDK and google-auth run
unchanged. A job stays JOB_STATE_RUNNING until `finish` names its final state.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JOBS = re.compile(r"^/v1beta1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/tuningJobs(?:/(?P<id>\d+))?$")
GENERATE = re.compile(r"^/v1beta1/(?P<model>.+):generateContent$")


class VertexLoopback:
    def __init__(self, answer: str = '{"InstructionAdherence": 4.5, "ImageAesthetic": 4.0}') -> None:
        self.answer = answer
        self.jobs: dict[str, dict[str, Any]] = {}
        self.creates: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.final_state: str | None = None  # set to end every job: JOB_STATE_SUCCEEDED, …_FAILED, …_CANCELLED
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> VertexLoopback:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_job(self, project: str, location: str, display_name: str) -> str:
        with self._lock:
            name = f"projects/{project}/locations/{location}/tuningJobs/{len(self.jobs) + 1}"
            self.jobs[name] = {"name": name, "state": "JOB_STATE_RUNNING", "tunedModelDisplayName": display_name,
                               "baseModel": "gemini-2.0-flash-001"}
            return name

    def _job(self, name: str) -> dict[str, Any]:
        job = dict(self.jobs[name])
        if self.final_state:
            job["state"] = self.final_state
            base = name.split("/tuningJobs/")[0]
            if self.final_state == "JOB_STATE_SUCCEEDED":
                job["tunedModel"] = {"model": f"{base}/models/9", "endpoint": f"{base}/endpoints/7"}
            else:
                job["error"] = {"code": 3, "message": "training data has a malformed line"}
        return job

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        loop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return raw.decode()

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                loop.requests.append(("GET", path, dict(self.headers)))
                match = JOBS.match(path)
                if match and match.group("id"):
                    name = path.removeprefix("/v1beta1/")
                    return self._send(loop._job(name)) if name in loop.jobs else self._send({"error": {}}, 404)
                if match:
                    return self._send({"tuningJobs": [loop._job(n) for n in loop.jobs]})
                self._send({"error": {"message": "not found"}}, 404)

            def do_POST(self) -> None:
                path = self.path.split("?")[0]
                body = self._body()
                loop.requests.append(("POST", path, dict(self.headers)))
                if path == "/token":
                    return self._send({"access_token": "loopback-token", "expires_in": 3600, "token_type": "Bearer"})
                match = JOBS.match(path)
                if match:
                    loop.creates.append(body)
                    name = loop.add_job(match.group("p"), match.group("l"), body.get("tunedModelDisplayName", ""))
                    return self._send(loop._job(name) | {"state": "JOB_STATE_PENDING"})
                if GENERATE.match(path):
                    return self._send({"candidates": [{"content": {"role": "model", "parts": [{"text": loop.answer}]},
                                                       "finishReason": "STOP"}]})
                self._send({"error": {"message": "not found"}}, 404)

        return Handler


def service_account_key(folder: Path, token_uri: str) -> Path:
    """A service-account key file whose token URL is the loopback's: google-auth signs and exchanges it for real."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = folder / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "proj", "private_key_id": "k1", "private_key": pem,
        "client_email": "tuner@proj.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }))
    return path
