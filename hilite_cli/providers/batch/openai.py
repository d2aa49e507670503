"""OpenAI's Batch API through the openai SDK: a JSONL file (`files.create(purpose="batch")`) of
chat.completions requests, `batches.create`, `batches.retrieve`, then the output and error files.

Each line's `custom_id` is the request's cache key. The request body is exactly what a plain
request sends (`OpenAIProvider.request`), so a batch answer and a plain one share the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from hilite_cli.providers.batch.jobs import BadLine, BatchError, JobStatus, RawResult, problem, read_results_file
from hilite_cli.providers.errors import TransientError
from hilite_cli.providers.openai_chat import status_error_reason

if TYPE_CHECKING:
    from hilite_cli.providers.base import Ask
    from hilite_cli.providers.openai_chat import OpenAIProvider

ENDPOINT = "/v1/chat/completions"
STATES = {"completed": "succeeded", "failed": "failed", "expired": "expired", "cancelled": "cancelled"}


class OpenAIBatches:
    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider

    def _sdk(self, step: Callable[[], Any]) -> Any:
        import openai

        try:
            return step()
        except openai.APITimeoutError:
            raise TransientError("timeout", "no reply from the batch endpoint") from None
        except openai.APIConnectionError as exc:
            raise TransientError("http_error", f"connection failed: {exc.message}") from None
        except openai.APIStatusError as exc:
            raise BatchError(status_error_reason(exc)) from None

    def submit(self, items: list[tuple[str, Ask]]) -> str:
        client = self.provider._client_once()
        lines = b"".join(
            orjson.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": self.provider.request(ask)}) + b"\n"
            for key, ask in items
        )
        uploaded = self._sdk(lambda: client.files.create(file=("hilite-batch.jsonl", lines), purpose="batch"))
        batch = self._sdk(lambda: client.batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", metadata={"tool": "hilite"}
        ))
        return batch.id

    def poll(self, job: str) -> JobStatus:
        batch = self._sdk(lambda: self.provider._client_once().batches.retrieve(job))
        counts = batch.request_counts
        detail = f"{batch.status}, {counts.completed}/{counts.total} done, {counts.failed} failed" if counts else batch.status
        if batch.errors is not None and batch.errors.data:
            detail += "; " + "; ".join(f"{e.code}: {e.message}" for e in batch.errors.data)
        return JobStatus(STATES.get(batch.status, "running"), detail)  # type: ignore[arg-type]

    def results(self, job: str) -> dict[str, RawResult]:
        from openai.types.chat import ChatCompletion

        client = self.provider._client_once()
        batch = self._sdk(lambda: client.batches.retrieve(job))
        out: dict[str, RawResult] = {}
        for file_id in (batch.error_file_id, batch.output_file_id):  # output last: it wins on a repeated id
            if not file_id:
                continue
            data = self._sdk(lambda file_id=file_id: client.files.content(file_id).content)
            read_results_file(job, data, "custom_id", lambda item, line: _result(item, ChatCompletion), into=out)
        return out


def _result(item: dict[str, Any], completion_type: Any) -> RawResult:
    """One line of an output or error file; a 200 whose body is not a chat completion is a broken reply."""
    response = item.get("response") or {}
    if not isinstance(response, dict):
        raise BadLine("the line's `response` is not a JSON object")
    status = response.get("status_code")
    if item.get("error") and status is None:
        error = item["error"] if isinstance(item["error"], dict) else {"message": item["error"]}
        return RawResult(error=f"request failed: {error.get('code')}: {error.get('message')}", transient=True)
    if status == 200:
        body = orjson.dumps(response.get("body")).decode()
        try:
            return RawResult(response=completion_type.model_validate(response.get("body")), body=body)
        except ValidationError as exc:
            return RawResult(broken=problem(exc), body=body)
    body = response.get("body") or {}
    message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
    transient = not isinstance(status, int) or status == 429 or status >= 500
    return RawResult(error=f"request failed: HTTP {status}: {message or body}", transient=transient)
